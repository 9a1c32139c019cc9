//! `fastshap evaluate`: the explainer against ground-truth Shapley values (exact or converged
//! KernelSHAP) through its surrogate, inclusion/exclusion curves with bootstrap AUCs, timing
//! and attention rollout; see [`crate::fastshap::evaluate`] for what each file holds.

use crate::fastshap::evaluate::{EvaluateConfig, GroundTruth, Original, evaluate};
use crate::fastshap::explainer::Explainer;
use crate::fastshap::surrogate::Surrogate;
use anyhow::{Result, ensure};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The explainer's checkpoint (from `fastshap explainer`).
    #[arg(long)]
    explainer: PathBuf,
    /// The surrogate's checkpoint (default: the one the explainer was trained with).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// The original classifier (default: the one the surrogate was trained from, if its file
    /// is still there); a PyTorch state dict with --arch.
    #[arg(long)]
    original: Option<PathBuf>,
    #[command(flatten)]
    arch: super::ArchArgs,
    /// CIFAR-10 source or `embedded`; images are drawn from its test split.
    #[arg(long)]
    data: String,
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
    /// KernelSHAP's budget of surrogate evaluations per image.
    #[arg(long, default_value_t = 1 << 20)]
    kernelshap_max_evals: usize,
    /// Bootstrap resamples for the AUC intervals.
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
    /// the exact values (comma-separated; exact ground truth only; default 64,128,…,16384).
    #[arg(long, value_delimiter = ',')]
    budgets: Option<Vec<usize>>,
    /// Images that also get a full KernelSHAP run (default: all).
    #[arg(long)]
    kernelshap_images: Option<usize>,
    /// No per-image progress lines and no throughput line.
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    ensure!(a.images >= 1, "--images must be at least 1");
    ensure!(a.batch_size >= 2, "--batch-size must be at least 2");
    ensure!(a.top_k != Some(0), "--top-k must be at least 1");
    crate::gpu::init(gpu)?;
    let (explainer, recorded) = Explainer::load(&a.explainer)?;
    let sur_path = a.surrogate.clone().unwrap_or(recorded);
    ensure!(
        sur_path.exists(),
        "surrogate checkpoint {} not found (pass --surrogate)",
        sur_path.display()
    );
    let surrogate = Surrogate::load(&sur_path)?;
    crate::fastshap::evaluate::check_models(&explainer, &surrogate)?;
    let original_model = super::original_of(&surrogate, a.original.as_deref(), &a.arch)?;
    let original = original_model.as_ref().map(|(path, model)| Original {
        path: path.clone(),
        model,
    });
    let (_, test) = crate::data::load_source(&a.data)?;
    let cfg = EvaluateConfig {
        images: a.images,
        ground_truth: a.ground_truth,
        kernelshap_threshold: a.kernelshap_threshold,
        kernelshap_max_evals: a.kernelshap_max_evals,
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
    };
    let t0 = Instant::now();
    let s = evaluate(
        &explainer,
        &surrogate,
        original.as_ref(),
        &test,
        &cfg,
        &a.out,
    )?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "evaluated {} images (P = {}, ground truth {}) in {secs:.1} s",
        s.images.len(),
        s.players,
        s.ground_truth,
    );
    if !a.quiet {
        println!(
            "evaluate: {} images in {secs:.1} s ({:.2} images/s)",
            s.images.len(),
            s.images.len() as f64 / secs.max(1e-9)
        );
    }
    let e = &s.mean_fastshap;
    println!(
        "fastshap vs {}: L2 {:.4}, Pearson {:.3}, Spearman {:.3}, sign agreement {:.3}",
        s.ground_truth, e.l2, e.pearson, e.spearman, e.sign_agreement
    );
    for r in &s.auc {
        println!(
            "{:<10} {:?}: top-1 AUC {:.3} [{:.3}, {:.3}]",
            r.method, r.mode, r.top1.0, r.top1.1.0, r.top1.1.1
        );
    }
    println!(
        "curves explain the {}'s prediction{}",
        s.reference,
        if s.reference == "surrogate" {
            " (no original checkpoint reachable from the surrogate's metadata)"
        } else {
            ""
        }
    );
    if let Some(why) = &s.rollout_skipped {
        println!("attention rollout skipped: {why}");
    }
    println!("wrote {} files to {}", s.files.len(), a.out.display());
    Ok(())
}
