//! Ops, one module per kernel family. Each module launches its WGSL from `shaders/` and defines
//! every op's backward rule right beside its forward.

pub mod attention;
pub mod conv;
pub mod divisor;
pub mod dropout;
pub mod elementwise;
pub mod fused;
pub mod loss;
pub mod masking;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod plumbing;
pub mod pool;
pub mod reduce;
pub mod rows;
pub mod softmax;
pub mod softmax_pool;
pub mod variant;

use crate::gpu::{self, Binding, Dispatch, Shader};
use anyhow::Result;

/// Launches `entry` of `shader` over a 1-D grid of `n` invocations of `wg` threads.
pub fn launch(
    shader: &Shader,
    entry: &'static str,
    constants: &[(&'static str, f64)],
    params: &[u32],
    bindings: &[Binding<'_>],
    n: usize,
    wg: u32,
) -> Result<()> {
    gpu::ctx().dispatch(Dispatch {
        shader,
        entry,
        constants,
        params,
        bindings,
        workgroups: gpu::grid(n, wg),
    })
}
