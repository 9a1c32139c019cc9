//! `fastshap surrogate`: trains a surrogate of an original classifier on masked inputs (the
//! FastSHAP reference's recipe; see `fastshap::surrogate`); `--resume DIR` continues a stopped
//! run.

use crate::fastshap::surrogate::{
    SurrogateArch, SurrogateConfig, SurrogateLoss, read_resume, train_surrogate,
};
use crate::train::arch::{ArchFlags, ArchHint, ClassifierArch, resolve};
use crate::train::config::{AugmentKind, Preset};
use crate::train::schedule::Schedule;
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The original classifier's checkpoint (from `fastshap train`, or a PyTorch state dict
    /// with --original-arch; required unless --resume).
    #[arg(long)]
    original: Option<PathBuf>,
    /// The original's architecture when it is a plain PyTorch state dict (see `eval --arch`);
    /// recorded in the surrogate, so `explain` and `evaluate` need no flag.
    #[arg(long, value_enum)]
    original_arch: Option<ClassifierArch>,
    /// Attention heads of a vit / mae-classifier original state dict.
    #[arg(long)]
    original_heads: Option<usize>,
    /// A JSON object of config fields for the original, replacing inferred ones.
    #[arg(long)]
    original_arch_config: Option<PathBuf>,
    /// Required unless --resume.
    #[arg(long, value_enum)]
    arch: Option<SurrogateArch>,
    /// Continue the run in DIR from its last checkpoint (all settings come from DIR).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["original", "arch", "out"])]
    resume: Option<PathBuf>,
    /// CIFAR-10 source (directory, archive, compact file) or `embedded`.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Run directory (metrics.jsonl, best/last checkpoints, config.json; required unless
    /// --resume).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Superpixel side in pixels: 2, 4, 8 or 16 (256, 64, 16 or 4 players).
    #[arg(long, default_value_t = 2)]
    superpixel: usize,
    #[arg(long, value_enum, default_value = "kl")]
    loss: SurrogateLoss,
    /// Model size: tiny (CPU-friendly) or full (the paper's).
    #[arg(long, value_enum, default_value = "full")]
    preset: Preset,
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    lr: f64,
    /// Reduce-on-plateau patience (epochs); the rate halves down to 1e-5.
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 5)]
    early_stop: usize,
    #[arg(long, value_enum, default_value = "crop-flip")]
    augment: AugmentKind,
    /// Fixed masks per validation image.
    #[arg(long, default_value_t = 1)]
    val_samples: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    run: super::run_flags::RunFlags,
}

fn build_config(a: &Args) -> Result<SurrogateConfig> {
    let (Some(original), Some(arch)) = (&a.original, a.arch) else {
        bail!("--original CHECKPOINT and --arch are required (or --resume DIR)");
    };
    // Recorded absolute, so `explain` finds the original from any working directory.
    let original = std::fs::canonicalize(original).unwrap_or_else(|_| original.clone());
    let mut c = SurrogateConfig::recipe(arch, a.preset, &original, &a.data);
    c.superpixel = a.superpixel;
    c.loss = a.loss;
    c.epochs = a.epochs;
    c.batch_size = a.batch_size;
    c.lr = a.lr;
    c.schedule = Schedule::plateau_fastshap_with(a.patience);
    c.early_stop = a.early_stop;
    c.augment = a.augment;
    c.val_samples = a.val_samples;
    c.seed = a.seed;
    c.train_limit = a.run.train_limit;
    c.val_limit = a.run.val_limit;
    c.validate()?;
    let hint = ArchHint::new(
        a.original_arch,
        a.original_heads,
        a.original_arch_config.as_deref(),
        ArchFlags {
            arch: "--original-arch",
            heads: "--original-heads",
            config: "--original-arch-config",
        },
    )?;
    // The original is known (or the error names the file and the flag) before any work.
    let resolved = resolve(&original, &hint)?;
    c.original_arch = resolved.inferred.then_some(resolved.spec);
    Ok(c)
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    // Bad settings fail before the GPU and the data are touched.
    let (cfg, dir, resumed) = super::run_flags::config_or_resume(
        a.resume.as_deref(),
        a.out.as_deref(),
        read_resume,
        || build_config(a),
    )?;
    crate::gpu::init(gpu)?;
    let (fit, val) = crate::data::load_fit_val(&cfg.data)?;
    let opts = a.run.run_options();
    train_surrogate(&cfg, &fit, &val, &dir, resumed.as_ref(), &opts)?;
    Ok(())
}
