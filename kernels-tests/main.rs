//! Kernel tests: every kernel against a CPU reference, every differentiable op against finite
//! differences, through one helper (`helper::check_op`). One file per op family.

mod helper;

mod attention;
mod conv;
mod divisor;
mod dropout;
mod elementwise;
mod fused;
mod learning;
mod loss;
mod masking;
mod matmul;
mod norm;
mod optim;
mod plumbing;
mod pool;
mod reduce;
mod softmax;
mod softmax_pool;
