//! `evaluate --truth-from DIR`: another explainer of the same surrogate scored against an
//! earlier evaluation's records. Their ground truth, baselines, sampling budgets, additivity
//! and the other rankings' curves are kept; what depends on the explainer is measured again:
//! its φ and its untrained self's, its training snapshots, its inclusion/exclusion curves and
//! its timing against game evaluations. Exact values at P = 16 with a ResNet surrogate cost
//! minutes per image here; this scores a second explainer against them in seconds, on the same
//! images, so the two can be compared image by image.
//!
//! The records must come from this surrogate and link: each image's surrogate probabilities
//! are computed again and must match the recorded ones, and the recorded truth must add up to
//! this explainer's v(1) − v(0) (efficiency), which fails for another link.

use super::measure::{explain_all, snapshot_phis, time_rounds, to_f64};
use super::record::{ImageRecord, RunMeta, ShardFile};
use super::{EvaluateConfig, EvaluateSummary, check_models, finish, training_seconds};
use crate::data::{self, SIDE};
use crate::fastshap::SurrogateModel;
use crate::fastshap::explainer::{Explainer, Explanation};
use crate::fastshap::fidelity::column;
use crate::shap::Link;
use crate::shap::inclusion_exclusion::{Mode, PERCENTAGES, curve};
use crate::{Tensor, no_grad};
use anyhow::{Context, Result, bail, ensure};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest difference between recomputed and recorded surrogate probabilities: the same
/// network on the same image differs by float reassociation only (~1e-6).
const PROBS_TOLERANCE: f64 = 1e-3;

/// Scores `explainer` against the records in `previous` (unsharded or merged evaluations of
/// `surrogate`; several are pooled, [`pool_runs`]) and writes a whole evaluation into `out`.
pub fn rescore(
    explainer: &Explainer,
    explainer_path: &Path,
    surrogate: &dyn SurrogateModel,
    previous: &[PathBuf],
    cfg: &EvaluateConfig,
    out: &Path,
) -> Result<EvaluateSummary> {
    check_models(explainer, surrogate)?;
    let prev = pool_runs(previous)?;
    let other = super::read_versus(cfg.versus.as_deref(), false, out)?;
    if let Some(o) = &other {
        let indices: Vec<usize> = prev.records.iter().map(|r| r.index).collect();
        super::versus::check_images(o, &indices)?;
    }
    let dir = previous
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let (p, k) = (
        crate::fastshap::players(surrogate.superpixel()),
        surrogate.classes(),
    );
    ensure!(
        prev.meta.players == p && prev.meta.classes.len() == k,
        "{dir}: its records have P = {} players and {} classes, this explainer P = {p} and {k}",
        prev.meta.players,
        prev.meta.classes.len()
    );
    // The rescored records.json is written into --out: it must not replace an input's.
    for d in previous {
        ensure!(
            !super::same_dir(d, out),
            "--out {} is one of the --truth-from directories; write the rescored evaluation \
             elsewhere",
            out.display()
        );
    }
    let mut records = prev.records;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut xs = Vec::with_capacity(records.len() * 3 * SIDE * SIDE);
    for r in &records {
        data::normalize_into(&r.image, &mut xs);
    }
    let x = Tensor::from_slice(&xs, &[records.len(), 3, SIDE, SIDE])?;
    let _ng = no_grad();
    let (ex, ux, snaps) = explain_all(explainer, surrogate, &x, &cfg.snapshots)?;
    check_same_game(&ex, &records, &dir)?;
    let link = explainer.config.link.link();
    let first = surrogate.game(x.narrow(0, 0, 1)?, link, cfg.batch)?;
    let mut timing = time_rounds(explainer, surrogate, &x, &first, cfg)?;
    drop(first);
    timing.add_truth(&prev.timing);

    for (j, r) in records.iter_mut().enumerate() {
        for e in &mut r.estimators {
            match e.name.as_str() {
                "fastshap" => e.phi = to_f64(ex.phi_of(j)),
                "fastshap (untrained)" => e.phi = to_f64(ux.phi_of(j)),
                _ => {}
            }
        }
        r.snapshots = snapshot_phis(&snaps, j);
        if r.curves.iter().any(|c| c.method == "fastshap") {
            let game = surrogate.game(x.narrow(0, j, 1)?, Link::Softmax, cfg.batch)?;
            let rank = column(&to_f64(ex.phi_of(j)), p, k, r.class);
            for c in r.curves.iter_mut().filter(|c| c.method == "fastshap") {
                let mode = if c.mode == "inclusion" {
                    Mode::Inclusion
                } else {
                    Mode::Exclusion
                };
                let new = curve(&game, &rank, r.class, &PERCENTAGES, mode, true)?;
                (c.x, c.top1, c.log_odds) = (new.x, new.top1, new.log_odds);
            }
        }
        if cfg.progress {
            eprintln!("image {}/{} (#{}): rescored", j + 1, ex.images, r.index);
        }
    }
    let mut meta = prev.meta;
    meta.explainer = explainer_path.display().to_string();
    meta.training_seconds = training_seconds(explainer_path);
    let file = ShardFile {
        meta,
        shard: (0, 1),
        records,
        timing,
    };
    finish(vec![(dir, file)], cfg.bootstrap, other.as_ref(), out)
}

/// The records of one or more whole evaluations (each unsharded or merged) as one run: they
/// must agree on everything but their seeds, image counts and explainers, and share no image.
/// Images are renumbered in the order given, truth timings summed; the pooled run keeps the
/// first one's seed (each record keeps the per-image seeds it was measured with). Measuring
/// more images later is then another run with another `--seed`, pooled with the first.
fn pool_runs(dirs: &[PathBuf]) -> Result<ShardFile> {
    let Some(first) = dirs.first() else {
        bail!("--truth-from needs at least one evaluation directory");
    };
    let mut pooled: Option<ShardFile> = None;
    let mut seen: HashMap<usize, String> = HashMap::new();
    for d in dirs {
        let f = ShardFile::read_whole(d)?;
        let name = d.display().to_string();
        ensure!(!f.records.is_empty(), "{name}: its records hold no images");
        for r in &f.records {
            if let Some(other) = seen.insert(r.index, name.clone()) {
                bail!("test image #{} is in both {other} and {name}", r.index);
            }
        }
        let Some(run) = pooled.as_mut() else {
            pooled = Some(f);
            continue;
        };
        let comparable = RunMeta {
            seed: run.meta.seed,
            images: run.meta.images,
            explainer: run.meta.explainer.clone(),
            training_seconds: run.meta.training_seconds,
            rollout_skipped: run.meta.rollout_skipped.clone(),
            ..f.meta.clone()
        };
        ensure!(
            comparable == run.meta,
            "{name} is not an evaluation like {} (players, classes, ground truth, reference, \
             budgets, tolerances or batch differ)",
            first.display()
        );
        run.meta.images += f.meta.images;
        run.timing.add_truth(&f.timing);
        run.records.extend(f.records);
    }
    let mut run = pooled.expect("at least one directory was read");
    for (position, r) in run.records.iter_mut().enumerate() {
        r.position = position;
    }
    Ok(run)
}

/// The records were measured on this surrogate (same probabilities) under this link (the truth
/// sums to this explainer's v(1) − v(0) per class): one clear error naming the image if not.
fn check_same_game(ex: &Explanation, records: &[ImageRecord], dir: &str) -> Result<()> {
    let k = ex.classes;
    for (j, r) in records.iter().enumerate() {
        let (index, probs, truth, gap) = (r.index, &r.surrogate_probs, &r.truth, r.efficiency_gap);
        let worst = (0..k)
            .map(|c| (ex.probs[j * k + c] as f64 - probs[c]).abs())
            .fold(0.0, f64::max);
        ensure!(
            worst <= PROBS_TOLERANCE,
            "{dir}: test image #{index}'s surrogate probabilities differ from the recorded ones \
             by {worst:.1e}: the records come from another surrogate (give the one they were \
             measured with, --surrogate)"
        );
        for c in 0..k {
            let sum: f64 = (0..ex.players).map(|i| truth[i * k + c]).sum();
            let want = (ex.grand[j * k + c] - ex.null[c]) as f64;
            let off = (sum - want).abs();
            ensure!(
                off <= gap + 1e-3 * want.abs().max(1.0),
                "{dir}: test image #{index}'s recorded truth sums to {sum:.4} for class {c}, \
                 not this explainer's v(1) − v(0) = {want:.4}: the records were measured under \
                 another link"
            );
        }
    }
    Ok(())
}
