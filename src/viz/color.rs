//! Colour maps. Overlays are alpha blends over a faded grayscale copy of the image, so a value
//! of 0 leaves the image visible and the colour's strength tells the magnitude.

use image::Rgb;

/// shap's red (positive) and blue (negative), so plots look like `shap.image_plot`.
pub const RED: [f64; 3] = [255.0, 0.0, 81.0];
pub const BLUE: [f64; 3] = [0.0, 139.0, 251.0];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColorMap {
    /// Red for positive, blue for negative, transparent at 0, full colour at ±vmax.
    Diverging,
    /// Transparent at 0 through yellow and orange to dark red at vmax (values ≥ 0).
    Sequential,
}

/// Stops of the sequential ramp (YlOrRd-like), evenly spaced in t ∈ [0, 1].
const SEQ: [[f64; 3]; 5] = [
    [255.0, 237.0, 160.0],
    [254.0, 178.0, 76.0],
    [252.0, 78.0, 42.0],
    [206.0, 16.0, 32.0],
    [128.0, 0.0, 38.0],
];

fn ramp(t: f64) -> [f64; 3] {
    let t = t.clamp(0.0, 1.0) * (SEQ.len() - 1) as f64;
    let i = (t.floor() as usize).min(SEQ.len() - 2);
    let f = t - i as f64;
    std::array::from_fn(|c| SEQ[i][c] * (1.0 - f) + SEQ[i + 1][c] * f)
}

impl ColorMap {
    /// The overlay colour and its opacity for `v` on the scale [−vmax, vmax] (diverging) or
    /// [0, vmax] (sequential). A non-positive or non-finite vmax gives no overlay.
    pub fn rgba(self, v: f64, vmax: f64) -> ([f64; 3], f64) {
        if !(vmax > 0.0 && vmax.is_finite() && v.is_finite()) {
            return ([255.0; 3], 0.0);
        }
        let t = (v / vmax).clamp(-1.0, 1.0);
        match self {
            ColorMap::Diverging if t >= 0.0 => (RED, t),
            ColorMap::Diverging => (BLUE, -t),
            // A floor on the opacity would tint the whole panel; sequential maps start clear.
            ColorMap::Sequential => (ramp(t.max(0.0)), t.max(0.0).sqrt()),
        }
    }

    /// The lower end of the scale for a given vmax.
    pub fn vmin(self, vmax: f64) -> f64 {
        match self {
            ColorMap::Diverging => -vmax,
            ColorMap::Sequential => 0.0,
        }
    }
}

/// Luma (Rec. 601) of an RGB pixel.
pub fn gray(r: u8, g: u8, b: u8) -> f64 {
    0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64
}

/// The background a panel's overlay is drawn on: the gray value faded towards white, as shap
/// draws the image at low alpha so the colours stay readable. `alpha` = 1 is the plain gray.
pub fn faded(gray: f64, alpha: f64) -> f64 {
    255.0 - (255.0 - gray) * alpha
}

/// `(1 − a)·base + a·color`, rounded.
pub fn blend(base: f64, color: [f64; 3], a: f64) -> Rgb<u8> {
    Rgb(std::array::from_fn(|c| {
        ((1.0 - a) * base + a * color[c]).round().clamp(0.0, 255.0) as u8
    }))
}
