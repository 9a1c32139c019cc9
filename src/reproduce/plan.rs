//! What each `reproduce` preset runs: model sizes, schedules and how much data every stage
//! sees. One [`Plan`] holds all of it and is saved in `reproduce.json`, so a report shows the
//! exact settings and a resumed run refuses to mix presets.

use crate::fastshap::explainer::{ExplainerArch, ExplainerConfig};
use crate::fastshap::surrogate::{SurrogateArch, SurrogateConfig};
use crate::models::{ResNetConfig, VitConfig};
use crate::train::config::{Arch, ModelConfig, Preset, TrainConfig};
use crate::train::schedule::Schedule;
use anyhow::{Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ReproPreset {
    /// The smallest pipeline that still runs every stage (CI): ~1 minute on 2 CPU cores.
    Smoke,
    /// Small widths, the embedded subset, superpixel 4: minutes on 2 CPU cores with lavapipe.
    Tiny,
    /// The paper's models with short schedules on a slice of the data: meant to take about 8
    /// minutes on one H100. Sized from FLOP estimates, not yet timed on one (BENCHMARKS.md).
    Short,
    /// The paper's models and schedules (hours on one GPU).
    Paper,
    /// The fidelity experiment on the full CIFAR-10 (issue 28's goals): P = 64 by default, at
    /// least 50 evaluated images, sized at start to about 45 minutes on the adapter at hand, as
    /// the demo is (measured, never fixed: lavapipe's speed differs 7× between machines).
    Cpu,
    /// The fidelity experiment at P = 64 sized at start to finish in about 7 minutes on the
    /// adapter at hand (`fastshap demo`); the measured speeds and the budgets they gave are saved.
    Demo,
}

/// The fidelity experiment of the `cpu` and `demo` presets: one original, one ViT surrogate whose
/// patches are the players and its explainer, evaluated against ground truth: exact Shapley
/// values at P ≤ 16, KernelSHAP run to a stated noise floor beyond (P = 64 by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FidelityPlan {
    /// The surrogate: a ViT whose patches are the players (one block, small width: cheap
    /// enough for the 2^16 evaluations per image of exact values at P = 16, or the 10^4 of a
    /// converged KernelSHAP at P = 64).
    pub surrogate: VitConfig,
    /// Stop the surrogate after this many epochs without a better validation loss.
    pub surrogate_early_stop: usize,
    /// The explainer's network: the paper's UNet or a ViT started from the surrogate's weights
    /// (plans saved before the choice trained UNets).
    #[serde(default)]
    pub explainer_arch: ExplainerArch,
    /// The explainer UNet's base width.
    pub unet_base: usize,
    pub explainer_lr: f64,
    /// The explainer's learning-rate schedule (plans saved before it: FastSHAP's plateau).
    #[serde(default = "Schedule::plateau_fastshap")]
    pub explainer_schedule: Schedule,
    pub explainer_early_stop: usize,
    /// Masks per image (paired): with a surrogate this cheap, many masks per explainer step
    /// cut the variance of the loss for little time.
    pub explainer_samples: usize,
    /// Images that also get a full KernelSHAP run (AUCs and timing).
    pub kernelshap_images: usize,
    /// Budgets of the error-vs-evaluations curves.
    pub budgets: Vec<usize>,
    /// What the sizing measured (demo only): img/s of each training and evaluations/s.
    pub measured: Option<serde_json::Value>,
    /// Explainer snapshots at log-spaced steps, scored by the evaluation as a learning curve
    /// (0, as in plans saved before it: none).
    #[serde(default)]
    pub explainer_snapshots: usize,
    /// A ResNet surrogate instead of the ViT above (`reproduce --surrogate-arch resnet`; the
    /// seed found ResNet surrogates best): its config, mask channel included. `None`: the ViT
    /// (plans saved before the choice).
    #[serde(default)]
    pub resnet_surrogate: Option<ResNetConfig>,
}

impl Default for FidelityPlan {
    fn default() -> Self {
        FidelityPlan::new()
    }
}

impl FidelityPlan {
    /// The base the presets start from: P = 16 (8×8 patches) explained by a small UNet, fixed
    /// budgets (the `cpu` preset's until it was sized by measurement; hand-made test plans).
    pub fn new() -> FidelityPlan {
        FidelityPlan {
            surrogate: VitConfig {
                in_channels: 4,
                classes: 10,
                image: 32,
                patch: 8,
                dim: 32,
                mlp: 64,
                heads: 2,
                depth: 1,
            },
            surrogate_early_stop: 2,
            explainer_arch: ExplainerArch::Unet,
            unet_base: 8,
            explainer_lr: 1e-3,
            explainer_schedule: Schedule::plateau_fastshap(),
            explainer_early_stop: 3,
            explainer_samples: 16,
            kernelshap_images: 10,
            budgets: crate::fastshap::evaluate::default_budgets(),
            measured: None,
            explainer_snapshots: 8,
            resnet_surrogate: None,
        }
    }

    /// The surrogate network the plan trains.
    pub fn surrogate_model(&self) -> ModelConfig {
        match &self.resnet_surrogate {
            Some(r) => ModelConfig::ResNet(r.clone()),
            None => ModelConfig::Vit(self.surrogate.clone()),
        }
    }

    /// The explainer run's `snapshots` option.
    pub fn snapshots(&self) -> Option<usize> {
        (self.explainer_snapshots > 0).then_some(self.explainer_snapshots)
    }
}

impl FidelityPlan {
    /// The `demo` preset's: the surrogate's 4×4 patches are the 64 players, explained by a ViT
    /// started from the surrogate (ViT Shapley); budget curves from one antithetic permutation
    /// pair (2·65 evaluations) doubling to 2,080, each point its own run (no exact table).
    pub fn demo() -> FidelityPlan {
        FidelityPlan::demo_at(4)
    }

    /// [`FidelityPlan::demo`] with `superpixel`-sided players (2: the paper's P = 256): the
    /// budget curves start at one antithetic pair, 2(P + 1) evaluations (beside exact values,
    /// P ≤ 16, they cost host time only and keep the default 32 … 16,384).
    pub fn demo_at(superpixel: usize) -> FidelityPlan {
        let mut f = FidelityPlan::new();
        f.surrogate.patch = superpixel;
        // One head of 32: CPU adapters' subgroup attention kernels take head dims in 32s (two
        // heads of 16 ran row by row, half of the ViT explainer's pass).
        f.surrogate.heads = 1;
        f.explainer_arch = ExplainerArch::Vit;
        // A cosine decay to 0 over the run at twice the rate: at P = 64 (same surrogate, same
        // 285 steps) Pearson 0.902 → 0.899 (1e-3) → 0.916 (2e-3), BENCHMARKS.md.
        f.explainer_lr = 2e-3;
        f.explainer_schedule = Schedule::Cosine { warmup: 0.0 };
        // The explainer runs its cosine schedule to the end: the FastSHAP loss on a few hundred
        // held-out images moves by less than its noise between epochs, and a 3-epoch patience
        // stopped a demo at 318 of 845 steps (2026-12-04) while its fidelity to the truth was
        // still rising in every learning curve measured. The sizing plans at most 24 epochs.
        f.explainer_early_stop = 100;
        f.kernelshap_images = 0;
        let p = crate::fastshap::players(superpixel);
        if p > crate::fastshap::evaluate::AUTO_EXACT_MAX_PLAYERS {
            // Doubling from one antithetic pair. FastSHAP's pass costs 13–17 evaluations at
            // P = 64 and 256 alike (BENCHMARKS.md), so five points reach 2,080 = 126× its cost
            // at P = 64 but 8,224 ≈ 600× at P = 256, where that point alone took a quarter of
            // each image's evaluations: four reach 4,112 ≈ 300×.
            let points = if p >= 256 { 4 } else { 5 };
            f.budgets = (0..points).map(|e| (2 * (p + 1)) << e).collect();
        }
        f
    }
}

/// Seconds of stages the `demo` preset is sized for (the demo must end within 10 minutes,
/// build excluded, on the machine it runs on).
pub const DEMO_SECONDS: f64 = 420.0;

/// Seconds of stages the `cpu` preset is sized for.
pub const CPU_SECONDS: f64 = 45.0 * 60.0;

/// The demo's starting KernelSHAP budget for its ground truth, per player (8,192 at P = 64).
pub const TRUTH_EVALS_PER_PLAYER: usize = 128;

/// How long one kind of training runs and on how much data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub epochs: usize,
    pub batch_size: usize,
    /// Images of the training split (spread over the classes); `None` = all.
    pub train_limit: Option<usize>,
    /// Images of the test split used for validation; `None` = all.
    pub val_limit: Option<usize>,
}

impl Budget {
    fn new(epochs: usize, batch_size: usize, train: Option<usize>, val: Option<usize>) -> Budget {
        Budget {
            epochs,
            batch_size,
            train_limit: train,
            val_limit: val,
        }
    }
}

/// Every setting of a reproduction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub preset: ReproPreset,
    /// Model widths: the training presets' `tiny` or the paper's `full`.
    pub size: Preset,
    /// Superpixel side of surrogates and explainers (2 → 256 players, as in the paper).
    pub superpixel: usize,
    /// ResNet, ViT and the MAE classifier; `None` epochs keep each recipe's own.
    pub original: Option<Budget>,
    pub mae_pretrain: Option<Budget>,
    pub surrogate: Budget,
    pub explainer: Budget,
    /// MAE patch side (the paper's 2; tiny presets use 4: 64 tokens instead of 256).
    pub mae_patch: usize,
    /// MAE pre-training rate (`None`: the recipe's 1.5e-4 × batch/256, far too slow for a
    /// few epochs).
    pub mae_pretrain_lr: Option<f64>,
    /// Test images for Tables 2 and 3 and the figures (spread over the classes); `None` = all.
    pub test_limit: Option<usize>,
    /// Random test images per task-1 grid.
    pub task1_images: usize,
    /// Images shown per agreement subset (task 2).
    pub per_subset: usize,
    /// Images per evaluation (ground truth, baselines, rollout): at least 20 in every preset,
    /// so each explainer's Pearson with the truth gets a bootstrap interval, not a t one.
    pub eval_images: usize,
    /// Images of those that also get inclusion/exclusion curves and, beside exact values, a
    /// KernelSHAP run to convergence (`None`: all). Neither is needed for the fidelity scores.
    #[serde(default)]
    pub eval_detail_images: Option<usize>,
    /// KernelSHAP's budget per image and its convergence threshold (when P is too large for
    /// exact values).
    pub kernelshap_max_evals: usize,
    pub kernelshap_threshold: f64,
    pub bootstrap: usize,
    pub seed: u64,
    /// Validation: every n-th training image held out (`data::HOLDOUT_EVERY`); 0 in runs
    /// started before validation left the test split, which therefore do not resume.
    #[serde(default)]
    pub holdout_every: usize,
    /// The fidelity experiment (`cpu`, `demo`): its stages replace the paper's.
    #[serde(default)]
    pub fidelity: Option<FidelityPlan>,
}

impl Plan {
    pub fn new(preset: ReproPreset) -> Plan {
        let b = Budget::new;
        match preset {
            ReproPreset::Smoke => Plan {
                preset,
                size: Preset::Tiny,
                superpixel: 16,
                original: Some(b(1, 32, Some(96), Some(40))),
                mae_pretrain: Some(b(1, 32, Some(64), Some(20))),
                surrogate: b(1, 32, Some(64), Some(20)),
                explainer: b(1, 16, Some(32), Some(16)),
                mae_patch: 8,
                mae_pretrain_lr: Some(1e-3),
                test_limit: Some(60),
                task1_images: 2,
                per_subset: 1,
                // 20 images at P = 4 cost little (16 coalitions each for exact values); the
                // curves (14 surrogate calls per image) and the converged KernelSHAP beside
                // exact values would not, so they stay on 2 images, as before.
                eval_images: 20,
                eval_detail_images: Some(2),
                kernelshap_max_evals: 256,
                kernelshap_threshold: 0.05,
                bootstrap: 20,
                seed: 0,
                holdout_every: crate::data::HOLDOUT_EVERY,
                fidelity: None,
            },
            ReproPreset::Tiny => Plan {
                preset,
                size: Preset::Tiny,
                superpixel: 4,
                original: Some(b(3, 64, None, Some(250))),
                mae_pretrain: Some(b(2, 64, Some(500), Some(100))),
                surrogate: b(2, 64, Some(500), Some(125)),
                explainer: b(2, 32, Some(320), Some(64)),
                mae_patch: 4,
                mae_pretrain_lr: Some(1e-3),
                test_limit: Some(250),
                task1_images: 4,
                per_subset: 2,
                eval_images: 20,
                eval_detail_images: None,
                // At P = 64 this leaves most truths short of the 0.1 noise floor (2 of 20
                // converged on a vit-by-vit surrogate, median ‖σ‖/‖φ‖ 0.25; 4,096 converged 1 of
                // the 3 images tried, at 4× the cost): enough to separate an explainer near
                // Pearson 0 from a baseline near 0.8, not to call the truth converged. Table 1b
                // counts the images that converged.
                kernelshap_max_evals: 1024,
                kernelshap_threshold: 0.05,
                bootstrap: 100,
                seed: 0,
                holdout_every: crate::data::HOLDOUT_EVERY,
                fidelity: None,
            },
            ReproPreset::Short => Plan {
                preset,
                size: Preset::Full,
                superpixel: 2,
                original: Some(b(3, 256, Some(10_000), Some(2_000))),
                mae_pretrain: Some(b(3, 256, Some(10_000), Some(1_000))),
                surrogate: b(2, 256, Some(5_000), Some(1_000)),
                explainer: b(2, 128, Some(5_000), Some(500)),
                mae_patch: 2,
                mae_pretrain_lr: Some(1.5e-3),
                test_limit: Some(2_000),
                task1_images: 6,
                per_subset: 3,
                eval_images: 20,
                eval_detail_images: None,
                kernelshap_max_evals: 8_192,
                kernelshap_threshold: 0.02,
                bootstrap: 200,
                seed: 0,
                holdout_every: crate::data::HOLDOUT_EVERY,
                fidelity: None,
            },
            ReproPreset::Paper => Plan {
                preset,
                size: Preset::Full,
                superpixel: 2,
                original: None,
                mae_pretrain: None,
                surrogate: b(100, 256, None, None),
                explainer: b(100, 128, None, None),
                mae_patch: 2,
                mae_pretrain_lr: None,
                test_limit: None,
                task1_images: 8,
                per_subset: 4,
                eval_images: 20,
                eval_detail_images: None,
                kernelshap_max_evals: 1 << 20,
                kernelshap_threshold: 0.01,
                bootstrap: 200,
                seed: 0,
                holdout_every: crate::data::HOLDOUT_EVERY,
                fidelity: None,
            },
            // The demo's game and explainer on the full data, with the evaluation issue 28
            // judges by (≥ 50 images, 1,000 bootstrap resamples); `reproduce::calibrate` sets
            // every budget below from this adapter's speed before the first stage.
            ReproPreset::Cpu => Plan {
                preset,
                test_limit: Some(2_000),
                eval_images: 50,
                ..Plan::new(ReproPreset::Demo)
            },
            // Sized by `reproduce::calibrate` before it runs; these are the budgets of a
            // machine like the BENCHMARKS.md one. P = 64 (4×4 superpixels): a game that exact
            // values cannot reach, judged against KernelSHAP run to its noise floor
            // (`evaluate::DEFAULT_TRUTH_TOLERANCE`), where cheap baselines are no longer exact.
            ReproPreset::Demo => Plan {
                preset,
                size: Preset::Tiny,
                superpixel: 4,
                original: Some(b(2, 64, None, Some(500))),
                mae_pretrain: None,
                surrogate: b(6, 64, Some(2_000), Some(250)),
                // Validation on up to 500 held-out images (128 before): it picks the
                // checkpoint kept, and the loss differences between epochs are small.
                explainer: b(6, 32, Some(2_000), Some(500)),
                mae_patch: 4,
                mae_pretrain_lr: None,
                test_limit: Some(500),
                task1_images: 0,
                per_subset: 0,
                eval_images: 20,
                eval_detail_images: None,
                kernelshap_max_evals: TRUTH_EVALS_PER_PLAYER * 64,
                kernelshap_threshold: 0.02,
                bootstrap: 1000,
                seed: 0,
                holdout_every: crate::data::HOLDOUT_EVERY,
                fidelity: Some(FidelityPlan::demo()),
            },
        }
    }

    /// Whether `reproduce` sizes this plan's budgets by measuring the adapter first.
    pub fn sized_by_measurement(&self) -> bool {
        matches!(self.preset, ReproPreset::Demo | ReproPreset::Cpu)
    }

    /// Seconds of stages a measured preset is sized for when no `--minutes` is given.
    pub fn default_seconds(&self) -> f64 {
        match self.preset {
            ReproPreset::Cpu => CPU_SECONDS,
            _ => DEMO_SECONDS,
        }
    }

    /// Evaluated images a measured preset aims for: the demo's verdict needs 20 for its
    /// intervals, issue 28's goals 50.
    pub fn min_eval_images(&self) -> usize {
        match self.preset {
            ReproPreset::Cpu => 50,
            _ => 20,
        }
    }

    /// A measured preset (`demo`, `cpu`) with `superpixel`-sided players (4, their own: P =
    /// 64; 2: the paper's P = 256; 8: P = 16, exact truth). The surrogate's patches stay the
    /// players, and the ground truth's KernelSHAP budget starts at [`TRUTH_EVALS_PER_PLAYER`]
    /// per player (the sizing may double it). Other presets fix their own players.
    pub fn with_superpixel(mut self, superpixel: usize) -> Result<Plan> {
        ensure!(
            self.sized_by_measurement(),
            "--superpixel applies to the cpu and demo presets (sized by measurement); preset \
             {:?} fixes its own players",
            self.preset
        );
        ensure!(
            matches!(superpixel, 2 | 4 | 8),
            "--superpixel must be 2 (256 players), 4 (64) or 8 (16), not {superpixel}"
        );
        self.superpixel = superpixel;
        self.fidelity = Some(FidelityPlan::demo_at(superpixel));
        self.kernelshap_max_evals = TRUTH_EVALS_PER_PLAYER * crate::fastshap::players(superpixel);
        Ok(self)
    }

    /// Masks per surrogate call in the fidelity experiment's games: 4,096, or fewer when a
    /// call's token rows would pass 4,096 × 65 (P = 64's), so a call's largest activations
    /// ([rows, 3·dim] for dim 32) stay under the 128 MiB storage binding of CPU adapters:
    /// 1,024 at P = 256. A ResNet surrogate's largest activation is its stem's full-resolution
    /// map: 32 MiB of it per call, 512 masks for the tiny ResNet's 16 channels (the batch its
    /// P = 16 game was measured with, BENCHMARKS.md).
    pub fn game_batch(&self) -> usize {
        let (per_mask, most) = match self
            .fidelity
            .as_ref()
            .and_then(|f| f.resnet_surrogate.as_ref())
        {
            Some(r) => (r.widths[0] * 32 * 32 * 4, 32 << 20),
            None => (crate::fastshap::players(self.superpixel) + 1, 4096 * 65),
        };
        let mut b = 4096;
        while b > 64 && b * per_mask > most {
            b /= 2;
        }
        b
    }

    /// The fidelity experiment with a ResNet surrogate (the size's tiny ResNet with the mask
    /// channel) in place of the ViT; an explainer meant to start from the ViT starts from the
    /// ResNet instead (`--explainer-arch resnet`), where its cells allow (superpixel 8, 4, 2).
    pub fn with_resnet_surrogate(mut self) -> Result<Plan> {
        let superpixel = self.superpixel;
        let Some(f) = self.fidelity.as_mut() else {
            bail!(
                "--surrogate-arch applies to the fidelity presets (cpu, demo); preset {:?} \
                 trains the paper's surrogates",
                self.preset
            );
        };
        f.resnet_surrogate = Some(ResNetConfig {
            in_channels: 4,
            ..Preset::Tiny.resnet(4)
        });
        if f.explainer_arch == ExplainerArch::Vit {
            f.explainer_arch = if 8 % superpixel == 0 {
                ExplainerArch::Resnet
            } else {
                ExplainerArch::Unet
            };
        }
        Ok(self)
    }

    /// Budgets of the paper pipeline's error-vs-evaluations curves. Where exact values give
    /// each image's full table (P ≤ 16) the curves cost host time only: the default 32 …
    /// 16,384. Beyond, every point is KernelSHAP and permutation sampling run on the game, so
    /// one point, one antithetic permutation pair (2(P + 1) evaluations, the cheap baselines'
    /// cost), keeps 20 images affordable: the default would add ~65,000 evaluations per image
    /// at P = 64, 60 times the ground truth's 1,024.
    pub fn eval_budgets(&self) -> Vec<usize> {
        let p = crate::fastshap::players(self.superpixel);
        if p <= crate::fastshap::evaluate::AUTO_EXACT_MAX_PLAYERS {
            return crate::fastshap::evaluate::default_budgets();
        }
        vec![2 * (p + 1)]
    }

    /// The training config of original `arch` (MAE classifiers start from `init`).
    pub fn original_config(&self, arch: Arch, data: &str, init: Option<&Path>) -> TrainConfig {
        let mut c = TrainConfig::recipe(arch, self.size, data);
        let budget = match arch {
            Arch::MaePretrain => &self.mae_pretrain,
            _ => &self.original,
        };
        if let Some(bud) = budget {
            c.epochs = bud.epochs;
            c.batch_size = bud.batch_size;
            c.train_limit = bud.train_limit;
            c.val_limit = bud.val_limit;
            // Warmups are sized for hundreds of epochs: keep a tenth of a short run.
            if let Schedule::Cosine { warmup } = &mut c.schedule {
                *warmup = warmup.min(bud.epochs as f64 / 10.0);
            }
        }
        if let ModelConfig::Mae(m) = &mut c.model {
            m.patch = self.mae_patch;
        }
        match arch {
            Arch::MaePretrain => {
                c.lr = self
                    .mae_pretrain_lr
                    .unwrap_or(1.5e-4 * c.batch_size as f64 / 256.0)
            }
            Arch::MaeClassifier => c.init = init.map(Path::to_path_buf),
            _ => {}
        }
        c.seed = self.seed;
        c
    }

    pub fn surrogate_config(
        &self,
        arch: SurrogateArch,
        original: &Path,
        data: &str,
    ) -> SurrogateConfig {
        let mut c = SurrogateConfig::recipe(arch, self.size, original, data);
        let bud = &self.surrogate;
        c.superpixel = self.superpixel;
        c.epochs = bud.epochs;
        c.batch_size = bud.batch_size;
        c.train_limit = bud.train_limit;
        c.val_limit = bud.val_limit;
        c.seed = self.seed;
        if let Some(f) = &self.fidelity {
            c.model = f.surrogate_model();
            c.early_stop = f.surrogate_early_stop;
        }
        c
    }

    pub fn explainer_config(&self, surrogate: &Path, data: &str) -> ExplainerConfig {
        let mut c = ExplainerConfig::recipe(self.size, surrogate, data);
        let bud = &self.explainer;
        c.epochs = bud.epochs;
        c.batch_size = bud.batch_size;
        c.train_limit = bud.train_limit;
        c.val_limit = bud.val_limit;
        c.seed = self.seed;
        if let Some(f) = &self.fidelity {
            c.arch = f.explainer_arch;
            c.unet.base = f.unet_base;
            c.lr = f.explainer_lr;
            c.schedule = f.explainer_schedule.clone();
            c.early_stop = f.explainer_early_stop;
            c.samples = f.explainer_samples;
            c.val_samples = f.explainer_samples;
        }
        c
    }
}
