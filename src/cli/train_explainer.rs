//! `fastshap explainer`: trains the FastSHAP UNet explainer of a surrogate (see
//! `fastshap::explainer`); `--resume DIR` continues a stopped run.

use crate::fastshap::explainer::{
    ExplainerArch, ExplainerConfig, LinkKind, NormKind, read_resume, train_explainer,
};
use crate::fastshap::surrogate::Surrogate;
use crate::train::config::{AugmentKind, Preset};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The surrogate's checkpoint (from `fastshap surrogate`); sets players and classes
    /// (required unless --resume).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (all settings come from DIR).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["surrogate", "out"])]
    resume: Option<PathBuf>,
    /// CIFAR-10 source (directory, archive, compact file) or `embedded`.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Run directory (metrics.jsonl, best/last checkpoints, config.json; required unless
    /// --resume).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The explainer's network: the paper's UNet, or the surrogate's own ViT or ResNet with a
    /// per-player head (ViT Shapley; needs a surrogate of that kind, whose weights it starts
    /// from).
    #[arg(long, value_enum, default_value = "unet")]
    explainer_arch: ExplainerArch,
    /// UNet size: tiny (CPU-friendly) or full (the paper's, base 64).
    #[arg(long, value_enum, default_value = "full")]
    preset: Preset,
    /// How surrogate logits become the game's value.
    #[arg(long, value_enum, default_value = "log-softmax")]
    link: LinkKind,
    /// Efficiency normalisation of φ (in training and at inference).
    #[arg(long, value_enum, default_value = "additive")]
    normalization: NormKind,
    /// Weight of the efficiency penalty.
    #[arg(long, default_value_t = 1e-2, allow_negative_numbers = true)]
    eff_lambda: f64,
    /// Shapley-kernel masks per image, in complementary pairs (even).
    #[arg(long, default_value_t = 2)]
    samples: usize,
    /// Fixed masks per validation image (even).
    #[arg(long, default_value_t = 2)]
    val_samples: usize,
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true)]
    lr: f64,
    /// The learning-rate schedule: FastSHAP's reduce-on-plateau unless --schedule names
    /// another (cosine decays to 0 over --epochs, per step).
    #[command(flatten)]
    schedule: super::schedule_flags::ScheduleFlags,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 5)]
    early_stop: usize,
    #[arg(long, value_enum, default_value = "none")]
    augment: AugmentKind,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    run: super::run_flags::RunFlags,
}

fn build_config(a: &Args) -> Result<ExplainerConfig> {
    let Some(surrogate) = &a.surrogate else {
        bail!("--surrogate CHECKPOINT is required (or --resume DIR)");
    };
    // Recorded absolute, so `explain` finds the surrogate from any working directory.
    let sur_path = std::fs::canonicalize(surrogate).unwrap_or_else(|_| surrogate.clone());
    let mut c = ExplainerConfig::recipe(a.preset, &sur_path, &a.data);
    c.arch = a.explainer_arch;
    c.link = a.link;
    c.normalization = a.normalization;
    c.eff_lambda = a.eff_lambda;
    c.samples = a.samples;
    c.val_samples = a.val_samples;
    c.epochs = a.epochs;
    c.batch_size = a.batch_size;
    c.lr = a.lr;
    c.schedule = a.schedule.schedule(a.schedule.plateau());
    c.early_stop = a.early_stop;
    c.augment = a.augment;
    c.seed = a.seed;
    c.train_limit = a.run.train_limit;
    c.val_limit = a.run.val_limit;
    c.validate()?;
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
    let surrogate = Surrogate::load(&cfg.surrogate)?;
    let (fit, val) = crate::data::load_fit_val(&cfg.data)?;
    let opts = a.run.run_options();
    train_explainer(&cfg, &surrogate, &fit, &val, &dir, resumed.as_ref(), &opts)?;
    Ok(())
}
