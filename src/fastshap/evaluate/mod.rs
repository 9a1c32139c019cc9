//! `fastshap evaluate`: how good is a trained explainer, measured against ground truth that the
//! FastSHAP paper could not compute, beside every cheaper way to get the same numbers. The
//! experiment in four phases, each in its own file:
//!
//! 1. **measure** (per image, the expensive part): the explainer's φ and its untrained self's,
//!    ground truth through the same surrogate and link (exact Shapley values from all 2^P
//!    coalitions when P is small, else KernelSHAP run to convergence), the cheap baselines
//!    (leave-one-out, singletons, their mean, the uniform split), KernelSHAP and permutation
//!    sampling at each budget, the game's additivity, inclusion/exclusion curves, and FastSHAP
//!    timed against game evaluations in interleaved rounds → [`record::ImageRecord`]s;
//! 2. **shard / merge**: `--shard K/N` stops after phase 1 and writes `records.json`;
//!    `--merge DIR…` reads the shards back (phase 1 is per image, so N machines split it);
//! 3. **aggregate**: scores with intervals, paired comparisons, the answer → [`Fidelity`];
//! 4. **render**: `fidelity.json`/`.md`, tables, plots, maps, `report.md`; with the
//!    explainer's training snapshots, its learning curve ([`curve`]).
//!
//! `--truth-from DIR` ([`rescore`]) replaces phase 1 for another explainer of the same
//! surrogate: an earlier run's records, with only the explainer's parts measured again;
//! `--versus DIR` ([`versus`]) then pairs the two explainers image by image.
//!
//! Images come from the test split; no trainer validates on it (validation is a held-out part
//! of the training split, [`crate::data::holdout`]), so evaluated images never took part in
//! any selection.

pub mod aggregate;
pub mod curve;
mod measure;
mod picture;
pub mod record;
mod render;
mod rescore;
pub mod verdict;
pub mod versus;

pub use aggregate::{AucEntry, Fidelity, Timing};
pub use render::{PAPER_AUC, fidelity_md};
pub use rescore::rescore;
pub use verdict::{Comparison, Verdict};

use super::SurrogateModel;
use super::explainer::Explainer;
use crate::data::Dataset;
use crate::train::Model;
use anyhow::{Context, Result, bail, ensure};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use record::{RECORDS_VERSION, RunMeta, ShardFile, merge_shards};
use std::path::{Path, PathBuf};

/// A KernelSHAP ground truth's standard error relative to ‖φ‖ (explained class): at 0.1 its
/// noise alone caps Pearson with it near 0.995.
pub const DEFAULT_TRUTH_TOLERANCE: f64 = 0.1;

/// Largest P for which `auto` picks exact Shapley values (superpixel 8 on CIFAR).
pub const AUTO_EXACT_MAX_PLAYERS: usize = 16;

/// Sampled coalition pairs for the additivity of games too large to enumerate.
pub const ADDITIVITY_PAIRS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GroundTruth {
    /// Exact Shapley values (P ≤ 20).
    Exact,
    /// KernelSHAP to convergence.
    Kernelshap,
    /// Exact when P ≤ 16, else KernelSHAP.
    Auto,
}

/// `--shard K/N`: this process measures the images at positions ≡ K (mod N), K in 0…N−1 (a
/// Slurm array index or a Kubernetes Indexed Job's completion index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected K/N with 0 ≤ K < N (e.g. 0/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[derive(Clone, Debug)]
pub struct EvaluateConfig {
    pub images: usize,
    pub ground_truth: GroundTruth,
    /// KernelSHAP stops when max std(φ) < threshold · range(φ).
    pub kernelshap_threshold: f64,
    /// KernelSHAP's budget of evaluations per image.
    pub kernelshap_max_evals: usize,
    /// A KernelSHAP ground truth also runs until its standard error ‖σ‖₂ ≤ this × ‖φ‖₂ on the
    /// explained class (its noise floor relative to its size; 0: no such requirement).
    pub truth_tolerance: f64,
    pub bootstrap: usize,
    /// Masks per surrogate call.
    pub batch: usize,
    /// Sign agreement over the ground truth's top-k players by |φ| (0: P/4).
    pub top_k: usize,
    pub seed: u64,
    /// Per-image progress lines on stderr.
    pub progress: bool,
    /// Budgets (game evaluations per image) at which KernelSHAP and permutation sampling are
    /// scored against the ground truth (empty: none).
    pub budgets: Vec<usize>,
    /// Images (the first of the run's choice) that also get KernelSHAP run to convergence
    /// beside exact values; `None`: all.
    pub kernelshap_images: Option<usize>,
    /// Interleaved timing rounds (FastSHAP vs game evaluations).
    pub timing_rounds: usize,
    /// FastSHAP is timed on batches of at least this many images (the shard's repeated): its
    /// throughput, as game evaluations are timed in calls of `batch` masks. 0: the shard's.
    pub fastshap_batch: usize,
    /// Images (the first of the run's choice) that get inclusion/exclusion curves; `None`:
    /// all. The curves cost 14 surrogate calls per image, which at P = 4 outweigh the rest.
    pub curve_images: Option<usize>,
    /// Measure only this shard's images and write `records.json`.
    pub shard: Option<Shard>,
    /// The explainer's training snapshots to score beside it, (step, checkpoint) by step
    /// ([`curve::snapshots_beside`]); empty: no learning curve.
    pub snapshots: Vec<(u64, PathBuf)>,
    /// Another evaluation of the same images and truth whose explainer this one is compared
    /// with, paired over images ([`versus`]).
    pub versus: Option<PathBuf>,
}

/// The budgets of the error-vs-evaluations curves: 32 … 16,384, doubling — from where one
/// antithetic permutation pair fits at P = 16 to well past exact-level error.
pub fn default_budgets() -> Vec<usize> {
    (5..=14).map(|e| 1usize << e).collect()
}

impl Default for EvaluateConfig {
    fn default() -> Self {
        EvaluateConfig {
            images: 16,
            ground_truth: GroundTruth::Auto,
            kernelshap_threshold: 0.01,
            kernelshap_max_evals: 1 << 20,
            truth_tolerance: DEFAULT_TRUTH_TOLERANCE,
            bootstrap: 200,
            batch: 512,
            top_k: 0,
            seed: 0,
            progress: false,
            budgets: default_budgets(),
            kernelshap_images: None,
            timing_rounds: 5,
            fastshap_batch: 0,
            curve_images: None,
            shard: None,
            snapshots: Vec::new(),
            versus: None,
        }
    }
}

/// The original classifier, when its checkpoint is reachable.
pub struct Original<'a> {
    pub path: PathBuf,
    pub model: &'a Model,
}

/// What an evaluation (or one shard of it) produced.
pub struct EvaluateSummary {
    pub players: usize,
    pub classes: usize,
    /// "exact" or "kernelshap".
    pub ground_truth: String,
    /// "original" or "surrogate": whose full-image prediction is explained.
    pub reference: String,
    /// Images measured (a shard's own).
    pub images: usize,
    /// The answer; `None` for a shard (its records await `--merge`).
    pub fidelity: Option<Fidelity>,
    /// Why rollout was skipped, or None when `rollout.png` was written.
    pub rollout_skipped: Option<String>,
    pub files: Vec<PathBuf>,
}

/// `n` distinct test indices chosen with `seed` (a partial Fisher–Yates shuffle), sorted.
pub fn choose_images(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..len).collect();
    let n = n.min(len);
    for i in 0..n {
        let j = rng.random_range(i..len);
        idx.swap(i, j);
    }
    let mut out = idx[..n].to_vec();
    out.sort_unstable();
    out
}

/// The explainer and surrogate must agree on players and classes; one clear error otherwise.
pub fn check_models(explainer: &Explainer, surrogate: &dyn SurrogateModel) -> Result<()> {
    let (es, ss) = (explainer.superpixel(), surrogate.superpixel());
    ensure!(
        es == ss,
        "the explainer has P = {} players (superpixel {es}) but the surrogate has P = {} \
         (superpixel {ss}); evaluate an explainer trained on this surrogate",
        super::players(es),
        super::players(ss)
    );
    ensure!(
        explainer.config.unet.classes == surrogate.classes(),
        "the explainer has {} classes, the surrogate {}",
        explainer.config.unet.classes,
        surrogate.classes()
    );
    Ok(())
}

/// The explainer's training time: the sum of its epochs' seconds in the `metrics.jsonl` beside
/// its checkpoint (`None` when there is none).
pub fn training_seconds(checkpoint: &Path) -> Option<f64> {
    let dir = checkpoint.parent()?;
    let text = std::fs::read_to_string(dir.join(crate::train::state::METRICS)).ok()?;
    let secs: f64 = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["seconds"].as_f64())
        .sum();
    (secs > 0.0).then_some(secs)
}

fn validate(cfg: &EvaluateConfig, p: usize, s: usize) -> Result<bool> {
    ensure!(cfg.images >= 1, "--images must be at least 1");
    ensure!(
        cfg.kernelshap_threshold.is_finite() && cfg.kernelshap_threshold > 0.0,
        "--kernelshap-threshold must be positive, got {}",
        cfg.kernelshap_threshold
    );
    ensure!(
        cfg.truth_tolerance.is_finite() && cfg.truth_tolerance >= 0.0,
        "--truth-tolerance must be ≥ 0, got {}",
        cfg.truth_tolerance
    );
    Ok(match cfg.ground_truth {
        GroundTruth::Exact => {
            ensure!(
                p <= 20,
                "--ground-truth exact enumerates 2^P coalitions; P = {p} (superpixel {s}) is \
                 too many (at most 20): use kernelshap or auto"
            );
            true
        }
        GroundTruth::Kernelshap => false,
        GroundTruth::Auto => p <= AUTO_EXACT_MAX_PLAYERS,
    })
}

/// Runs the evaluation (or, with `cfg.shard`, one shard of it) and writes its files under
/// `out`. `explainer_path` names the checkpoint (its training time is read beside it).
pub fn evaluate(
    explainer: &Explainer,
    explainer_path: &Path,
    surrogate: &dyn SurrogateModel,
    original: Option<&Original>,
    test: &Dataset,
    cfg: &EvaluateConfig,
    out: &Path,
) -> Result<EvaluateSummary> {
    check_models(explainer, surrogate)?;
    ensure!(!test.is_empty(), "the test split is empty");
    let s = surrogate.superpixel();
    let (p, k) = (super::players(s), surrogate.classes());
    let exact = validate(cfg, p, s)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let classes: Vec<String> = if explainer.classes.len() == k {
        explainer.classes.clone()
    } else {
        (0..k).map(|c| format!("class {c}")).collect()
    };
    let idx = choose_images(test.len(), cfg.images, cfg.seed);
    // The other run is read (and its images checked) before hours of measuring.
    let other = read_versus(cfg.versus.as_deref(), cfg.shard.is_some(), out)?;
    if let Some(o) = &other {
        versus::check_images(o, &idx)?;
    }
    let shard = cfg.shard.unwrap_or(Shard { index: 0, count: 1 });
    let items: Vec<(usize, usize)> = idx
        .iter()
        .copied()
        .enumerate()
        .filter(|(pos, _)| pos % shard.count == shard.index)
        .collect();
    ensure!(
        !items.is_empty(),
        "shard {}/{} has no images: the run chooses only {} (use fewer shards)",
        shard.index,
        shard.count,
        idx.len()
    );
    let mut meta = RunMeta {
        version: RECORDS_VERSION,
        players: p,
        classes,
        ground_truth: if exact { "exact" } else { "kernelshap" }.into(),
        reference: if original.is_some() {
            "original"
        } else {
            "surrogate"
        }
        .into(),
        top_k: if cfg.top_k == 0 {
            (p / 4).max(1)
        } else {
            cfg.top_k
        },
        budgets: cfg.budgets.clone(),
        seed: cfg.seed,
        images: idx.len(),
        kernelshap_threshold: cfg.kernelshap_threshold,
        truth_tolerance: cfg.truth_tolerance,
        batch: cfg.batch,
        rollout_skipped: None,
        training_seconds: training_seconds(explainer_path),
        explainer: explainer_path.display().to_string(),
    };
    let chosen = measure::Chosen { test, items };
    let (records, timing) =
        measure::measure(explainer, surrogate, original, &chosen, cfg, &mut meta)?;
    let file = ShardFile {
        meta,
        shard: (shard.index, shard.count),
        records,
        timing,
    };
    if cfg.shard.is_some() {
        file.write(out)?;
        return Ok(EvaluateSummary {
            players: p,
            classes: k,
            ground_truth: file.meta.ground_truth.clone(),
            reference: file.meta.reference.clone(),
            images: file.records.len(),
            fidelity: None,
            rollout_skipped: file.meta.rollout_skipped.clone(),
            files: vec![out.join(record::RECORDS_FILE)],
        });
    }
    finish(
        vec![("this run".into(), file)],
        cfg.bootstrap,
        other.as_ref(),
        out,
    )
}

/// `--versus DIR`'s records; refused with `--shard` (a shard has no answer to compare) and
/// when --out is DIR (its records would be replaced by this run's).
fn read_versus(dir: Option<&Path>, shard: bool, out: &Path) -> Result<Option<versus::Other>> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    ensure!(
        !shard,
        "--versus compares whole evaluations; give it to the --merge of the shards"
    );
    ensure!(
        !same_dir(dir, out),
        "--out {} is the --versus directory; write this evaluation elsewhere",
        out.display()
    );
    versus::read(dir).map(Some)
}

/// `evaluate --merge DIR…`: the shards' records → the same answer as one unsharded run.
pub fn merge(
    dirs: &[PathBuf],
    bootstrap: usize,
    versus: Option<&Path>,
    out: &Path,
) -> Result<EvaluateSummary> {
    if dirs.is_empty() {
        bail!("--merge needs at least one shard directory");
    }
    let other = read_versus(versus, false, out)?;
    // The merged records.json is written into --out: it must not replace a shard's.
    for d in dirs {
        ensure!(
            !out.join(record::RECORDS_FILE).exists() || !same_dir(d, out),
            "--out {} is one of the shard directories; merge into another directory",
            out.display()
        );
    }
    let files = dirs
        .iter()
        .map(|d| Ok((d.display().to_string(), ShardFile::read(d)?)))
        .collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    finish(files, bootstrap, other.as_ref(), out)
}

/// Whether two paths name the same directory (both must exist to be compared).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn finish(
    files: Vec<(String, ShardFile)>,
    bootstrap: usize,
    other: Option<&versus::Other>,
    out: &Path,
) -> Result<EvaluateSummary> {
    let (meta, records, timing) = merge_shards(files)?;
    // The whole run's records (a merge's too), so `--truth-from` can score another explainer.
    let whole = ShardFile {
        meta,
        shard: (0, 1),
        records,
        timing,
    };
    whole.write(out)?;
    let ShardFile {
        meta,
        records,
        timing,
        ..
    } = whole;
    let mut fidelity = aggregate::aggregate(&meta, &records, &timing, bootstrap);
    if let Some(o) = other {
        let v = versus::compare(&meta, &records, o, bootstrap).map_err(|e| {
            anyhow::anyhow!(
                "{e:#} (this run's records are kept in {}: `fastshap evaluate --merge {} --out \
                 NEW` renders them without --versus)",
                out.join(record::RECORDS_FILE).display(),
                out.display()
            )
        })?;
        fidelity.versus = Some(v);
    }
    let mut written = render::render(&meta, &records, &fidelity, out)?;
    written.push(out.join(record::RECORDS_FILE));
    Ok(EvaluateSummary {
        players: meta.players,
        classes: meta.classes.len(),
        ground_truth: meta.ground_truth.clone(),
        reference: meta.reference.clone(),
        images: records.len(),
        fidelity: Some(fidelity),
        rollout_skipped: meta.rollout_skipped.clone(),
        files: written,
    })
}
