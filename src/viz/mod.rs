//! Pictures of explanations: Shapley heatmap grids and attention-rollout grids as PNG (own
//! raster code, a built-in bitmap font), heatmaps over images at their own resolution, the
//! self-contained gallery page of `explain`, and SVG line and bar plots for the HTML report.
//! Everything here runs on the host.

pub mod color;
pub mod font;
pub mod gallery;
pub mod grid;
pub mod heatmap;
pub mod overlay;
pub mod svg;

pub use grid::{Direction, Layout, compose};
pub use heatmap::{
    HeatmapOptions, HeatmapRow, RolloutOptions, RolloutRow, heatmap_grid, heatmap_grid_layout,
    rollout_grid, rollout_grid_layout,
};
pub use svg::{BarOptions, BarSeries, PlotOptions, Series, bar_plot, html_table, line_plot};

use anyhow::{Context, Result};
use image::RgbImage;
use std::path::Path;

/// Encodes `img` as PNG and writes it atomically (no half-written file on failure).
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let bytes = png_bytes(img).with_context(|| format!("cannot encode {}", path.display()))?;
    crate::io::write_atomic(path, &bytes)
}

/// `img` encoded as PNG.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    Ok(bytes)
}
