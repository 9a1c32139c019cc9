//! 2-D pooling over NCHW tensors, PyTorch semantics, each with its backward beside it:
//! `avg_pool2d` (count_include_pad = True), `max_pool2d` (−inf padding; the forward keeps the
//! argmax for the backward), `adaptive_avg_pool2d` (PyTorch's floor/ceil windows) and
//! `global_avg_pool2d` (mean over H and W → **[B, C]**, the shape ResNet's classifier takes;
//! reshape to [B, C, 1, 1] if needed). Kernels: `shaders/pool.wgsl`, `shaders/pool_max.wgsl`;
//! one invocation per output element, backward gathered per input element (no atomics).

use super::conv::out_size;
use super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

const WG: u32 = 64;

/// Pooling geometry: `planes` = B·C planes of h×w pooled to ho×wo.
#[derive(Clone, Copy)]
struct Geom {
    planes: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

impl Geom {
    fn params(&self) -> [u32; 8] {
        [
            self.planes,
            self.h,
            self.w,
            self.ho,
            self.wo,
            self.k,
            self.stride,
            self.pad,
        ]
        .map(|v| v as u32)
    }
    fn out_shape(&self, x: &[usize]) -> Vec<usize> {
        vec![x[0], x[1], self.ho, self.wo]
    }
}

fn nchw(op: &str, x: &Tensor) -> Result<()> {
    if x.rank() != 4 || x.numel() == 0 {
        bail!(
            "{op}: expected a non-empty [B, C, H, W] input, got {:?}",
            x.shape()
        );
    }
    Ok(())
}

fn window(op: &str, x: &Tensor, k: usize, stride: usize, pad: usize) -> Result<Geom> {
    nchw(op, x)?;
    if k == 0 || 2 * pad > k {
        bail!("{op}: padding {pad} must be at most half the kernel size {k} (PyTorch's rule)");
    }
    let s = x.shape();
    Ok(Geom {
        planes: s[0] * s[1],
        h: s[2],
        w: s[3],
        ho: out_size(s[2], k, stride, pad)?,
        wo: out_size(s[3], k, stride, pad)?,
        k,
        stride,
        pad,
    })
}

/// Runs a kernel of pool.wgsl (src → dst of `shape`), one invocation per element of dst.
fn run2(entry: &'static str, g: &Geom, src: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let dst = Tensor::empty(shape)?;
    launch(
        &shader!("pool"),
        entry,
        &[],
        &g.params(),
        &[src.bind(), dst.bind()],
        dst.numel(),
        WG,
    )?;
    Ok(dst)
}

impl Tensor {
    /// Average over k×k windows; zero padding counts toward the divisor (count_include_pad).
    pub fn avg_pool2d(&self, k: usize, stride: usize, padding: usize) -> Result<Tensor> {
        let g = window("avg_pool2d", self, k, stride, padding)?;
        let x_shape = self.shape().to_vec();
        let y = run2("avg_fwd", &g, self, &g.out_shape(self.shape()))?;
        Ok(Tensor::from_op(y, "avg_pool2d", &[self], move |_, dy| {
            Ok(vec![Some(run2("avg_bwd", &g, dy, &x_shape)?)])
        }))
    }

    /// Maximum over k×k windows with −inf padding; the gradient goes to the first maximum of
    /// each window (row-major), as in PyTorch.
    pub fn max_pool2d(&self, k: usize, stride: usize, padding: usize) -> Result<Tensor> {
        let g = window("max_pool2d", self, k, stride, padding)?;
        let out_shape = g.out_shape(self.shape());
        let y = Tensor::empty(&out_shape)?;
        let arg = Tensor::empty(&out_shape)?;
        launch(
            &shader!("pool_max"),
            "max_fwd",
            &[],
            &g.params(),
            &[self.bind(), y.bind(), arg.bind()],
            y.numel(),
            WG,
        )?;
        let x_shape = self.shape().to_vec();
        Ok(Tensor::from_op(y, "max_pool2d", &[self], move |_, dy| {
            let dx = Tensor::empty(&x_shape)?;
            launch(
                &shader!("pool_max"),
                "max_bwd",
                &[],
                &g.params(),
                &[dy.bind(), arg.bind(), dx.bind()],
                dx.numel(),
                WG,
            )?;
            Ok(vec![Some(dx)])
        }))
    }

    /// Average pooling to an `out_h`×`out_w` grid; output cell o covers input
    /// [floor(o·H/out_h), ceil((o+1)·H/out_h)) (PyTorch's `adaptive_avg_pool2d`).
    pub fn adaptive_avg_pool2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        nchw("adaptive_avg_pool2d", self)?;
        if out_h == 0 || out_w == 0 {
            bail!("adaptive_avg_pool2d: output size {out_h}x{out_w} must be positive");
        }
        let s = self.shape();
        let g = Geom {
            planes: s[0] * s[1],
            h: s[2],
            w: s[3],
            ho: out_h,
            wo: out_w,
            k: 0,
            stride: 0,
            pad: 0,
        };
        let x_shape = s.to_vec();
        let y = run2("adaptive_fwd", &g, self, &g.out_shape(s))?;
        Ok(Tensor::from_op(
            y,
            "adaptive_avg_pool2d",
            &[self],
            move |_, dy| Ok(vec![Some(run2("adaptive_bwd", &g, dy, &x_shape)?)]),
        ))
    }

    /// Mean over H and W: [B, C, H, W] → [B, C] (a view plus one `mean`, whose backward
    /// broadcasts the gradient back).
    pub fn global_avg_pool2d(&self) -> Result<Tensor> {
        nchw("global_avg_pool2d", self)?;
        let s = self.shape();
        self.reshape(&[s[0], s[1], s[2] * s[3]])?.mean(2, false)
    }
}
