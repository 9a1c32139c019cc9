//! `evaluate --versus DIR`: this run's explainer against the explainer of another evaluation
//! of the same images and ground truth (a `--truth-from` run of the same records, or one with
//! the same `--images` and `--seed`). Judged separately, two explainers' intervals overlap
//! because some images are harder than others for both; paired image by image that shared
//! difficulty cancels, and the difference FastSHAP − theirs (Pearson and L2 on the explained
//! class, bootstrap over images) says whether one is better — "beats" only when its interval
//! excludes 0, as everywhere in the report.

use super::record::{ImageRecord, RunMeta, ShardFile};
use super::verdict::Comparison;
use crate::fastshap::fidelity::{L2, PEARSON, Stat, per_image, scores_of};
use crate::fastshap::mix;
use anyhow::{Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Largest difference between the two runs' truth, relative to its largest |φ|: the same
/// records copied (0), or exact values recomputed on another adapter (float reassociation);
/// a KernelSHAP truth sampled again differs by its own noise, far above this.
const TRUTH_TOLERANCE: f64 = 1e-4;

/// The bootstrap seed of the estimator scored `position`-th (FastSHAP: 0) in a run of `seed`:
/// `--versus` scores the other run's FastSHAP with the interval that run printed.
pub(super) fn score_seed(seed: u64, position: usize) -> u64 {
    mix(&[seed, 21, position as u64])
}

/// The other evaluation, read before anything is measured so a wrong directory fails at once.
pub struct Other {
    pub dir: String,
    pub file: ShardFile,
}

/// FastSHAP here against FastSHAP in the other run (`fidelity.json` `versus`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Versus {
    /// The other evaluation's directory and the explainer it scored.
    pub run: String,
    pub explainer: String,
    /// Its FastSHAP on the paired images, explained class.
    pub pearson: Stat,
    pub l2: Stat,
    /// This run's FastSHAP − its FastSHAP, paired over images.
    pub difference: Comparison,
}

/// Reads `dir`'s records: a whole evaluation (unsharded or merged) with a FastSHAP estimator.
pub fn read(dir: &Path) -> Result<Other> {
    let name = dir.display().to_string();
    let file = ShardFile::read_whole(dir)?;
    ensure!(
        file.records
            .iter()
            .all(|r| r.estimator("fastshap").is_some()),
        "--versus {name}: its records hold no FastSHAP explanation to compare with"
    );
    Ok(Other { dir: name, file })
}

/// Every one of `indices` (test images) must be among the other run's images.
pub fn check_images(other: &Other, indices: &[usize]) -> Result<()> {
    let theirs: Vec<usize> = other.file.records.iter().map(|r| r.index).collect();
    let missing: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|i| !theirs.contains(i))
        .collect();
    if let Some(first) = missing.first() {
        bail!(
            "--versus {}: {} of this run's test images (the first #{first}) are not among its \
             images; compare evaluations of the same images (score this explainer with \
             `--truth-from {}`, or use that run's --images and --seed)",
            other.dir,
            missing.len(),
            other.dir
        );
    }
    Ok(())
}

/// This run's FastSHAP against the other's on every image of this run, against this run's
/// truth, which must be the other's too.
pub fn compare(
    meta: &RunMeta,
    records: &[ImageRecord],
    other: &Other,
    resamples: usize,
) -> Result<Versus> {
    let (p, k) = (meta.players, meta.classes.len());
    let dir = &other.dir;
    ensure!(
        other.file.meta.players == p && other.file.meta.classes.len() == k,
        "--versus {dir}: its records have P = {} players and {} classes, this run P = {p} and {k}",
        other.file.meta.players,
        other.file.meta.classes.len()
    );
    let indices: Vec<usize> = records.iter().map(|r| r.index).collect();
    check_images(other, &indices)?;
    let theirs: HashMap<usize, &ImageRecord> =
        other.file.records.iter().map(|r| (r.index, r)).collect();
    let (mut ours_phi, mut their_phi, mut truth, mut target) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in records {
        let o = theirs[&r.index];
        let scale = r
            .truth
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()))
            .max(1e-12);
        let off = r
            .truth
            .iter()
            .zip(&o.truth)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        ensure!(
            r.class == o.class && o.truth.len() == r.truth.len() && off <= TRUTH_TOLERANCE * scale,
            "--versus {dir}: test image #{}'s ground truth (or explained class) differs from \
             this run's (largest difference {off:.1e}): both explainers must be scored against \
             the same truth — score one with `--truth-from` the other's directory",
            r.index
        );
        let (Some(a), Some(b)) = (r.estimator("fastshap"), o.estimator("fastshap")) else {
            bail!(
                "test image #{} has no FastSHAP explanation in one of the runs",
                r.index
            );
        };
        ours_phi.push(a.phi.clone());
        their_phi.push(b.phi.clone());
        truth.push(r.truth.clone());
        target.push(r.class);
    }
    let ours = per_image(&ours_phi, &truth, &target, p, k, meta.top_k).predicted;
    let them = per_image(&their_phi, &truth, &target, p, k, meta.top_k);
    let seed = meta.seed;
    // Their FastSHAP as their own run scored it (same bootstrap seed, FastSHAP first).
    let their_seed = score_seed(other.file.meta.seed, 0);
    let their = scores_of("fastshap", &them, resamples, their_seed).predicted;
    let them = them.predicted;
    Ok(Versus {
        run: dir.clone(),
        explainer: other.file.meta.explainer.clone(),
        pearson: their.pearson,
        l2: their.l2,
        difference: Comparison {
            estimator: format!("FastSHAP of {dir}"),
            evaluations: None,
            pearson_difference: Stat::paired_difference(
                &ours[PEARSON],
                &them[PEARSON],
                resamples,
                mix(&[seed, 62]),
            ),
            l2_difference: Stat::paired_difference(
                &ours[L2],
                &them[L2],
                resamples,
                mix(&[seed, 63]),
            ),
        },
    })
}

/// The report's paragraph on it.
pub fn markdown(v: &Versus, ours: Option<(&Stat, &Stat)>) -> String {
    let (vp, vl) = v.difference.verdicts();
    let ours = ours.map_or(String::new(), |(p, l)| {
        format!(" (this run's: Pearson {}, L2 {})", p.fmt(), l.fmt())
    });
    format!(
        "### Against another explainer (`--versus`)\n\nThe explainer scored in `{}` ({}) on the \
         same {} images and truth: Pearson {}, L2 {}{ours}. This run's FastSHAP − it, paired \
         over images: Pearson {} ({vp} it), L2 {} ({vl} it on L2).\n",
        v.run,
        v.explainer,
        v.difference.l2_difference.n,
        v.pearson.fmt(),
        v.l2.fmt(),
        v.difference.pearson_difference.fmt(),
        v.difference.l2_difference.fmt(),
    )
}
