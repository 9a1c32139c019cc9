//! What the expensive, per-image phase of an evaluation leaves behind: one [`ImageRecord`] per
//! test image (every estimator's φ, the ground truth, budget errors, additivity, curves) and
//! the shard's [`ShardTiming`]. Everything after it (scores, intervals, tables, plots) is
//! computed from records alone, so shards run anywhere (`evaluate --shard K/N`) and
//! `evaluate --merge` turns their `records.json` files into the same answer as one run.

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;

/// The file a shard writes.
pub const RECORDS_FILE: &str = "records.json";
/// Bumped whenever a field changes meaning, so a merge never mixes incompatible shards.
pub const RECORDS_VERSION: u32 = 1;

/// JSON has no NaN: serde_json writes it as null; this reads null back as NaN (a metric that
/// is undefined, e.g. the Pearson of a constant φ, or a budget an estimator could not run at).
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One estimator's φ on one image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EstimatorPhi {
    pub name: String,
    /// Game evaluations it spent (`None`: an explainer pass).
    pub evaluations: Option<f64>,
    /// P×K, player-major.
    pub phi: Vec<f64>,
}

/// The explainer's φ at one training snapshot on one image: a point of the learning curve
/// ([`super::curve`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotPhi {
    /// Optimizer steps the snapshot's weights had taken.
    pub step: u64,
    /// P×K, player-major.
    pub phi: Vec<f64>,
}

/// An estimator's error at one budget on one image (explained class); NaN where it could not
/// run at that budget.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct BudgetCell {
    #[serde(deserialize_with = "nan_if_null")]
    pub evaluations: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub pearson: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub l2: f64,
}

/// One method's inclusion or exclusion curve on one image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurveRecord {
    pub method: String,
    /// "inclusion" or "exclusion".
    pub mode: String,
    pub x: Vec<f64>,
    pub top1: Vec<f64>,
    pub log_odds: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Position in the run's seeded choice of images (sorts merged shards back into order).
    pub position: usize,
    /// Index in the test split.
    pub index: usize,
    pub label: String,
    /// The image itself (3×32×32 CHW bytes), so a merge draws maps without the data.
    pub image: Vec<u8>,
    /// The explained class.
    pub class: usize,
    pub surrogate_probs: Vec<f64>,
    pub original_probs: Option<Vec<f64>>,
    /// Ground truth φ, P×K.
    pub truth: Vec<f64>,
    /// Its standard errors when it is KernelSHAP run to convergence (P×K), else none.
    pub truth_std: Option<Vec<f64>>,
    pub truth_evaluations: f64,
    pub truth_converged: bool,
    /// Every estimator, FastSHAP first.
    pub estimators: Vec<EstimatorPhi>,
    /// `budgets[method][b]` for the config's budgets ("kernelshap", "permutation").
    pub budgets: Vec<(String, Vec<BudgetCell>)>,
    /// Share of the explained class's kernel-weighted variance the additive model explains.
    #[serde(deserialize_with = "nan_if_null")]
    pub additivity: f64,
    /// |Σφ − (v(N) − v(∅))| of the ground truth, largest over classes.
    pub efficiency_gap: f64,
    pub curves: Vec<CurveRecord>,
    /// Attention rollout of a ViT/MAE original: (grid side, g×g map).
    pub rollout: Option<(usize, Vec<f64>)>,
    /// The explainer's training snapshots, by step (none: no learning curve).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<SnapshotPhi>,
}

impl ImageRecord {
    pub fn estimator(&self, name: &str) -> Option<&EstimatorPhi> {
        self.estimators.iter().find(|e| e.name == name)
    }

    /// The ground truth's standard error relative to its size on the explained class,
    /// ‖σ‖₂ / ‖φ‖₂ (`None` for exact values).
    pub fn truth_relative_se(&self, players: usize, classes: usize) -> Option<f64> {
        let std = self.truth_std.as_ref()?;
        let norm = |v: &[f64]| {
            crate::fastshap::fidelity::column(v, players, classes, self.class)
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()
        };
        Some(norm(std) / norm(&self.truth).max(f64::MIN_POSITIVE))
    }
}

/// Timing of one shard: FastSHAP and game evaluations measured interleaved, several rounds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ShardTiming {
    pub device: String,
    /// Per round: (FastSHAP seconds per image in a batch of the shard's images, seconds per game
    /// evaluation in a call of `batch` masks), measured back to back.
    pub rounds: Vec<(f64, f64)>,
    /// FastSHAP on a single image, seconds, one per round.
    pub single: Vec<f64>,
    /// Images per timed FastSHAP batch (0 in records written before it was kept: the
    /// shard's images).
    #[serde(default)]
    pub batch_images: usize,
    /// Ground truth: total seconds and evaluations over the shard's images.
    pub truth_seconds: f64,
    pub truth_evaluations: f64,
    /// KernelSHAP run to convergence (exact ground truth): seconds, evaluations, images.
    pub kernelshap_seconds: f64,
    pub kernelshap_evaluations: f64,
    pub kernelshap_images: usize,
}

impl ShardTiming {
    /// Adds `other`'s ground-truth and converged-KernelSHAP cost (pooling runs or shards).
    pub fn add_truth(&mut self, other: &ShardTiming) {
        self.truth_seconds += other.truth_seconds;
        self.truth_evaluations += other.truth_evaluations;
        self.kernelshap_seconds += other.kernelshap_seconds;
        self.kernelshap_evaluations += other.kernelshap_evaluations;
        self.kernelshap_images += other.kernelshap_images;
    }
}

/// What every shard of one evaluation must agree on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub version: u32,
    pub players: usize,
    pub classes: Vec<String>,
    /// "exact" or "kernelshap".
    pub ground_truth: String,
    /// "original" or "surrogate": whose prediction is explained.
    pub reference: String,
    pub top_k: usize,
    pub budgets: Vec<usize>,
    pub seed: u64,
    /// Images of the whole run (all shards together).
    pub images: usize,
    pub kernelshap_threshold: f64,
    /// The ground truth's required ‖σ‖/‖φ‖ (0 in records from before it existed).
    #[serde(default)]
    pub truth_tolerance: f64,
    pub batch: usize,
    /// Why attention rollout was skipped (`None`: records carry it).
    pub rollout_skipped: Option<String>,
    /// The explainer's training time (from its `metrics.jsonl`), for the break-even count.
    pub training_seconds: Option<f64>,
    pub explainer: String,
}

/// One shard's file: its part of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    pub meta: RunMeta,
    /// (K, N) of `--shard K/N`; (0, 1) for an unsharded run.
    pub shard: (usize, usize),
    pub records: Vec<ImageRecord>,
    pub timing: ShardTiming,
}

impl ShardFile {
    pub fn write(&self, dir: &Path) -> Result<()> {
        let body = serde_json::to_vec(self)?;
        crate::io::write_atomic(&dir.join(RECORDS_FILE), &body)
    }

    pub fn read(dir: &Path) -> Result<ShardFile> {
        let path = dir.join(RECORDS_FILE);
        let text = std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {} (run `fastshap evaluate --shard K/N --out {}` first)",
                path.display(),
                dir.display()
            )
        })?;
        let f: ShardFile = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not an evaluation shard's records", path.display()))?;
        ensure!(
            f.meta.version == RECORDS_VERSION,
            "{}: records version {} (this fastshap reads version {RECORDS_VERSION}); rerun that \
             shard with this binary",
            path.display(),
            f.meta.version
        );
        Ok(f)
    }

    /// The records of a whole evaluation in `dir` (unsharded, or a merge): what `--truth-from`
    /// and `--versus` read; a shard's are refused.
    pub fn read_whole(dir: &Path) -> Result<ShardFile> {
        let f = ShardFile::read(dir)?;
        ensure!(
            f.shard.1 == 1,
            "{}: the records of shard {}/{}; join the shards with `fastshap evaluate --merge` \
             and use the merged directory",
            dir.display(),
            f.shard.0,
            f.shard.1
        );
        Ok(f)
    }
}

/// The shards of one run, checked to belong together and to cover every image exactly once;
/// records in the run's order, timings pooled.
pub fn merge_shards(
    files: Vec<(String, ShardFile)>,
) -> Result<(RunMeta, Vec<ImageRecord>, ShardTiming)> {
    let Some((first_name, first)) = files.first() else {
        bail!("--merge needs at least one shard directory");
    };
    let meta = first.meta.clone();
    let n = first.shard.1;
    let mut seen = vec![false; n];
    let mut records = Vec::new();
    let mut timing = ShardTiming {
        device: first.timing.device.clone(),
        ..ShardTiming::default()
    };
    for (name, f) in &files {
        ensure!(
            f.meta == meta,
            "{name} belongs to another evaluation than {first_name} (explainer, images, seed, \
             budgets or ground truth differ)"
        );
        ensure!(
            f.shard.1 == n,
            "{name} is shard {}/{} but {first_name} is one of {n}",
            f.shard.0,
            f.shard.1
        );
        ensure!(
            !seen[f.shard.0],
            "shard {}/{n} is given twice ({name})",
            f.shard.0
        );
        seen[f.shard.0] = true;
        records.extend(f.records.iter().cloned());
        let t = &f.timing;
        timing.rounds.extend(&t.rounds);
        timing.single.extend(&t.single);
        timing.batch_images = timing.batch_images.max(t.batch_images);
        timing.add_truth(t);
    }
    let missing: Vec<String> = (0..n)
        .filter(|&k| !seen[k])
        .map(|k| format!("{k}/{n}"))
        .collect();
    ensure!(
        missing.is_empty(),
        "shards {} are missing from the merge",
        missing.join(", ")
    );
    records.sort_by_key(|r| r.position);
    ensure!(
        records.len() == meta.images,
        "the shards hold {} images but the run chose {}",
        records.len(),
        meta.images
    );
    Ok((meta, records, timing))
}
