//! Kernel tests: every kernel against a CPU reference, every differentiable op against finite
//! differences, through one helper (`helper::check_op`). One file per op family.

mod helper;

mod elementwise;
mod reduce;
mod softmax;
