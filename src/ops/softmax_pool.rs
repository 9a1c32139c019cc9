//! Softmax pooling (`shaders/softmax_pool.wgsl`): single-query attention whose keys and values
//! are the same rows, u[n, h] = Σ_t softmax_t(x[n, t]·q[n, h]) · x[n, t]. The ViT surrogate
//! game needs only the CLS token's output of its last block; with the query, key and value
//! projections folded into q and into the Linear after u (`models::vit::coalitions`), that
//! block's attention is this op over the LayerNorm'd tokens: T·D loads per query instead of
//! projecting K and V for every token.
//!
//! Inference only (no backward): it refuses inputs that require a gradient while recording.

use super::launch;
use crate::autograd;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// Widest rows the kernel's per-invocation registers hold (`MAXD` in the shader).
pub const MAX_WIDTH: usize = 128;

/// x [N, T, D] (T ≥ 1), q [N, H, D] or [1, H, D] (the same queries for every n) → u [N, H, D].
/// With `norm_eps`, each row of x is standardised first ((x − mean)/√(var + eps), a LayerNorm
/// without its affine part) inside the kernel.
pub fn softmax_pool(x: &Tensor, q: &Tensor, norm_eps: Option<f32>) -> Result<Tensor> {
    let (xs, qs) = (x.shape(), q.shape());
    if xs.len() != 3 || qs.len() != 3 || (qs[0] != xs[0] && qs[0] != 1) || xs[2] != qs[2] {
        bail!("softmax_pool: need x [N, T, D] and q [N or 1, H, D], got x {xs:?} and q {qs:?}");
    }
    let (n, t, h, d) = (xs[0], xs[1], qs[1], xs[2]);
    if t == 0 || d == 0 || d > MAX_WIDTH {
        bail!("softmax_pool: need at least one row and widths 1..={MAX_WIDTH}, got x {xs:?}");
    }
    if autograd::is_enabled() && (x.requires_grad() || q.requires_grad()) {
        bail!("softmax_pool is inference only (no backward); call it under no_grad()");
    }
    let u = Tensor::empty(&[n, h, d])?;
    if n * h == 0 {
        return Ok(u);
    }
    // Per (row, query, dim): one multiply-add for the score, one for the accumulator.
    crate::gpu::profile::note_flops(4.0 * (n * h * t * d) as f64);
    let shared = (qs[0] == 1 && n > 1) as u32;
    let eps = norm_eps.unwrap_or(0.0);
    launch(
        &shader!("softmax_pool"),
        "softmax_pool",
        &[
            ("D", d as f64),
            ("NORM", if norm_eps.is_some() { 1.0 } else { 0.0 }),
        ],
        &[(n * h) as u32, t as u32, h as u32, shared, eps.to_bits()],
        &[x.bind(), q.bind(), u.bind()],
        n * h,
        64,
    )?;
    Ok(u)
}
