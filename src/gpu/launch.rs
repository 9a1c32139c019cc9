//! What launches need below the tape: the 1-D grid every family folds its invocations into, and
//! a raw buffer fill. Creating a tensor (zeros, NaN poisoning in tests) and injecting a NaN
//! fault must not record an op, and they sit below `ops`, so the fill lives here.

use super::{Binding, Dispatch, ctx};
use crate::shader;
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

/// Sets the first `numel` values of `target` to `v` (four per invocation: `target` must be
/// bound as whole vec4s), in stream order, recording nothing.
pub fn fill(target: Binding<'_>, numel: usize, v: f32) -> Result<()> {
    let n4 = numel.div_ceil(4);
    ctx().dispatch(Dispatch {
        shader: &shader!("fill"),
        entry: "fill",
        constants: &[],
        params: &[n4 as u32, v.to_bits()],
        bindings: &[target],
        workgroups: grid(n4, 256),
    })
}
