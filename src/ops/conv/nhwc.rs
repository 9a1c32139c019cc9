//! The subgroup convolution on re-laid operands (`Variant::Subgroup` where every channel count
//! is a multiple of 4 and the kernel is larger than 1×1: all of ResNet18's 3×3 convolutions but
//! the stem). `conv_subgroup_nhwc.wgsl` (forward, input gradient) and
//! `conv_subgroup_wgrad_nhwc.wgsl` read every operand as vec4 runs along the contraction, as
//! the matmul kernel does, where the NCHW kernels gather the patches one float at a time, and
//! their tiles are 64 rows tall, so each loaded float feeds twice the FMAs (lavapipe pays per
//! loaded float: ARCHITECTURE.md). The tensors stay NCHW outside: each call makes its NHWC and
//! tap-major copies with one batched-transpose pass each (`conv_layout.wgsl`); BENCHMARKS.md
//! (issue 24 item 3) has what that costs and gains.

use super::{Geom, sum_partials};
use crate::gpu::{self, Dispatch, profile};
use crate::shader;
use crate::tensor::Tensor;
use anyhow::Result;

/// Whether the re-laid kernels apply: every channel count a multiple of 4 (the vec4 runs), and
/// a kernel larger than 1×1 (a 1×1 convolution reads each input value once per 32 output
/// channels, so the copy costs as much as the loads it saves: 3.5× slower when measured).
pub(super) fn applies(g: &Geom) -> bool {
    g.cin.is_multiple_of(4) && g.cout.is_multiple_of(4) && g.kh * g.kw > 1
}

/// dst[b, c, r] = src[b, r, c] for src viewed as [nb, r, c].
fn swap_last2(src: &Tensor, nb: usize, r: usize, c: usize) -> Result<Tensor> {
    let dst = Tensor::empty(&[nb, c, r])?;
    // The caller's FLOP note is for its convolution's launch (`fastshap profile`), not this copy.
    profile::note_flops(0.0);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    super::launch(
        &shader!("conv_layout"),
        "swap_last2",
        &[
            ("VIN", flag(c.is_multiple_of(4))),
            ("VOUT", flag(r.is_multiple_of(4))),
        ],
        &[nb, r, c].map(|v| v as u32),
        &[src.bind_vec4(), dst.bind_vec4()],
        nb * r.div_ceil(4) * c.div_ceil(4),
        64,
    )?;
    Ok(dst)
}

/// [B, C, H, W] → [B, H, W, C].
fn to_nhwc(x: &Tensor) -> Result<Tensor> {
    let s = x.shape();
    swap_last2(x, s[0], s[1], s[2] * s[3])
}

/// The weight [Cout, Cin, kh, kw] as [kh·kw, Cout, Cin], the layout both the forward and the
/// transposed convolution read as vec4 runs (along Cin and along Cout respectively).
fn taps_first(w: &Tensor, g: &Geom) -> Result<Tensor> {
    swap_last2(w, 1, g.cout * g.cin, g.kh * g.kw)
}

/// y = conv(x, w) + bias (ReLU'd as stored when `relu`).
pub(super) fn forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    y: &Tensor,
    g: &Geom,
    relu: bool,
) -> Result<()> {
    let (xt, wt) = (to_nhwc(x)?, taps_first(w, g)?);
    let mut params = g.params(bias.is_some());
    params.extend([0, 0, g.ho as u32, g.wo as u32]);
    let bias_bind = bias.unwrap_or(w).bind();
    let binds = [xt.bind_vec4(), wt.bind_vec4(), bias_bind, y.bind()];
    profile::note_flops(g.flops());
    launch(g, g.ho * g.wo, (false, relu), &params, &binds)
}

/// dx, one launch per stride phase (as `super::input_grad_sg`), on NHWC dy.
pub(super) fn input_grad(dy: &Tensor, w: &Tensor, dx: &Tensor, g: &Geom) -> Result<()> {
    let (dyt, wt) = (to_nhwc(dy)?, taps_first(w, g)?);
    profile::note_flops(g.flops());
    super::phases(g, |t, plane, params| {
        let binds = [dyt.bind_vec4(), wt.bind_vec4(), wt.bind(), dx.bind()];
        launch(t, plane, (true, false), params, &binds)
    })
}

/// Rows of a workgroup's tile in both kernels here: pixels (forward, input gradient) or output
/// channels (weight gradient); the columns are 32 channels or patch columns.
const TILE_M: usize = 64;

/// `conv_subgroup_nhwc.wgsl` over `plane` output pixels per image, as `super::launch_sg`.
fn launch(
    g: &Geom,
    plane: usize,
    (transposed, relu): (bool, bool),
    params: &[u32],
    bindings: &[gpu::Binding],
) -> Result<()> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    gpu::ctx().dispatch(Dispatch {
        shader: &shader!("conv_subgroup_nhwc", "_fma8"),
        entry: "conv_nhwc_sg",
        constants: &[("TRANSPOSED", flag(transposed)), ("RELU", flag(relu))],
        params,
        bindings,
        workgroups: gpu::grid((g.b * plane).div_ceil(TILE_M) * g.cout.div_ceil(32), 1),
    })
}

/// Whether the weight gradient's vec4 dy runs exist: 4 pixels of a step stay in one image.
pub(super) fn wgrad_applies(g: &Geom) -> bool {
    applies(g) && (g.ho * g.wo).is_multiple_of(4)
}

/// dW as [Cout, Cin, kh, kw] from split partials over chunks of `chunk` pixels (a multiple of 4).
pub(super) fn weight_grad(
    dy: &Tensor,
    x: &Tensor,
    g: &Geom,
    chunk: usize,
    w_shape: &[usize],
) -> Result<Tensor> {
    let m = g.b * g.ho * g.wo;
    let nsplit = m.div_ceil(chunk);
    let ksz = g.ksz();
    let partial = Tensor::empty(&[nsplit, g.cout * ksz])?;
    let xt = to_nhwc(x)?;
    let mut params = g.params(false);
    params.extend([chunk as u32, nsplit as u32]);
    profile::note_flops(g.flops());
    gpu::ctx().dispatch(Dispatch {
        shader: &shader!("conv_subgroup_wgrad_nhwc", "_fma8"),
        entry: "conv_wgrad_sg_nhwc",
        constants: &[],
        params: &params,
        bindings: &[dy.bind_vec4(), xt.bind_vec4(), partial.bind()],
        workgroups: gpu::grid(g.cout.div_ceil(TILE_M) * ksz.div_ceil(32) * nsplit, 1),
    })?;
    // [Cout, kh·kw, Cin] → [Cout, Cin, kh·kw].
    let dw = sum_partials(partial, &[g.cout * ksz])?;
    swap_last2(&dw, g.cout, g.kh * g.kw, g.cin)?.reshape(w_shape)
}
