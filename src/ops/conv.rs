//! 2-D convolution, NCHW, PyTorch weight layout [Cout, Cin, kh, kw], any kernel size, square
//! stride and zero padding (dilation 1, groups 1), with backward for input, weight and bias.
//!
//! Approach: **implicit GEMM, barrier-free register blocks** (`shaders/conv.wgsl`,
//! `shaders/conv_bwd.wgsl`). The forward is the GEMM M = B·Ho·Wo, N = Cout, K = Cin·kh·kw with
//! the input patch gathered on the fly (no im2col buffer: for ResNet18 at batch 128 that buffer
//! would be 9× the activation). Each invocation computes 4 output channels × 4 pixels in
//! registers, so every gathered input value feeds 4 FMAs and every weight 4 more, and it needs
//! no workgroup memory — hence no `workgroupBarrier`, which lavapipe (our CI adapter) executes at
//! ~µs each. A direct convolution (one output per invocation) reloads every operand per FMA.
//! On `KernelClass::Gpu` adapters the three GEMMs run as shared-memory tiled kernels instead
//! (`tiled.rs`, `shaders/conv_gpu*.wgsl`); both families are correct everywhere and tested on both.
//! The CPU subgroup kernels run 3×3 convolutions with channels in 4s on NHWC copies of the
//! activations instead (`nhwc.rs`: vec4 loads, 64-row tiles).
//!
//! Backward, each again one writer per element (no atomics):
//! - input gradient: the transposed convolution gathered per input pixel (implicit GEMM
//!   M = B·H·W, N = Cin, K = Cout·kh·kw); blocks hold 4 pixels of the same stride phase, so
//!   only the taps that land on an output are visited (¼ of them for stride 2);
//! - weight gradient: GEMM M = Cout, N = Cin·kh·kw over K = B·Ho·Wo; each invocation owns a
//!   4×4 block of weights and one chunk of the pixel sum ("split-K"); the partials
//!   [nsplit, |w|] are then summed with `sum(0)`;
//! - bias gradient: `sum` over B, Ho·Wo.

use super::launch;
use super::variant::Variant;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

mod nhwc;
mod tiled;

const WG: u32 = 64;

/// Invocations the CPU-class weight gradient aims for when it splits the pixel sum: a few per
/// lavapipe thread.
const CPU_SPLIT_TARGET: usize = 1024;

/// Output spatial size of a convolution or pooling window: floor((n + 2p − k) / s) + 1.
pub fn out_size(n: usize, k: usize, stride: usize, pad: usize) -> Result<usize> {
    if stride == 0 {
        bail!("stride must be positive");
    }
    if n + 2 * pad < k {
        bail!("window {k} is larger than the padded input {n} + 2·{pad}");
    }
    Ok((n + 2 * pad - k) / stride + 1)
}

/// Shapes of one convolution, checked.
#[derive(Clone, Copy, Debug)]
struct Geom {
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    ho: usize,
    wo: usize,
    stride: usize,
    pad: usize,
}

impl Geom {
    fn new(x: &[usize], w: &[usize], stride: usize, pad: usize) -> Result<Geom> {
        if x.len() != 4 || w.len() != 4 || x[1] != w[1] {
            bail!("conv2d: input {x:?} (B,Cin,H,W) and weight {w:?} (Cout,Cin,kh,kw) do not match");
        }
        if x.iter().chain(w).any(|&d| d == 0) {
            bail!("conv2d: empty input {x:?} or weight {w:?}");
        }
        let ho = out_size(x[2], w[2], stride, pad)?;
        let wo = out_size(x[3], w[3], stride, pad)?;
        Ok(Geom {
            b: x[0],
            cin: x[1],
            h: x[2],
            w: x[3],
            cout: w[0],
            kh: w[2],
            kw: w[3],
            ho,
            wo,
            stride,
            pad,
        })
    }

    fn params(&self, has_bias: bool) -> Vec<u32> {
        [
            self.b,
            self.cin,
            self.h,
            self.w,
            self.cout,
            self.ho,
            self.wo,
            self.kh,
            self.kw,
            self.stride,
            self.pad,
            has_bias as usize,
        ]
        .iter()
        .map(|&v| v as u32)
        .collect()
    }

    /// Multiply-adds × 2 of the forward (each backward GEMM does the same count).
    fn flops(&self) -> f64 {
        2.0 * (self.b * self.ho * self.wo * self.cout * self.ksz()) as f64
    }

    fn ksz(&self) -> usize {
        self.cin * self.kh * self.kw
    }
}

/// Forward without recording: y = conv(x, w) + bias.
pub fn conv2d_raw(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    conv2d_fwd(x, w, bias, stride, pad, false)
}

/// Inference: relu(conv(x, w) + bias), a convolution with its eval-mode BatchNorm folded into
/// `w` and `bias` followed by ReLU. The CPU subgroup kernel applies the ReLU as it stores (no
/// pass over the output); the other kernels run [`conv2d_raw`] and a ReLU. No backward: it
/// refuses inputs that need a gradient while recording.
pub fn conv2d_bias_relu(
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    if crate::autograd::is_enabled() && [x, w, bias].iter().any(|t| t.requires_grad()) {
        bail!("conv2d_bias_relu is inference only (no backward); call it under no_grad()");
    }
    if Variant::current() == Variant::Subgroup {
        return conv2d_fwd(x, w, Some(bias), stride, pad, true);
    }
    conv2d_raw(x, w, Some(bias), stride, pad)?.relu()
}

fn conv2d_fwd(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
    relu: bool,
) -> Result<Tensor> {
    let g = Geom::new(x.shape(), w.shape(), stride, pad)?;
    if let Some(b) = bias
        && b.shape() != [g.cout]
    {
        bail!("conv2d: bias {:?} must be [{}]", b.shape(), g.cout);
    }
    let y = Tensor::empty(&[g.b, g.cout, g.ho, g.wo])?;
    crate::gpu::profile::note_flops(g.flops());
    // Without a bias the kernels never read binding 3 (has_bias = 0); bind the weight there.
    let bias_bind = bias.unwrap_or(w).bind();
    match Variant::current() {
        Variant::Tiled => tiled::forward(x, w, bias, &y, &g)?,
        Variant::Subgroup if nhwc::applies(&g) => nhwc::forward(x, w, bias, &y, &g, relu)?,
        Variant::Subgroup => {
            let mut params = g.params(bias.is_some());
            params.extend([0, 0, g.ho as u32, g.wo as u32]);
            launch_sg(
                &g,
                g.ho * g.wo,
                (false, relu),
                &params,
                &[x.bind(), w.bind(), bias_bind, y.bind()],
            )?;
        }
        Variant::Regblock => launch(
            &shader!("conv"),
            "conv_fwd",
            &[],
            &g.params(bias.is_some()),
            &[x.bind(), w.bind(), bias_bind, y.bind()],
            (g.b * g.ho * g.wo).div_ceil(4) * g.cout.div_ceil(4),
            WG,
        )?,
    }
    Ok(y)
}

/// Gradient of the input: dy [B,Cout,Ho,Wo] and w → dx of `x_shape`.
pub fn conv2d_input_grad(
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let g = Geom::new(x_shape, w.shape(), stride, pad)?;
    check_dy(dy, &g)?;
    let dx = Tensor::empty(x_shape)?;
    crate::gpu::profile::note_flops(g.flops());
    match Variant::current() {
        Variant::Tiled => tiled::input_grad(dy, w, &dx, &g)?,
        // dx is the convolution of dy (dilated by the stride) with the flipped, channel-swapped
        // weights and padding k − 1 − pad, which the subgroup kernel reads in place (so it needs
        // pad < k; otherwise the register blocks run).
        Variant::Subgroup if g.pad < g.kh.min(g.kw) && nhwc::applies(&g) => {
            nhwc::input_grad(dy, w, &dx, &g)?
        }
        Variant::Subgroup if g.pad < g.kh.min(g.kw) => input_grad_sg(dy, w, &dx, &g)?,
        Variant::Subgroup | Variant::Regblock => input_grad_regblock(dy, w, &dx, &g)?,
    }
    Ok(dx)
}

/// dx on the subgroup kernel, one launch per stride phase of dx.
fn input_grad_sg(dy: &Tensor, w: &Tensor, dx: &Tensor, g: &Geom) -> Result<()> {
    phases(g, |t, plane, params| {
        let binds = [dy.bind(), w.bind(), w.bind(), dx.bind()];
        launch_sg(t, plane, (true, false), params, &binds)
    })
}

/// Calls `launch(t, plane, params)` once per stride phase of dx for the transposed convolution
/// `t` (dy's and dx's sizes with the forward's stride and padding), with `params` as
/// [`launch_sg`] takes them. Each phase's launch writes its own pixels.
fn phases(g: &Geom, mut launch: impl FnMut(&Geom, usize, &[u32]) -> Result<()>) -> Result<()> {
    let t = Geom {
        b: g.b,
        cin: g.cout,
        h: g.ho,
        w: g.wo,
        cout: g.cin,
        ho: g.h,
        wo: g.w,
        ..*g
    };
    let s = g.stride;
    for (py, px) in (0..s.min(g.h)).flat_map(|py| (0..s.min(g.w)).map(move |px| (py, px))) {
        let (hq, wq) = ((g.h - py).div_ceil(s), (g.w - px).div_ceil(s));
        let mut params = t.params(false);
        params.extend([py, px, hq, wq].map(|v| v as u32));
        launch(&t, hq * wq, &params)?;
    }
    Ok(())
}

/// dx on the register-blocked kernel: blocks of 4 same-phase pixels per (row, x-phase mod
/// stride); see conv_bwd.wgsl.
fn input_grad_regblock(dy: &Tensor, w: &Tensor, dx: &Tensor, g: &Geom) -> Result<()> {
    let nq = g.w.div_ceil(g.stride).div_ceil(4);
    let n = nq * g.stride * g.b * g.h * g.cin.div_ceil(4);
    launch(
        &shader!("conv_bwd"),
        "conv_bwd_input",
        &[],
        &g.params(false),
        &[dy.bind(), w.bind(), dx.bind()],
        n,
        WG,
    )
}

/// Gradient of the weight: dy [B,Cout,Ho,Wo] and x → dw of `w_shape`.
pub fn conv2d_weight_grad(
    dy: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let g = Geom::new(x.shape(), w_shape, stride, pad)?;
    check_dy(dy, &g)?;
    crate::gpu::profile::note_flops(g.flops());
    let variant = Variant::current();
    if variant == Variant::Tiled {
        // The tiled kernel sizes its own splits (see `tiled::weight_chunk`).
        let partial = tiled::weight_grad_partials(dy, x, &g, tiled::weight_chunk(&g))?;
        return sum_partials(partial, w_shape);
    }
    let blocks = g.cout.div_ceil(4) * g.ksz().div_ceil(4);
    let m = g.b * g.ho * g.wo;
    // Split the pixel sum until there are enough invocations to fill the adapter: a few per
    // lavapipe thread (the tiled variant splits its own way). Chunks stay ≥ 64 pixels so the
    // partials (and their reduction) stay small next to the work.
    let target = CPU_SPLIT_TARGET;
    // No chunk longer than 32,768 pixels: llvmpipe stops shader loops after 65,536 iterations.
    let want = target
        .div_ceil(blocks)
        .max(m.div_ceil(32_768))
        .clamp(1, m.div_ceil(64).max(1));
    let chunk = m.div_ceil(want);
    if variant == Variant::Subgroup && nhwc::wgrad_applies(&g) {
        // Its steps of 4 pixels stay inside a chunk.
        return nhwc::weight_grad(dy, x, &g, chunk.next_multiple_of(4), w_shape);
    }
    let nsplit = m.div_ceil(chunk);
    let nw = g.cout * g.ksz();
    let partial = Tensor::empty(&[nsplit, nw])?;
    let mut params = g.params(false);
    params.extend([chunk as u32, nsplit as u32]);
    match variant {
        // One workgroup per 32×32 tile of dw and split (a 1-wide grid folded past 65,535).
        Variant::Subgroup => crate::gpu::ctx().dispatch(crate::gpu::Dispatch {
            shader: &shader!("conv_subgroup_wgrad", "_fma8"),
            entry: "conv_wgrad_sg",
            constants: &[],
            params: &params,
            bindings: &[dy.bind(), x.bind(), partial.bind()],
            workgroups: crate::gpu::grid(g.cout.div_ceil(32) * g.ksz().div_ceil(32) * nsplit, 1),
        })?,
        // Tiled returned above.
        Variant::Regblock | Variant::Tiled => launch(
            &shader!("conv_bwd"),
            "conv_bwd_weight",
            &[],
            &params,
            &[dy.bind(), x.bind(), partial.bind()],
            blocks * nsplit,
            WG,
        )?,
    }
    sum_partials(partial, w_shape)
}

/// Sums split-K partials [nsplit, |w|] into the weight gradient of `w_shape`.
fn sum_partials(partial: Tensor, w_shape: &[usize]) -> Result<Tensor> {
    let dw = if partial.shape()[0] == 1 {
        partial
    } else {
        crate::autograd::with_no_grad(|| partial.sum(0, false))?
    };
    dw.reshape(w_shape)
}

/// Launches the subgroup convolution (`transposed`: the input gradient, see the shader; `g`
/// then has dy's and dx's sizes with the forward's stride and padding) over `plane` output
/// pixels per image (one stride phase of dx, or the whole output), with `params` = the
/// geometry's 12 words + (phase y, phase x, phase rows, phase columns): one 8-lane workgroup per
/// 32 pixels × 32 output channels.
fn launch_sg(
    g: &Geom,
    plane: usize,
    (transposed, relu): (bool, bool),
    params: &[u32],
    bindings: &[crate::gpu::Binding],
) -> Result<()> {
    let tiles = (g.b * plane).div_ceil(32) * g.cout.div_ceil(32);
    crate::gpu::ctx().dispatch(crate::gpu::Dispatch {
        shader: &shader!("conv_subgroup", "_fma8"),
        entry: "conv_fwd_sg",
        constants: &[
            ("TRANSPOSED", if transposed { 1.0 } else { 0.0 }),
            ("RELU", if relu { 1.0 } else { 0.0 }),
        ],
        params,
        bindings,
        workgroups: crate::gpu::grid(tiles, 1),
    })
}

fn check_dy(dy: &Tensor, g: &Geom) -> Result<()> {
    if dy.shape() != [g.b, g.cout, g.ho, g.wo] {
        bail!(
            "conv2d backward: gradient {:?} does not match the output [{}, {}, {}, {}]",
            dy.shape(),
            g.b,
            g.cout,
            g.ho,
            g.wo
        );
    }
    Ok(())
}

impl Tensor {
    /// 2-D convolution of `self` [B,Cin,H,W] with `weight` [Cout,Cin,kh,kw] plus an optional
    /// `bias` [Cout]; zero padding `padding` on every side. Output [B,Cout,Ho,Wo] with
    /// Ho = (H + 2·padding − kh)/stride + 1 (PyTorch's `F.conv2d`).
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Tensor> {
        let y = conv2d_raw(self, weight, bias, stride, padding)?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Tensor::from_op(y, "conv2d", &inputs, move |out, g| {
            let i = out.op_inputs();
            let (x, w) = (&i[0], &i[1]);
            let gx = if x.requires_grad() {
                Some(conv2d_input_grad(g, w, x.shape(), stride, padding)?)
            } else {
                None
            };
            let gw = if w.requires_grad() {
                Some(conv2d_weight_grad(g, x, w.shape(), stride, padding)?)
            } else {
                None
            };
            let mut grads = vec![gx, gw];
            if let Some(b) = i.get(2) {
                grads.push(if b.requires_grad() {
                    let s = g.shape();
                    Some(
                        g.reshape(&[s[0], s[1], s[2] * s[3]])?
                            .sum(2, false)?
                            .sum(0, false)?,
                    )
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }
}
