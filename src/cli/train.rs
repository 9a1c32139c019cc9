//! `fastshap train`: trains a model with the paper's recipe for its architecture (printed at the
//! start), any setting overridable by a flag; `--resume DIR` continues a stopped run.

use crate::train::config::{Arch, AugmentKind, ModelConfig, OptimKind, Preset, TrainConfig};
use crate::train::state;
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architecture (required unless --resume).
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// CIFAR-10 source (directory, archive, compact file) or `embedded`.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Run directory (metrics.jsonl, last/best checkpoints, config.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (all settings come from DIR).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arch", "out"])]
    resume: Option<PathBuf>,
    /// Model size: tiny (CPU-friendly) or full (the paper's).
    #[arg(long, value_enum, default_value = "full")]
    preset: Preset,
    /// Pretrained MAE checkpoint whose encoder starts an mae-classifier.
    #[arg(long, value_name = "CHECKPOINT")]
    init: Option<PathBuf>,
    // Negative numbers are parsed (and refused as such) so the message names the flag, rather
    // than clap's "unexpected argument '-4'".
    #[arg(long, allow_negative_numbers = true)]
    epochs: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    batch_size: Option<usize>,
    #[arg(long, value_enum)]
    optimizer: Option<OptimKind>,
    /// Learning rate (MAE pre-training default: 1.5e-4 × batch/256).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    weight_decay: Option<f64>,
    /// Adam betas as `b1,b2`.
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 2,
        allow_negative_numbers = true
    )]
    betas: Option<Vec<f64>>,
    #[arg(long, allow_negative_numbers = true)]
    momentum: Option<f64>,
    #[command(flatten)]
    schedule: super::schedule_flags::ScheduleFlags,
    #[arg(long, allow_negative_numbers = true)]
    label_smoothing: Option<f64>,
    #[arg(long, value_enum)]
    augment: Option<AugmentKind>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Clip the global gradient norm to this value.
    #[arg(long, allow_negative_numbers = true)]
    clip_grad: Option<f64>,
    /// MAE mask ratio.
    #[arg(long, allow_negative_numbers = true)]
    mask_ratio: Option<f32>,
    /// Read the loss back from the device every N steps.
    #[arg(long, default_value_t = 10)]
    log_every: usize,
    #[command(flatten)]
    run: super::run_flags::RunFlags,
}

fn build_config(a: &Args, arch: Arch) -> Result<TrainConfig> {
    let mut c = TrainConfig::recipe(arch, a.preset, &a.data);
    if let Some(v) = a.batch_size {
        c.batch_size = v;
        if arch == Arch::MaePretrain {
            // The MAE recipe scales the rate with the batch: 1.5e-4 per 256 images.
            c.lr = 1.5e-4 * v as f64 / 256.0;
        }
    }
    c.epochs = a.epochs.unwrap_or(c.epochs);
    c.optimizer = a.optimizer.unwrap_or(c.optimizer);
    c.lr = a.lr.unwrap_or(c.lr);
    c.weight_decay = a.weight_decay.unwrap_or(c.weight_decay);
    if let Some(b) = &a.betas {
        c.betas = (b[0], b[1]);
    }
    c.momentum = a.momentum.unwrap_or(c.momentum);
    c.schedule = a.schedule.schedule(c.schedule);
    c.label_smoothing = a.label_smoothing.unwrap_or(c.label_smoothing);
    c.augment = a.augment.unwrap_or(c.augment);
    c.seed = a.seed;
    c.clip_grad = a.clip_grad;
    if let (Some(r), ModelConfig::Mae(m)) = (a.mask_ratio, &mut c.model) {
        m.mask_ratio = r;
    }
    c.log_every = a.log_every;
    c.train_limit = a.run.train_limit;
    c.val_limit = a.run.val_limit;
    if a.init.is_some() && arch != Arch::MaeClassifier {
        bail!("--init is for --arch mae-classifier (a pretrained MAE's encoder)");
    }
    c.init = a.init.clone();
    c.validate()?;
    Ok(c)
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    let opts = a.run.run_options();
    let (cfg, dir, resumed) = match &a.resume {
        Some(dir) => {
            let r = state::read_resume(dir)?;
            (r.config.clone(), dir.clone(), Some(r))
        }
        None => {
            let Some(arch) = a.arch else {
                bail!("--arch is required (resnet18, vit, mae-pretrain or mae-classifier)");
            };
            let Some(out) = a.out.clone() else {
                bail!("--out DIR is required (where checkpoints and metrics go)");
            };
            (build_config(a, arch)?, out, None)
        }
    };
    crate::gpu::init(gpu)?;
    let (fit, val) = crate::data::load_fit_val(&cfg.data)?;
    crate::train::train(&cfg, &fit, &val, &dir, resumed.as_ref(), &opts)?;
    Ok(())
}
