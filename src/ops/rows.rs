//! The last-axis row kernels: softmax (softmax.rs), LayerNorm (norm.rs) and row sums
//! (reduce.rs). Each op launches its own barrier-free kernel, one row per invocation, for the
//! CPU class; LayerNorm's [`subgroup`] variant keeps that layout and shares the loads all lanes
//! make alike (its weights; softmax and sums have none). On the tiled variant the
//! workgroup-per-row kernels of [`tiled`], which share one shader.

pub mod subgroup;
pub mod tiled;
