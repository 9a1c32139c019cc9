//! Shapley heatmap grids in the style of `shap.image_plot` (image, then one panel per class,
//! red = positive, blue = negative, on a faded grayscale copy) and attention-rollout grids
//! (image, then one panel per model, sequential colours).

use super::color::ColorMap;
use super::grid::{self, Layout, Panel, Row, Style, format_value};
use anyhow::{Result, bail};
use image::RgbImage;

/// One image and its explanation.
#[derive(Clone, Debug)]
pub struct HeatmapRow<'a> {
    /// uint8 CHW RGB (3·S·S bytes, as `data::Dataset::image` returns).
    pub image: &'a [u8],
    /// Shapley values [P, K], row-major: P = g² superpixels (row-major over the g×g grid),
    /// K classes.
    pub phi: &'a [f64],
    /// The explained model's class probabilities (K), if known; its argmax is marked.
    pub probs: Option<&'a [f64]>,
    /// The surrogate's class probabilities (K), if known (shown as `s0.79`).
    pub surrogate_probs: Option<&'a [f64]>,
    /// Text above the image, e.g. "true: cat".
    pub title: String,
}

#[derive(Clone, Debug)]
pub struct HeatmapOptions {
    /// K class names.
    pub classes: Vec<String>,
    /// Nearest-neighbour upscaling of the S×S panels (4 → 128 px for CIFAR).
    pub scale: u32,
    /// A colour scale shared by all rows; `None` scales each row to its own max |φ|.
    pub vmax: Option<f64>,
    /// Strength of the grayscale image under the overlay (1 = plain gray, lower = fainter).
    pub background_alpha: f64,
    /// Only these classes (indices), in this order; `None` shows all K.
    pub class_subset: Option<Vec<usize>>,
    pub colorbar: bool,
}

impl HeatmapOptions {
    pub fn new(classes: &[impl AsRef<str>]) -> HeatmapOptions {
        HeatmapOptions {
            classes: classes.iter().map(|c| c.as_ref().to_string()).collect(),
            scale: 4,
            vmax: None,
            background_alpha: 0.35,
            class_subset: None,
            colorbar: true,
        }
    }
}

/// The row's colour scale: max |φ| over all its panels, falling back to 1 for an all-zero φ so
/// the bar still has a range.
fn row_vmax(values: impl Iterator<Item = f64>) -> f64 {
    let m = values
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    if m > 0.0 { m } else { 1.0 }
}

/// The grid: per row the image, then one panel per class with φ over a faded grayscale copy,
/// labels "class" / "prob" above (the predicted class bold, underlined and boxed) and a colour
/// bar with its range at the end of the row.
pub fn heatmap_grid(rows: &[HeatmapRow], opts: &HeatmapOptions) -> Result<RgbImage> {
    Ok(heatmap_grid_layout(rows, opts)?.0)
}

/// [`heatmap_grid`] and where its panels landed.
pub fn heatmap_grid_layout(
    rows: &[HeatmapRow],
    opts: &HeatmapOptions,
) -> Result<(RgbImage, Layout)> {
    let k = opts.classes.len();
    let shown: Vec<usize> = opts
        .class_subset
        .clone()
        .unwrap_or_else(|| (0..k).collect());
    if let Some(&bad) = shown.iter().find(|&&c| c >= k) {
        bail!("heatmap_grid: class index {bad} out of range for {k} classes");
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let side = grid::image_side(r.image)?;
        if k == 0 || r.phi.len() % k != 0 {
            bail!(
                "heatmap_grid: row {i}: φ has {} values, not a multiple of {k} classes",
                r.phi.len()
            );
        }
        let p = r.phi.len() / k;
        let g = (p as f64).sqrt().round() as usize;
        if g * g != p || side % g != 0 {
            bail!(
                "heatmap_grid: row {i}: P = {p} superpixels is not a square grid dividing {side}×{side}"
            );
        }
        for (what, v) in [("probs", r.probs), ("surrogate_probs", r.surrogate_probs)] {
            if let Some(v) = v.filter(|v| v.len() != k) {
                bail!(
                    "heatmap_grid: row {i}: {what} has {} values for {k} classes",
                    v.len()
                );
            }
        }
        let marked = r.probs.or(r.surrogate_probs).and_then(crate::math::argmax);
        let vmax = opts.vmax.unwrap_or_else(|| {
            row_vmax(
                shown
                    .iter()
                    .flat_map(|&c| (0..p).map(move |j| r.phi[j * k + c])),
            )
        });
        let key = match (r.probs, r.surrogate_probs) {
            (Some(_), Some(_)) => "model, s: surrogate",
            (None, Some(_)) => "s: surrogate",
            _ => "",
        };
        let mut panels = vec![Panel {
            image: r.image,
            overlay: None,
            lines: [r.title.clone(), key.into()],
            highlight: false,
        }];
        for &c in &shown {
            let mut line2 = String::new();
            if let Some(pr) = r.probs {
                line2 = format!("{:.2}", pr[c]);
            }
            if let Some(sp) = r.surrogate_probs {
                let sep = if line2.is_empty() { "" } else { " " };
                line2 = format!("{line2}{sep}s{:.2}", sp[c]);
            }
            panels.push(Panel {
                image: r.image,
                overlay: Some((0..p).map(|j| r.phi[j * k + c]).collect()),
                lines: [opts.classes[c].clone(), line2],
                highlight: marked == Some(c),
            });
        }
        out.push(Row {
            panels,
            cmap: ColorMap::Diverging,
            vmax,
        });
    }
    let style = Style {
        scale: opts.scale.max(1),
        background_alpha: opts.background_alpha,
        colorbar: opts.colorbar,
        colorbar_caption: "SHAP".into(),
    };
    grid::render(&out, &style)
}

/// One image and one rollout map per model.
#[derive(Clone, Debug)]
pub struct RolloutRow<'a> {
    /// uint8 CHW RGB (3·S·S bytes).
    pub image: &'a [u8],
    /// Per model: an n×n map (row-major, n² patch tokens; n may differ between models).
    pub maps: Vec<&'a [f64]>,
    pub title: String,
}

#[derive(Clone, Debug)]
pub struct RolloutOptions {
    /// One name per model (panel column).
    pub models: Vec<String>,
    pub scale: u32,
    /// A shared top of the scale; `None` uses each row's max over its maps.
    pub vmax: Option<f64>,
    /// Rescale each map by n² (its patch count), so 1 means "uniform attention" and models with
    /// different patch sizes share one scale.
    pub relative_to_uniform: bool,
    pub background_alpha: f64,
    pub colorbar: bool,
}

impl RolloutOptions {
    pub fn new(models: &[impl AsRef<str>]) -> RolloutOptions {
        RolloutOptions {
            models: models.iter().map(|m| m.as_ref().to_string()).collect(),
            scale: 4,
            vmax: None,
            relative_to_uniform: true,
            background_alpha: 0.35,
            colorbar: true,
        }
    }
}

/// The grid: per row the image, then one rollout panel per model (transparent at 0, yellow to
/// dark red at the top of the scale) and a colour bar.
pub fn rollout_grid(rows: &[RolloutRow], opts: &RolloutOptions) -> Result<RgbImage> {
    Ok(rollout_grid_layout(rows, opts)?.0)
}

/// [`rollout_grid`] and where its panels landed.
pub fn rollout_grid_layout(
    rows: &[RolloutRow],
    opts: &RolloutOptions,
) -> Result<(RgbImage, Layout)> {
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if r.maps.len() != opts.models.len() {
            bail!(
                "rollout_grid: row {i} has {} maps for {} models",
                r.maps.len(),
                opts.models.len()
            );
        }
        let side = grid::image_side(r.image)?;
        let mut maps = Vec::with_capacity(r.maps.len());
        for m in &r.maps {
            let n = grid::map_side(m, "rollout map")?;
            if side % n != 0 {
                bail!(
                    "rollout_grid: row {i}: a {n}×{n} map does not divide the {side}×{side} image"
                );
            }
            let f = if opts.relative_to_uniform {
                (n * n) as f64
            } else {
                1.0
            };
            maps.push(m.iter().map(|v| v * f).collect::<Vec<f64>>());
        }
        let vmax = opts
            .vmax
            .unwrap_or_else(|| row_vmax(maps.iter().flatten().copied()));
        let mut panels = vec![Panel {
            image: r.image,
            overlay: None,
            lines: [r.title.clone(), String::new()],
            highlight: false,
        }];
        for (m, name) in maps.into_iter().zip(&opts.models) {
            let peak = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            panels.push(Panel {
                image: r.image,
                overlay: Some(m),
                lines: [name.clone(), format!("max {}", format_value(peak))],
                highlight: false,
            });
        }
        out.push(Row {
            panels,
            cmap: ColorMap::Sequential,
            vmax,
        });
    }
    let caption = if opts.relative_to_uniform {
        "x unif."
    } else {
        "rollout"
    };
    let style = Style {
        scale: opts.scale.max(1),
        background_alpha: opts.background_alpha,
        colorbar: opts.colorbar,
        colorbar_caption: caption.into(),
    };
    grid::render(&out, &style)
}
