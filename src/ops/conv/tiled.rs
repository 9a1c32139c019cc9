//! The tiled variant of conv2d (`Variant::Tiled`, the GPU class): shared-memory tiled implicit GEMMs
//! (`shaders/conv_gpu.wgsl`, `shaders/conv_gpu_bwd.wgsl`) for adapters where a
//! `workgroupBarrier` is cheap. Same shapes, semantics and outputs as the barrier-free kernels in
//! the parent module, which matches the variant; the shaders explain the tiling.

use super::Geom;
use crate::gpu::{self, Dispatch};
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// Output tile edge (pixels and channels) of every kernel here.
const TILE: usize = 64;

/// A grid of `tiles` 64-pixel tiles folded into x, y past 65,535 (as `gpu::grid` does), with
/// `z` layers.
fn fold(tiles: usize, z: usize, what: &str) -> Result<[u32; 3]> {
    if z > 65_535 {
        bail!("conv2d ({what}): {z} workgroup layers exceed the grid's 65,535");
    }
    let [x, y, _] = crate::gpu::grid(tiles.max(1), 1);
    Ok([x, y, z as u32])
}

/// y = conv(x, w) + bias on the tiled kernel; `bias_bind` is any buffer when `has_bias` is off.
pub(super) fn forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
    g: &Geom,
) -> Result<()> {
    let tiles = (g.b * g.ho * g.wo).div_ceil(TILE);
    let bias_bind = bias.unwrap_or(w).bind();
    gpu::ctx().dispatch(Dispatch {
        shader: &shader!("conv_gpu"),
        entry: "conv_gpu_fwd",
        constants: &[("KH", g.kh as f64), ("KW", g.kw as f64)],
        params: &g.params(bias.is_some()),
        bindings: &[x.bind(), w.bind(), bias_bind, y.bind()],
        workgroups: fold(tiles, g.cout.div_ceil(TILE), "forward")?,
    })
}

/// dx from dy and w: one launch covering every stride phase (see the shader).
pub(super) fn input_grad(dy: &Tensor, w: &Tensor, dx: &Tensor, g: &Geom) -> Result<()> {
    // The largest phase (py = px = 0) has ⌈H/s⌉·⌈W/s⌉ pixels per image.
    let tiles = (g.b * g.h.div_ceil(g.stride) * g.w.div_ceil(g.stride)).div_ceil(TILE);
    let layers = g.cin.div_ceil(TILE) * g.stride * g.stride;
    gpu::ctx().dispatch(Dispatch {
        shader: &shader!("conv_gpu_bwd"),
        entry: "conv_gpu_bwd_input",
        constants: &[],
        params: &g.params(false),
        bindings: &[dy.bind(), w.bind(), dx.bind()],
        workgroups: fold(tiles, layers, "input gradient")?,
    })
}

/// Pixels per split of the weight gradient's sum: enough splits that ~512 workgroups run (a few
/// per multiprocessor on a large GPU), chunks of at least 256 pixels (16 tile steps) so the
/// partials stay small next to the work, and at most 2²⁰ so the loop stays far below the
/// 65,536 iterations llvmpipe runs.
pub(super) fn weight_chunk(g: &Geom) -> usize {
    let m = g.b * g.ho * g.wo;
    let tiles = g.cout.div_ceil(TILE) * g.ksz().div_ceil(TILE);
    let want = 512usize.div_ceil(tiles).max(1);
    m.div_ceil(want)
        .next_multiple_of(16)
        .clamp(256, 1 << 20)
        .min(m.next_multiple_of(16))
}

/// Partial weight gradients [nsplit, Cout·Cin·kh·kw] of pixel chunks of `chunk` (a multiple of 16).
pub(super) fn weight_grad_partials(
    dy: &Tensor,
    x: &Tensor,
    g: &Geom,
    chunk: usize,
) -> Result<Tensor> {
    let nsplit = (g.b * g.ho * g.wo).div_ceil(chunk);
    let partial = Tensor::empty(&[nsplit, g.cout * g.ksz()])?;
    let mut params = g.params(false);
    params.extend([chunk as u32, nsplit as u32]);
    if g.ksz().div_ceil(TILE) > 65_535 || g.cout.div_ceil(TILE) > 65_535 || nsplit > 65_535 {
        bail!(
            "conv2d weight gradient: weight {:?} is too large for the grid",
            g
        );
    }
    gpu::ctx().dispatch(Dispatch {
        shader: &shader!("conv_gpu_bwd"),
        entry: "conv_gpu_bwd_weight",
        constants: &[],
        params: &params,
        bindings: &[dy.bind(), x.bind(), partial.bind()],
        workgroups: [
            g.ksz().div_ceil(TILE) as u32,
            g.cout.div_ceil(TILE) as u32,
            nsplit as u32,
        ],
    })?;
    Ok(partial)
}
