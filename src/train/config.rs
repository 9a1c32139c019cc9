//! A training run's settings. Every field is saved as `config.json` in the run directory, so
//! `--resume DIR` needs nothing else. The paper's recipes are the per-architecture defaults
//! ([`TrainConfig::recipe`]); presets pick the model size ([`Preset::Tiny`] runs on a CPU).

use super::schedule::Schedule;
use crate::data::Augment;
use crate::models::{MaeConfig, ResNetConfig, VitConfig};
use anyhow::{Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Arch {
    Resnet18,
    Vit,
    MaePretrain,
    MaeClassifier,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Preset {
    /// Narrow, shallow models that train in minutes on a CPU adapter.
    Tiny,
    /// The paper's sizes.
    Full,
}

impl Preset {
    /// The ResNet of this size (the paper's ResNet18, or a narrow one-block-per-stage one) with
    /// `in_channels` inputs (3 for an original, 4 for a surrogate) and 10 classes.
    pub fn resnet(self, in_channels: usize) -> ResNetConfig {
        match self {
            Preset::Full => ResNetConfig::resnet18(in_channels, 10),
            Preset::Tiny => ResNetConfig {
                widths: [16, 32, 32, 64],
                blocks: [1, 1, 1, 1],
                ..ResNetConfig::resnet18(in_channels, 10)
            },
        }
    }

    /// The ViT of this size (the paper's 384/384, 12 heads, 7 layers, or 64/64, 4 heads, 2).
    pub fn vit(self, in_channels: usize) -> VitConfig {
        match self {
            Preset::Full => VitConfig::cifar(in_channels),
            Preset::Tiny => VitConfig {
                dim: 64,
                mlp: 64,
                heads: 4,
                depth: 2,
                ..VitConfig::cifar(in_channels)
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum OptimKind {
    Sgd,
    Adam,
    Adamw,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum AugmentKind {
    None,
    /// Random crop (padding 4) and horizontal flip.
    CropFlip,
    /// Crop, flip and AutoAugment (CIFAR-10 policy).
    Autoaugment,
}

impl AugmentKind {
    pub fn augment(self) -> Augment {
        match self {
            AugmentKind::None => Augment::NONE,
            AugmentKind::CropFlip => Augment::STANDARD,
            AugmentKind::Autoaugment => Augment::AUTOAUGMENT,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelConfig {
    ResNet(ResNetConfig),
    Vit(VitConfig),
    /// MAE pre-training, or the MAE encoder of a classifier (with its class count).
    Mae(MaeConfig),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub arch: Arch,
    /// The data source as given (`embedded` or a path).
    pub data: String,
    pub model: ModelConfig,
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimKind,
    pub lr: f64,
    pub weight_decay: f64,
    pub betas: (f64, f64),
    /// SGD momentum.
    pub momentum: f64,
    pub schedule: Schedule,
    pub label_smoothing: f64,
    pub augment: AugmentKind,
    pub seed: u64,
    /// Clip the global gradient norm to this value.
    pub clip_grad: Option<f64>,
    /// Read the accumulated loss back from the device every this many steps.
    pub log_every: usize,
    /// Use only the first N training / validation images (quick runs).
    pub train_limit: Option<usize>,
    pub val_limit: Option<usize>,
    /// A pretrained MAE checkpoint whose encoder starts a classifier.
    pub init: Option<PathBuf>,
}

impl TrainConfig {
    /// The paper's recipe for `arch` at `preset` size (see the module docs of `cli::train`).
    pub fn recipe(arch: Arch, preset: Preset, data: &str) -> TrainConfig {
        let tiny = preset == Preset::Tiny;
        let mae = if tiny {
            MaeConfig {
                dim: 64,
                heads: 4,
                mlp: 128,
                encoder_depth: 2,
                decoder_depth: 1,
                ..MaeConfig::vit_tiny()
            }
        } else {
            MaeConfig::vit_tiny()
        };
        let base = TrainConfig {
            arch,
            data: data.to_string(),
            model: ModelConfig::Mae(mae),
            epochs: 100,
            batch_size: 256,
            optimizer: OptimKind::Adam,
            lr: 1e-3,
            weight_decay: 0.0,
            betas: (0.9, 0.999),
            momentum: 0.9,
            schedule: Schedule::Constant,
            label_smoothing: 0.0,
            augment: AugmentKind::None,
            seed: 0,
            clip_grad: None,
            log_every: 10,
            train_limit: None,
            val_limit: None,
            init: None,
        };
        match arch {
            // FastSHAP's ResNet18 original: Adam 1e-3, batch 256, crop + flip, ReduceLROnPlateau.
            Arch::Resnet18 => TrainConfig {
                model: ModelConfig::ResNet(preset.resnet(3)),
                augment: AugmentKind::CropFlip,
                schedule: Schedule::plateau_fastshap(),
                ..base
            },
            // omihub777/ViT-CIFAR: Adam 1e-3 (wd 5e-5), batch 128, 5 warmup epochs + cosine,
            // label smoothing 0.1, AutoAugment, 200 epochs.
            Arch::Vit => TrainConfig {
                model: ModelConfig::Vit(preset.vit(3)),
                epochs: 200,
                batch_size: 128,
                weight_decay: 5e-5,
                schedule: Schedule::Cosine { warmup: 5.0 },
                label_smoothing: 0.1,
                augment: AugmentKind::Autoaugment,
                ..base
            },
            // IcarusWizard/MAE pre-training: AdamW lr 1.5e-4 × batch/256 (2.4e-3 at 4096),
            // betas (0.9, 0.95), wd 0.05, mask ratio 0.75, 200 warmup epochs of 2000 + cosine.
            Arch::MaePretrain => TrainConfig {
                epochs: 2000,
                batch_size: 4096,
                optimizer: OptimKind::Adamw,
                lr: 1.5e-4 * 4096.0 / 256.0,
                weight_decay: 0.05,
                betas: (0.9, 0.95),
                schedule: Schedule::Cosine { warmup: 200.0 },
                ..base
            },
            // IcarusWizard/MAE fine-tuning: AdamW 1e-3 × 128/256 = 5e-4, wd 0.05, batch 128,
            // 5 warmup epochs of 100 + cosine.
            Arch::MaeClassifier => TrainConfig {
                batch_size: 128,
                optimizer: OptimKind::Adamw,
                lr: 5e-4,
                weight_decay: 0.05,
                schedule: Schedule::Cosine { warmup: 5.0 },
                ..base
            },
        }
    }

    /// Rejects values no run can use, with one message naming the setting.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.epochs >= 1, "--epochs must be at least 1");
        ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        ensure!(
            self.lr.is_finite() && self.lr > 0.0,
            "--lr must be a positive number, got {}",
            self.lr
        );
        ensure!(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "--weight-decay must be ≥ 0, got {}",
            self.weight_decay
        );
        ensure!(
            (0.0..1.0).contains(&self.betas.0) && (0.0..1.0).contains(&self.betas.1),
            "--betas must lie in [0, 1), got {:?}",
            self.betas
        );
        ensure!(
            (0.0..1.0).contains(&self.momentum),
            "--momentum must lie in [0, 1), got {}",
            self.momentum
        );
        ensure!(
            (0.0..1.0).contains(&self.label_smoothing),
            "--label-smoothing must lie in [0, 1), got {}",
            self.label_smoothing
        );
        if let Some(c) = self.clip_grad {
            ensure!(
                c.is_finite() && c > 0.0,
                "--clip-grad must be positive, got {c}"
            );
        }
        ensure!(self.log_every >= 1, "--log-every must be at least 1");
        for (name, lim) in [
            ("--train-limit", self.train_limit),
            ("--val-limit", self.val_limit),
        ] {
            ensure!(lim != Some(0), "{name} must be at least 1");
        }
        match &self.schedule {
            Schedule::Cosine { warmup } => ensure!(
                warmup.is_finite() && *warmup >= 0.0 && *warmup < self.epochs as f64,
                "--warmup ({warmup} epochs) must be ≥ 0 and below --epochs ({})",
                self.epochs
            ),
            Schedule::Step { every, gamma } => ensure!(
                *every >= 1 && gamma.is_finite() && *gamma > 0.0,
                "step schedule needs --step-every ≥ 1 and --gamma > 0"
            ),
            Schedule::Plateau { factor, min_lr, .. } => ensure!(
                *factor > 0.0 && *factor < 1.0 && *min_lr >= 0.0,
                "reduce-on-plateau needs 0 < --plateau-factor < 1 and --min-lr ≥ 0"
            ),
            Schedule::Constant => {}
        }
        if let ModelConfig::Mae(m) = &self.model {
            ensure!(
                m.mask_ratio > 0.0 && m.mask_ratio < 1.0,
                "--mask-ratio must lie in (0, 1), got {}",
                m.mask_ratio
            );
        }
        Ok(())
    }

    /// The settings as lines for the start of a run.
    pub fn describe(&self) -> String {
        let model = match &self.model {
            ModelConfig::ResNet(c) => format!("ResNet widths {:?} blocks {:?}", c.widths, c.blocks),
            ModelConfig::Vit(c) => format!(
                "ViT dim {} mlp {} heads {} depth {} patch {}",
                c.dim, c.mlp, c.heads, c.depth, c.patch
            ),
            ModelConfig::Mae(c) => format!(
                "MAE dim {} heads {} mlp {} encoder {} decoder {} patch {} mask ratio {}",
                c.dim, c.heads, c.mlp, c.encoder_depth, c.decoder_depth, c.patch, c.mask_ratio
            ),
        };
        let optim = match self.optimizer {
            OptimKind::Sgd => format!("SGD momentum {}", self.momentum),
            OptimKind::Adam => format!("Adam betas {:?}", self.betas),
            OptimKind::Adamw => format!("AdamW betas {:?}", self.betas),
        };
        format!(
            "arch {:?}: {model}\n\
             optimizer {optim}, lr {:e}, weight decay {:e}, schedule {}\n\
             epochs {}, batch {}, augmentation {:?}, label smoothing {}, clip grad {:?}, seed {}",
            self.arch,
            self.lr,
            self.weight_decay,
            self.schedule.describe(),
            self.epochs,
            self.batch_size,
            self.augment,
            self.label_smoothing,
            self.clip_grad,
            self.seed
        )
    }
}
