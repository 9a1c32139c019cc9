//! Inverted dropout (`shaders/dropout.wgsl`) with a counter-based hash RNG: the same seed gives
//! the same mask, and the backward regenerates the mask instead of storing it.

use super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// Applies the seeded mask·scale to `x` (no tape).
fn dropout_raw(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    // p = 1 drops everything: threshold 0 keeps every element but scales it by 0.
    let (threshold, scale) = if p >= 1.0 {
        (0u32, 0.0f32)
    } else {
        let t = (p as f64 * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
        (t, 1.0 / (1.0 - p))
    };
    let y = Tensor::empty(x.shape())?;
    launch(
        &shader!("dropout"),
        "dropout",
        &[],
        &[
            x.numel() as u32,
            seed as u32,
            (seed >> 32) as u32,
            threshold,
            scale.to_bits(),
        ],
        &[x.bind(), y.bind()],
        x.numel(),
        256,
    )?;
    Ok(y)
}

/// Inverted dropout: in training, zeroes each element with probability `p` and scales the rest
/// by 1/(1−p); in eval (or with p = 0) the identity. The mask is a pure function of `seed` and
/// the element index, so the same seed gives the same mask; the gradient is mask·scale·g.
pub fn dropout(x: &Tensor, p: f32, training: bool, seed: u64) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        bail!("dropout probability must be in [0, 1], got {p}");
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let y = dropout_raw(x, p, seed)?;
    Ok(Tensor::from_op(y, "dropout", &[x], move |_, g| {
        Ok(vec![Some(dropout_raw(g, p, seed)?)])
    }))
}
