//! `side_by_side.png`: for the first few images, the image with its ground-truth Shapley map,
//! FastSHAP's and the best cheap baseline's (explained class), all three on the truth's colour
//! scale — so a reader sees at a glance whether the explainer is closer to the truth than what
//! 2P + 2 game evaluations give.

use super::aggregate::Fidelity;
use super::record::{ImageRecord, RunMeta};
use crate::viz::{Direction, HeatmapOptions, HeatmapRow, compose, heatmap_grid, save_png};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Images drawn.
const ROWS: usize = 6;

/// Writes `side_by_side.png` into `out` (nothing when there is no cheap baseline to show).
pub fn side_by_side(
    meta: &RunMeta,
    records: &[ImageRecord],
    f: &Fidelity,
    out: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<()> {
    let Some(best) = f.best_cheap.iter().find(|v| v.metric == "pearson") else {
        return Ok(());
    };
    let mut rows = Vec::new();
    let mut captions = Vec::new();
    for r in records.iter().take(ROWS) {
        let Some(baseline) = r.estimator(&best.best) else {
            continue;
        };
        let mut opts = HeatmapOptions::new(&meta.classes);
        opts.class_subset = Some(vec![r.class]);
        opts.colorbar = false;
        // The truth's scale for all three: a map that is too faint or saturated is wrong too.
        let k = meta.classes.len();
        let vmax = (0..meta.players)
            .map(|i| r.truth[i * k + r.class].abs())
            .fold(0.0, f64::max);
        opts.vmax = Some(vmax.max(f64::MIN_POSITIVE));
        let panel = |phi: &[f64]| {
            heatmap_grid(
                &[HeatmapRow {
                    image: &r.image,
                    phi,
                    probs: r.original_probs.as_deref(),
                    surrogate_probs: Some(&r.surrogate_probs),
                    title: String::new(),
                }],
                &opts,
            )
        };
        let (truth, fast, base) = (
            panel(&r.truth)?,
            panel(&r.estimators[0].phi)?,
            panel(&baseline.phi)?,
        );
        rows.push(compose(
            "",
            &[
                (meta.ground_truth.as_str(), &truth),
                ("fastshap", &fast),
                (best.best.as_str(), &base),
            ],
            Direction::Horizontal,
        ));
        captions.push(format!("test #{} {}", r.index, r.label));
    }
    if rows.is_empty() {
        return Ok(());
    }
    let parts: Vec<(&str, &image::RgbImage)> = captions
        .iter()
        .map(String::as_str)
        .zip(rows.iter())
        .collect();
    let title = format!(
        "ground truth, FastSHAP and {} (best cheap baseline by Pearson), one colour scale per row",
        best.best
    );
    let path = out.join("side_by_side.png");
    save_png(&compose(&title, &parts, Direction::Vertical), &path)?;
    files.push(path);
    Ok(())
}
