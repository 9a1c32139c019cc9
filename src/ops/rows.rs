//! The last-axis row kernels: softmax (softmax.rs), LayerNorm (norm.rs) and row sums
//! (reduce.rs). Each op launches its own barrier-free kernel, one row per invocation, for the
//! CPU class (no subgroup variant: a row's loads are not shared between lanes), and on the
//! tiled variant the workgroup-per-row kernels of [`tiled`], which share one shader.

pub mod tiled;
