//! FastSHAP player masking (`shaders/masking.wgsl`): the surrogate model sees an image with the
//! hidden superpixels zeroed plus the mask itself as an extra channel.

use super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// `apply_player_mask` with every player present: the images with a channel of ones appended,
/// [B, C + 1, H, W]. The same values (a mask of 1 multiplies nothing away), as one concat whose
/// contiguous blocks copy four floats at a time instead of a masking pass per element.
pub fn all_present(images: &Tensor) -> Result<Tensor> {
    let is = images.shape();
    if is.len() != 4 {
        bail!("all_present: images must be [B, C, H, W], got {is:?}");
    }
    let ones = Tensor::ones(&[is[0], 1, is[2], is[3]])?;
    super::plumbing::concat(&[images, &ones], 1)
}

/// `images` [B, C, H, W] (H, W divisible by `s`), `mask` [B·M, P] with P = (H/s)(W/s) players
/// row-major over the superpixel grid → [B·M, C+1, H, W]: row r is image r / M times its mask
/// upsampled to pixels (0 hides a pixel; values are multiplied, so fractional masks scale), with
/// that upsampled mask appended as the last channel. M = 1 is one mask per image.
///
/// Backward: the image gradient sums each image's M copies times their masks; the mask takes
/// no gradient (it is sampled, not learned).
pub fn apply_player_mask(images: &Tensor, mask: &Tensor, s: usize) -> Result<Tensor> {
    let (is, ms) = (images.shape(), mask.shape());
    if is.len() != 4 || s == 0 || !is[2].is_multiple_of(s) || !is[3].is_multiple_of(s) {
        bail!(
            "apply_player_mask: images must be [B, C, H, W] with H, W divisible by s = {s}, got {is:?}"
        );
    }
    let (b, c, h, w) = (is[0], is[1], is[2], is[3]);
    let players = (h / s) * (w / s);
    if ms.len() != 2 || ms[1] != players || b == 0 || !ms[0].is_multiple_of(b) {
        bail!(
            "apply_player_mask: mask must be [B·M, {players}] for images {is:?} and s = {s}, got {ms:?}"
        );
    }
    let rows = ms[0];
    let m = rows / b;
    let params = [rows as u32];
    // The shape as pipeline constants (the shader divides by them; see its header).
    let shape = [
        ("M", m as f64),
        ("C", c as f64),
        ("H", h as f64),
        ("W", w as f64),
        ("S", s as f64),
    ];
    let y = Tensor::empty(&[rows, c + 1, h, w])?;
    launch(
        &shader!("masking"),
        "mask_fwd",
        &shape,
        &params,
        &[images.bind(), mask.bind(), y.bind()],
        y.numel(),
        256,
    )?;
    let (mask, img_shape) = (mask.clone(), is.to_vec());
    Ok(Tensor::from_op(
        y,
        "apply_player_mask",
        &[images],
        move |_, g| {
            let gx = Tensor::empty(&img_shape)?;
            launch(
                &shader!("masking"),
                "mask_bwd",
                &shape,
                &params,
                &[g.bind(), mask.bind(), gx.bind()],
                gx.numel(),
                256,
            )?;
            Ok(vec![Some(gx)])
        },
    ))
}
