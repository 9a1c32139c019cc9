//! `fastshap reproduce`: the paper's whole experiment in one resumable command (see
//! [`crate::reproduce`]); `fastshap demo` is its tiny preset on the embedded data.

use crate::reproduce::{Plan, ReproOptions, ReproPreset, reproduce};
use anyhow::{Result, ensure};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// smoke (CI, ~1 min on a CPU), tiny (minutes on a CPU), short (full models, minutes on a
    /// GPU) or paper (the paper's schedules, hours on a GPU); the fidelity experiment, sized by
    /// measurement: demo (~7 min) or cpu (~45 min, ≥ 50 images, for the full data).
    #[arg(long, value_enum, default_value = "tiny")]
    preset: ReproPreset,
    /// CIFAR-10 source (directory, archive, compact file) or `embedded`.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Output directory; rerun with the same one to resume an interrupted reproduction.
    #[arg(long)]
    out: PathBuf,
    /// Print only the stage lines.
    #[arg(long)]
    quiet: bool,
    /// `cpu` and `demo` only: players' side in pixels, 2 (256 players, the paper's), 4 (64,
    /// the default) or 8 (16, exact ground truth).
    #[arg(long)]
    superpixel: Option<usize>,
    /// `cpu` and `demo` only: minutes of stages to size the run for (default 45 and 7).
    #[arg(long)]
    minutes: Option<f64>,
    /// `cpu` and `demo` only: the surrogate whose game is explained, the ViT (default) or a
    /// ResNet (the tiny one, with the mask channel; the demo's explainer then starts from it).
    #[arg(long, value_enum)]
    surrogate_arch: Option<FidelitySurrogate>,
}

/// The fidelity experiment's surrogate network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FidelitySurrogate {
    Vit,
    Resnet,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    let mut plan = Plan::new(a.preset);
    if let Some(s) = a.superpixel {
        plan = plan.with_superpixel(s)?;
    }
    if a.surrogate_arch == Some(FidelitySurrogate::Resnet) {
        plan = plan.with_resnet_surrogate()?;
    }
    if let Some(m) = a.minutes {
        ensure!(
            plan.sized_by_measurement(),
            "--minutes sizes the cpu and demo presets; preset {:?} has fixed budgets",
            a.preset
        );
        ensure!(
            m.is_finite() && m >= 1.0,
            "--minutes must be at least 1, not {m}"
        );
    }
    crate::gpu::init(gpu)?;
    let opts = ReproOptions {
        quiet: a.quiet,
        target_seconds: a.minutes.map(|m| m * 60.0),
    };
    let report = reproduce(&plan, &a.data, &a.out, &opts)?;
    println!("open {} in a browser", report.display());
    Ok(())
}
