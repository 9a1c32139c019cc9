//! One class's Shapley values over an image at the image's own resolution: the g×g superpixel
//! grid (laid over the 32×32 version the model saw) stretched over the original, drawn as the
//! heatmap panels are (red positive, blue negative, on a faded grayscale copy).

use super::color::{ColorMap, blend, faded, gray};
use anyhow::{Result, ensure};
use image::RgbImage;

/// `phi`: P = g² values, row-major over the grid; `vmax`: the colour scale (full colour at
/// ±vmax); `background_alpha`: strength of the grayscale image under the colours.
pub fn overlay_full(
    img: &RgbImage,
    phi: &[f64],
    vmax: f64,
    background_alpha: f64,
) -> Result<RgbImage> {
    let g = (phi.len() as f64).sqrt().round() as usize;
    ensure!(
        g > 0 && g * g == phi.len(),
        "overlay: {} values are not a square superpixel grid",
        phi.len()
    );
    let (w, h) = img.dimensions();
    ensure!(w > 0 && h > 0, "overlay: empty image");
    Ok(RgbImage::from_fn(w, h, |x, y| {
        // The cell whose share of the image holds this pixel, as the resize to 32×32 maps it.
        let (cx, cy) = (
            (x as usize * g / w as usize).min(g - 1),
            (y as usize * g / h as usize).min(g - 1),
        );
        let p = img.get_pixel(x, y).0;
        let base = faded(gray(p[0], p[1], p[2]), background_alpha);
        let (color, a) = ColorMap::Diverging.rgba(phi[cy * g + cx], vmax);
        blend(base, color, a)
    }))
}
