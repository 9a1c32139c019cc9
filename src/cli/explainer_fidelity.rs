//! `fastshap evaluate`: the explainer against ground-truth Shapley values (exact or converged
//! KernelSHAP) through its surrogate, beside the cheap baselines and the sampling estimators
//! at their budgets; `--shard K/N` measures a part of the images, `--merge DIR…` joins shards,
//! `--truth-from DIR` scores another explainer against an earlier evaluation's ground truth.
//! The training snapshots beside the explainer (or `--snapshots FILE…`) give its learning curve.
//! See [`crate::fastshap::evaluate`] for what each file holds.

use crate::fastshap::evaluate::{
    EvaluateConfig, EvaluateSummary, GroundTruth, Original, Shard, curve, evaluate, merge, rescore,
};
use anyhow::{Context, Result, ensure};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The explainer's checkpoint (from `fastshap explainer`); not with --merge.
    #[arg(long, required_unless_present = "merge")]
    explainer: Option<PathBuf>,
    /// The surrogate's checkpoint (default: the one the explainer was trained with).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// The original classifier (default: the one the surrogate was trained from, if its file
    /// is still there); a PyTorch state dict with --arch.
    #[arg(long)]
    original: Option<PathBuf>,
    #[command(flatten)]
    arch: super::model_flags::ArchArgs,
    /// CIFAR-10 source or `embedded`; images are drawn from its test split.
    #[arg(long, required_unless_present_any = ["merge", "truth_from"])]
    data: Option<String>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Test images to evaluate on (a seeded choice).
    #[arg(long, default_value_t = 16)]
    images: usize,
    /// Ground truth: exact Shapley values, KernelSHAP to convergence, or exact when P ≤ 16.
    #[arg(long, value_enum, default_value_t = GroundTruth::Auto)]
    ground_truth: GroundTruth,
    /// KernelSHAP stops when max std(φ) < threshold × range(φ).
    #[arg(long, default_value_t = 0.01)]
    kernelshap_threshold: f64,
    /// A KernelSHAP ground truth also runs until its standard error ‖σ‖ ≤ this × ‖φ‖ (explained
    /// class; 0: off).
    #[arg(long, default_value_t = crate::fastshap::evaluate::DEFAULT_TRUTH_TOLERANCE)]
    truth_tolerance: f64,
    /// KernelSHAP's budget of surrogate evaluations per image.
    #[arg(long, default_value_t = 1 << 20)]
    kernelshap_max_evals: usize,
    /// Bootstrap resamples for the intervals.
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Masked images per surrogate call.
    #[arg(long, default_value_t = 512)]
    batch_size: usize,
    /// Sign agreement over the top-k players by |φ| (default P/4).
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Game-evaluation budgets at which KernelSHAP and permutation sampling are scored against
    /// the ground truth (comma-separated; default 32,64,…,16384).
    #[arg(long, value_delimiter = ',')]
    budgets: Option<Vec<usize>>,
    /// Images that also get a full KernelSHAP run beside exact values (default: all).
    #[arg(long)]
    kernelshap_images: Option<usize>,
    /// Interleaved rounds timing FastSHAP against game evaluations (medians are reported).
    #[arg(long, default_value_t = 5)]
    timing_rounds: usize,
    /// Time FastSHAP on batches of at least this many images (the evaluated ones repeated): its
    /// throughput, as game evaluations are timed in calls of --batch-size masks. 0: the
    /// evaluated images as one batch.
    #[arg(long, default_value_t = 0)]
    fastshap_batch: usize,
    /// Measure only shard K of N (K = 0…N−1: the images at positions ≡ K mod N) and write
    /// `records.json` into --out; join the shards with --merge.
    #[arg(long, conflicts_with = "merge")]
    shard: Option<Shard>,
    /// Join shard directories (each with a `records.json`) into one evaluation in --out.
    #[arg(long, num_args = 1..)]
    merge: Vec<PathBuf>,
    /// Score the explainer against earlier evaluations of the same surrogate (their --out
    /// directories, unsharded or merged; several are pooled, e.g. runs with other --seed for
    /// more images): their images, ground truth and baselines are reused, and only the
    /// explainer's φ, curves, snapshots and timing are measured. --images, --seed,
    /// --ground-truth and --budgets come from those records.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["merge", "shard"])]
    truth_from: Vec<PathBuf>,
    /// Compare this explainer with the one scored in DIR, an evaluation of the same images and
    /// ground truth (e.g. a `--truth-from` run of the same records): FastSHAP − its FastSHAP
    /// per image, Pearson and L2 with paired intervals (`fidelity.json` `versus`, the report).
    #[arg(long, value_name = "DIR", conflicts_with = "shard")]
    versus: Option<PathBuf>,
    /// Training snapshots to score for the learning curve (default: those in the snapshots/
    /// folder beside --explainer, from `fastshap explainer --snapshots N`).
    #[arg(long, num_args = 1.., value_name = "FILE", conflicts_with = "no_snapshots")]
    snapshots: Vec<PathBuf>,
    /// No learning curve, even when the explainer's run kept snapshots.
    #[arg(long)]
    no_snapshots: bool,
    /// No per-image progress lines and no throughput line.
    #[arg(long)]
    quiet: bool,
}

fn measure(a: &Args, gpu: &crate::gpu::Options) -> Result<EvaluateSummary> {
    ensure!(a.images >= 1, "--images must be at least 1");
    ensure!(a.batch_size >= 2, "--batch-size must be at least 2");
    ensure!(a.top_k != Some(0), "--top-k must be at least 1");
    crate::gpu::init(gpu)?;
    let path = a.explainer.as_ref().context("--explainer is required")?;
    let (explainer, surrogate, _) =
        super::model_flags::explainer_and_surrogate(path, a.surrogate.as_deref())?;
    crate::fastshap::evaluate::check_models(&explainer, &surrogate)?;
    let snapshots = if a.no_snapshots {
        Vec::new()
    } else if a.snapshots.is_empty() {
        curve::snapshots_beside(path)?
    } else {
        curve::snapshots_at(&a.snapshots)?
    };
    let cfg = EvaluateConfig {
        images: a.images,
        ground_truth: a.ground_truth,
        kernelshap_threshold: a.kernelshap_threshold,
        kernelshap_max_evals: a.kernelshap_max_evals,
        truth_tolerance: a.truth_tolerance,
        bootstrap: a.bootstrap,
        batch: a.batch_size,
        top_k: a.top_k.unwrap_or(0),
        seed: a.seed,
        progress: !a.quiet,
        budgets: a
            .budgets
            .clone()
            .unwrap_or_else(crate::fastshap::evaluate::default_budgets),
        kernelshap_images: a.kernelshap_images,
        timing_rounds: a.timing_rounds,
        fastshap_batch: a.fastshap_batch,
        curve_images: None,
        shard: a.shard,
        snapshots,
        versus: a.versus.clone(),
    };
    if !a.truth_from.is_empty() {
        return rescore(&explainer, path, &surrogate, &a.truth_from, &cfg, &a.out);
    }
    let original_model =
        super::model_flags::original_of(&surrogate, a.original.as_deref(), &a.arch)?;
    let original = original_model.as_ref().map(|(path, model)| Original {
        path: path.clone(),
        model,
    });
    let (_, test) = crate::data::load_source(a.data.as_deref().context("--data is required")?)?;
    evaluate(
        &explainer,
        path,
        &surrogate,
        original.as_ref(),
        &test,
        &cfg,
        &a.out,
    )
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    let t0 = Instant::now();
    let s = if a.merge.is_empty() {
        measure(a, gpu)?
    } else {
        merge(&a.merge, a.bootstrap, a.versus.as_deref(), &a.out)?
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "evaluated {} images (P = {}, ground truth {}) in {secs:.1} s",
        s.images, s.players, s.ground_truth,
    );
    let Some(f) = &s.fidelity else {
        println!(
            "shard {}: wrote {}; join the shards with `fastshap evaluate --merge DIR… --out DIR`",
            a.shard
                .map_or(String::new(), |k| format!("{}/{}", k.index, k.count)),
            s.files[0].display()
        );
        return Ok(());
    };
    super::fidelity_answer::print(&s, f);
    if let Some(c) = &f.learning_curve {
        println!(
            "learning curve ({} snapshots, {}): {}",
            c.points.len() - 1,
            curve::CURVE_MD,
            c.verdict
        );
    }
    println!("wrote {} files to {}", s.files.len(), a.out.display());
    Ok(())
}
