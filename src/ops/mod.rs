//! Ops, one module per kernel family. Each module launches its WGSL from `shaders/` and defines
//! every op's backward rule right beside its forward.

pub mod attention;
pub mod conv;
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
pub mod rows_gpu;
pub mod softmax;
pub mod softmax_pool;

use crate::gpu::{self, Binding, Dispatch, Shader};
use anyhow::Result;

/// Workgroups for `n` invocations of `wg` threads; past 65,535 groups the grid folds into y.
/// Kernels recover the linear index as `gid.x + gid.y * num_workgroups.x * wg`.
pub fn grid(n: usize, wg: u32) -> [u32; 3] {
    let groups = n.div_ceil(wg as usize).max(1);
    if groups <= 65_535 {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(65_535);
        [groups.div_ceil(y) as u32, y as u32, 1]
    }
}

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
        workgroups: grid(n, wg),
    })
}
