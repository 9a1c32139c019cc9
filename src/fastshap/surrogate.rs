//! Surrogate training (Covert et al. 2021, as in the FastSHAP reference `Surrogate.train_original_
//! model`): a model with an extra mask channel learns to reproduce the original classifier's
//! class probabilities on the **same augmented image** with superpixels hidden. Coalitions are
//! |S| uniform over 0…P, S uniform given |S|; loss KL(p_original ‖ p_surrogate) (or the reverse
//! direction); Adam 1e-3, batch 256, reduce-on-plateau on the masked validation loss (fixed,
//! seeded validation masks) and early stopping after `early_stop` epochs without improvement.

use super::{META_CLASSES, META_ROLE, META_SUPERPIXEL, SurrogateModel, mix, players};
use crate::checkpoint;
use crate::data::{Batch, Dataset};
use crate::models::{ResNet, Vit, VitConfig};
use crate::nn::{Module, init_rng};
use crate::ops::{self, loss, masking::apply_player_mask, optim};
use crate::shap::sampler::UniformSizeSampler;
use crate::shap::{Link, SurrogateGame};
use crate::train::config::{AugmentKind, ModelConfig, Preset};
use crate::train::epoch_loop;
use crate::train::model::Spec;
use crate::train::schedule::Schedule;
use crate::train::state::{self, Resumed};
use crate::train::task::{EpochBase, Meta, StepLoss, Task, Weigh};
use crate::train::{ArchHint, Model, ModelSpec, RunOptions, load_classifier};
use crate::{Tensor, no_grad};
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Checkpoint metadata: the original model's checkpoint path.
pub const META_ORIGINAL: &str = "fastshap.original";
/// Checkpoint metadata: the [`SurrogateConfig`] as JSON.
pub const META_SURROGATE: &str = "fastshap.surrogate";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SurrogateArch {
    /// CIFAR ResNet18 with 4 input channels.
    Resnet18,
    /// The paper's ViT (384 hidden, 384 MLP, 12 heads, 7 layers).
    Vit,
    /// ViT with the MAE encoder's sizes (192 hidden, 768 MLP, 3 heads): the paper's
    /// "MAE by ViT(192/768)" surrogate, also accepted as `vit-mae`.
    #[value(name = "vit-192", alias = "vit-mae")]
    #[serde(rename = "vit-192")]
    Vit192,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SurrogateLoss {
    /// KL(p_original ‖ p_surrogate), the FastSHAP reference's loss.
    Kl,
    /// KL(p_surrogate ‖ p_original), the paper's suggested future work.
    ReverseKl,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateConfig {
    pub arch: SurrogateArch,
    /// ResNet or ViT config with 4 input channels (classes are set from the data).
    pub model: ModelConfig,
    /// The original classifier's checkpoint.
    pub original: PathBuf,
    /// The original's network when its checkpoint has no fastshap metadata (a plain PyTorch
    /// state dict built with `--original-arch`); recorded so `explain` and `evaluate` can load it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_arch: Option<ModelSpec>,
    /// The data source as given (`embedded` or a path).
    pub data: String,
    pub superpixel: usize,
    pub loss: SurrogateLoss,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub schedule: Schedule,
    /// Stop after this many epochs without a better validation loss (the reference's lookback).
    pub early_stop: usize,
    pub augment: AugmentKind,
    /// Fixed masks per validation image.
    pub val_samples: usize,
    pub seed: u64,
    pub train_limit: Option<usize>,
    pub val_limit: Option<usize>,
}

impl SurrogateConfig {
    /// The FastSHAP reference's recipe: Adam 1e-3, batch 256, ReduceLROnPlateau (0.5, lookback
    /// 5 → patience 2, min 1e-5), early stopping after 5 epochs, crop + flip, 100 epochs max.
    pub fn recipe(arch: SurrogateArch, preset: Preset, original: &Path, data: &str) -> Self {
        let tiny = preset == Preset::Tiny;
        let model = match arch {
            SurrogateArch::Resnet18 => ModelConfig::ResNet(preset.resnet(4)),
            SurrogateArch::Vit => ModelConfig::Vit(preset.vit(4)),
            SurrogateArch::Vit192 => ModelConfig::Vit(if tiny {
                VitConfig {
                    dim: 48,
                    mlp: 192,
                    heads: 3,
                    depth: 2,
                    ..VitConfig::cifar_192_768(4)
                }
            } else {
                VitConfig::cifar_192_768(4)
            }),
        };
        SurrogateConfig {
            arch,
            model,
            original: original.to_path_buf(),
            original_arch: None,
            data: data.to_string(),
            superpixel: 2,
            loss: SurrogateLoss::Kl,
            epochs: 100,
            batch_size: 256,
            lr: 1e-3,
            schedule: Schedule::plateau_fastshap(),
            early_stop: 5,
            augment: AugmentKind::CropFlip,
            val_samples: 1,
            seed: 0,
            train_limit: None,
            val_limit: None,
        }
    }

    /// The config as trained on data with `k` classes (the model's output size), as its
    /// checkpoints record it.
    pub fn with_classes(mut self, k: usize) -> Self {
        match &mut self.model {
            ModelConfig::ResNet(c) => c.classes = k,
            ModelConfig::Vit(c) => c.classes = k,
            ModelConfig::Mae(_) => {}
        }
        self
    }

    pub fn validate(&self) -> Result<()> {
        super::check_superpixel(self.superpixel)?;
        ensure!(self.epochs >= 1, "--epochs must be at least 1");
        ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        ensure!(
            self.lr.is_finite() && self.lr > 0.0,
            "--lr must be a positive number, got {}",
            self.lr
        );
        ensure!(self.early_stop >= 1, "--early-stop must be at least 1");
        ensure!(self.val_samples >= 1, "--val-samples must be at least 1");
        for (name, lim) in [
            ("--train-limit", self.train_limit),
            ("--val-limit", self.val_limit),
        ] {
            ensure!(lim != Some(0), "{name} must be at least 1");
        }
        let inc = match &self.model {
            ModelConfig::ResNet(c) => c.in_channels,
            ModelConfig::Vit(c) => c.in_channels,
            ModelConfig::Mae(_) => bail!("a surrogate is a ResNet or a ViT"),
        };
        ensure!(
            inc == 4,
            "a surrogate sees the image plus the mask: 4 input channels, not {inc}"
        );
        Ok(())
    }
}

/// One line of a surrogate run's `metrics.jsonl` (Table 1's columns are the `val_*` ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateMetrics {
    pub epoch: usize,
    pub step: u64,
    /// The training loss (KL or reverse KL) on the training masks.
    pub train_loss: f64,
    /// The same loss on the validation set with fixed masks (the early-stopping criterion).
    pub val_masked_loss: f64,
    /// Unmasked validation images: cross-entropy against the true labels.
    pub val_ce: f64,
    /// Unmasked validation images: accuracy against the true labels.
    pub val_acc: f64,
    /// Unmasked validation images: KL(p_original ‖ p_surrogate).
    pub val_kl: f64,
    pub lr: f64,
    pub images_per_s: f64,
    pub seconds: f64,
}

/// A trained surrogate: the model, its superpixel side and what it was trained from.
pub struct Surrogate {
    pub model: Model,
    pub superpixel: usize,
    pub classes: Vec<String>,
    /// The original's checkpoint, as recorded at training time.
    pub original: Option<PathBuf>,
    /// The original's network, recorded when its checkpoint has no fastshap metadata.
    pub original_arch: Option<ModelSpec>,
}

impl SurrogateModel for Surrogate {
    fn superpixel(&self) -> usize {
        self.superpixel
    }
    fn classes(&self) -> usize {
        self.classes.len()
    }
    /// In inference a ViT runs its last block for the CLS token alone (the game's fold): the
    /// explainer's training calls this for every mask of every image.
    fn logits(&self, masked: &Tensor) -> Result<Tensor> {
        match &self.model {
            Model::Vit(v) if !crate::autograd::is_enabled() && v.folds_last_block() => {
                v.cls_logits(masked)
            }
            _ => self.model.logits(masked, false),
        }
    }
    fn vit(&self) -> Option<&crate::models::Vit> {
        match &self.model {
            Model::Vit(v) => Some(v),
            _ => None,
        }
    }
    fn resnet(&self) -> Option<&crate::models::ResNet> {
        match &self.model {
            Model::ResNet(r) => Some(r),
            _ => None,
        }
    }
    /// Through the network's coalition path where it has one (a ViT: masking folded into the
    /// patch embedding, the last block for the CLS token only), else masked images.
    fn game(&self, image: Tensor, link: Link, batch: usize) -> Result<SurrogateGame<'_>> {
        let s = self.superpixel;
        let fast = {
            let _ng = no_grad();
            self.model.coalition_logits(&image, s)?
        };
        match fast {
            Some(f) => SurrogateGame::from_coalitions(f, image, s, link, batch),
            None => SurrogateGame::masked(
                Box::new(move |masked: &Tensor| self.model.logits(masked, false)),
                image,
                s,
                link,
                batch,
            ),
        }
    }
}

impl Surrogate {
    /// Rebuilds and loads a surrogate checkpoint (`best.safetensors` of a surrogate run). Its
    /// metadata and header are checked before anything is allocated ([`check_metadata`]).
    pub fn load(path: &Path) -> Result<Surrogate> {
        let meta = checkpoint::read_metadata(path)?;
        let file = path.display().to_string();
        let (spec, superpixel, classes) = check_metadata(&file, &meta)?;
        let model = spec.load(path, &mut init_rng(0))?;
        Ok(Surrogate::assemble(model, superpixel, classes, &meta))
    }

    /// [`Surrogate::load`] from the checkpoint's bytes (the browser's path; `name` is used in
    /// errors). The metadata gets the same checks before anything is allocated; the tensors are
    /// checked against the network as they load.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Surrogate> {
        let meta = checkpoint::metadata_of(name, bytes)?;
        let (spec, superpixel, classes) = check_metadata(name, &meta)?;
        let model = spec.build(&mut init_rng(0))?;
        checkpoint::load_bytes(&model, name, bytes)?;
        Ok(Surrogate::assemble(model, superpixel, classes, &meta))
    }

    fn assemble(
        model: Model,
        superpixel: usize,
        classes: Vec<String>,
        meta: &checkpoint::Metadata,
    ) -> Surrogate {
        Surrogate {
            model,
            superpixel,
            classes,
            original: meta.get(META_ORIGINAL).map(PathBuf::from),
            original_arch: meta
                .get(META_SURROGATE)
                .and_then(|c| serde_json::from_str::<SurrogateConfig>(c).ok())
                .and_then(|c| c.original_arch),
        }
    }

    /// Loads the original recorded at training time, if its checkpoint is still there.
    pub fn load_original(&self) -> Result<Option<(PathBuf, Model)>> {
        let Some(p) = self.original.as_ref().filter(|p| p.exists()) else {
            return Ok(None);
        };
        let hint = ArchHint {
            recorded: self.original_arch.clone(),
            ..Default::default()
        };
        Ok(Some((p.clone(), load_original_as(p, &hint)?)))
    }
}

/// Checks a surrogate checkpoint's metadata (`file` names it in errors): role, superpixel,
/// classes and the network (bounds; classes as many as named). Host only, so it can be fuzzed.
pub fn check_metadata(
    file: &str,
    meta: &checkpoint::Metadata,
) -> Result<(Spec, usize, Vec<String>)> {
    if meta.get(META_ROLE).map(String::as_str) != Some("surrogate") {
        bail!("{file} is not a surrogate checkpoint (train one with `fastshap surrogate`)");
    }
    let superpixel: usize = meta
        .get(META_SUPERPIXEL)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{file}: no valid {META_SUPERPIXEL}"))?;
    super::check_superpixel(superpixel)
        .with_context(|| format!("{file}: bad {META_SUPERPIXEL}"))?;
    let classes: Vec<String> = meta
        .get(META_CLASSES)
        .and_then(|s| serde_json::from_str(s).ok())
        .with_context(|| format!("{file}: no valid {META_CLASSES}"))?;
    let spec = Spec::parse(meta).with_context(|| file.to_string())?;
    ensure!(
        spec.classes() == Some(classes.len()),
        "{file}: {META_CLASSES} names {} classes, the network predicts {:?}",
        classes.len(),
        spec.classes()
    );
    Ok((spec, superpixel, classes))
}

/// Loads a classifier checkpoint with fastshap metadata as the original model.
pub fn load_original(path: &Path) -> Result<Model> {
    load_original_as(path, &ArchHint::default())
}

/// Loads a classifier checkpoint as the original model (3 input channels, not a surrogate);
/// `hint` builds one without fastshap metadata (see [`crate::train::arch`]).
pub fn load_original_as(path: &Path, hint: &ArchHint) -> Result<Model> {
    let (meta, _) = checkpoint::read_header(path)?;
    if let Some(role) = meta.get(META_ROLE) {
        bail!(
            "{} is a {role} checkpoint; the original must be a classifier (from `fastshap train` \
             or a PyTorch state dict with --arch)",
            path.display()
        );
    }
    Ok(load_classifier(path, hint)?.0)
}

/// What a finished run returns.
pub struct SurrogateSummary {
    pub metrics: Vec<SurrogateMetrics>,
    pub best_epoch: usize,
    /// True when early stopping ended the run before `epochs`.
    pub early_stopped: bool,
    /// True when `stop_after_epoch` ended the run (continue it with `resume`).
    pub stopped: bool,
}

/// The validation set, prepared once: unmasked images, original probabilities, fixed masks.
struct ValBatch {
    images: Vec<f32>,
    labels: Vec<u32>,
    /// Original's probabilities [b, K].
    p_orig: Tensor,
    /// The same, each row repeated `val_samples` times [b·M, K].
    p_orig_rep: Tensor,
    /// Fixed masks [b·M, P].
    masks: Tensor,
}

fn prepare_val(
    cfg: &SurrogateConfig,
    original: &Model,
    val: &Dataset,
    k: usize,
) -> Result<Vec<ValBatch>> {
    let _g = no_grad();
    let p = players(cfg.superpixel);
    let m = cfg.val_samples;
    let mut sampler = UniformSizeSampler::new(p, mix(&[cfg.seed, u64::MAX]));
    let mut out = Vec::new();
    for start in (0..val.len()).step_by(cfg.batch_size) {
        let idx: Vec<usize> = (start..(start + cfg.batch_size).min(val.len())).collect();
        let b = idx.len();
        let (images, labels) = val.batch(&idx);
        let x = Tensor::from_slice(&images, &[b, 3, 32, 32])?;
        let probs = original.logits(&x, false)?.softmax()?;
        let host = probs.to_vec()?;
        let rep: Vec<f32> = host
            .chunks(k)
            .flat_map(|row| std::iter::repeat_n(row, m).flatten().copied())
            .collect();
        out.push(ValBatch {
            images,
            labels,
            p_orig: probs,
            p_orig_rep: Tensor::from_slice(&rep, &[b * m, k])?,
            masks: Tensor::from_slice(&sampler.sample(b * m), &[b * m, p])?,
        });
    }
    Ok(out)
}

fn surrogate_loss(kind: SurrogateLoss, p: &Tensor, logits: &Tensor) -> Result<Tensor> {
    match kind {
        SurrogateLoss::Kl => loss::kl_div(p, logits),
        SurrogateLoss::ReverseKl => loss::reverse_kl(p, logits),
    }
}

/// (masked loss, unmasked CE, accuracy, unmasked KL) over the validation set.
fn validate(
    cfg: &SurrogateConfig,
    model: &Model,
    batches: &[ValBatch],
) -> Result<(f64, f64, f64, f64)> {
    let _g = no_grad();
    let p = players(cfg.superpixel);
    let mut parts = Vec::new();
    let mut n = 0usize;
    let mut correct = 0usize;
    let mut preds = Vec::new();
    for vb in batches {
        let b = vb.labels.len();
        n += b;
        let x = Tensor::from_slice(&vb.images, &[b, 3, 32, 32])?;
        let masked = apply_player_mask(&x, &vb.masks, cfg.superpixel)?;
        let ml = surrogate_loss(cfg.loss, &vb.p_orig_rep, &model.logits(&masked, false)?)?;
        let full = apply_player_mask(&x, &Tensor::ones(&[b, p])?, cfg.superpixel)?;
        let logits = model.logits(&full, false)?;
        let ce = loss::cross_entropy_indices(&logits, &vb.labels, 0.0)?;
        let kl = loss::kl_div(&vb.p_orig, &logits)?;
        // Batch means × batch size, so an uneven last batch weighs correctly.
        for l in [ml, ce, kl] {
            parts.push(l.mul_scalar(b as f32)?.reshape(&[1])?);
        }
        preds.push(logits.argmax(1, false)?);
    }
    let sums = ops::plumbing::concat(&parts.iter().collect::<Vec<_>>(), 0)?.to_vec()?;
    let preds = ops::plumbing::concat(&preds.iter().collect::<Vec<_>>(), 0)?.to_vec()?;
    for (pred, label) in preds.iter().zip(batches.iter().flat_map(|b| &b.labels)) {
        correct += (*pred as u32 == *label) as usize;
    }
    let mean = |j: usize| {
        sums.iter()
            .skip(j)
            .step_by(3)
            .map(|&v| v as f64)
            .sum::<f64>()
            / n as f64
    };
    Ok((mean(0), mean(1), correct as f64 / n as f64, mean(2)))
}

fn checkpoint_meta(
    model: &Model,
    cfg: &SurrogateConfig,
    classes: &[String],
    epoch: usize,
) -> Result<Meta> {
    let mut meta = model.metadata();
    meta.insert(META_ROLE.into(), "surrogate".into());
    meta.insert(META_SUPERPIXEL.into(), cfg.superpixel.to_string());
    meta.insert(META_CLASSES.into(), serde_json::to_string(classes)?);
    meta.insert(
        META_ORIGINAL.into(),
        cfg.original.to_string_lossy().into_owned(),
    );
    meta.insert(META_SURROGATE.into(), serde_json::to_string(cfg)?);
    meta.insert("fastshap.epoch".into(), epoch.to_string());
    Ok(meta)
}

/// The surrogate's side of the shared epoch loop.
struct SurrogateTask<'a> {
    cfg: &'a SurrogateConfig,
    model: Model,
    original: Model,
    classes: Vec<String>,
    val: Vec<ValBatch>,
}

impl Task for SurrogateTask<'_> {
    /// The epoch's coalitions.
    type Epoch = UniformSizeSampler;
    type Val = (f64, f64, f64, f64);
    type Metrics = SurrogateMetrics;
    const RUN: &'static str = "surrogate training";
    const WEIGH: Weigh = Weigh::Device;

    fn module(&self) -> &dyn Module {
        &self.model
    }

    fn begin_epoch(&self, epoch: usize) -> UniformSizeSampler {
        let p = players(self.cfg.superpixel);
        UniformSizeSampler::new(p, mix(&[self.cfg.seed, epoch as u64, 7]))
    }

    fn loss(&self, sampler: &mut UniformSizeSampler, batch: &Batch) -> Result<StepLoss> {
        let (b, p) = (batch.len(), players(self.cfg.superpixel));
        let x = Tensor::from_slice(&batch.images, &[b, 3, 32, 32])?;
        // The original sees the same augmented image as the surrogate.
        let p_orig = {
            let _g = no_grad();
            self.original.logits(&x, false)?.softmax()?
        };
        let masks = Tensor::from_slice(&sampler.sample(b), &[b, p])?;
        let masked = apply_player_mask(&x, &masks, self.cfg.superpixel)?;
        surrogate_loss(self.cfg.loss, &p_orig, &self.model.logits(&masked, true)?).map(Into::into)
    }

    fn validate(&self) -> Result<(f64, Self::Val)> {
        let v = validate(self.cfg, &self.model, &self.val)?;
        Ok((v.0, v))
    }

    fn metrics(&self, b: EpochBase, v: Self::Val) -> SurrogateMetrics {
        let (val_masked_loss, val_ce, val_acc, val_kl) = v;
        SurrogateMetrics {
            epoch: b.epoch,
            step: b.step,
            train_loss: b.train_loss,
            val_masked_loss,
            val_ce,
            val_acc,
            val_kl,
            lr: b.lr,
            images_per_s: b.images_per_s,
            seconds: b.seconds,
        }
    }

    fn epoch_of(m: &SurrogateMetrics) -> usize {
        m.epoch
    }

    fn last_meta(&self, epoch: usize) -> Result<Meta> {
        checkpoint_meta(&self.model, self.cfg, &self.classes, epoch)
    }

    fn print_epoch(&self, m: &SurrogateMetrics, epochs: usize, is_best: bool) {
        println!(
            "epoch {}/{}: train {:?} {:.4} | val masked {:.4} | unmasked val CE {:.4} acc {:.3} KL {:.4} | lr {:.2e} | {:.0} img/s | {:.1} s{}",
            m.epoch,
            epochs,
            self.cfg.loss,
            m.train_loss,
            m.val_masked_loss,
            m.val_ce,
            m.val_acc,
            m.val_kl,
            m.lr,
            m.images_per_s,
            m.seconds,
            if is_best { " (best)" } else { "" }
        );
    }
}

/// A surrogate run's config and state from its `last.safetensors`, for `resume`.
pub fn read_resume(dir: &Path) -> Result<Resumed<SurrogateConfig>> {
    state::read_resume_as(dir, META_SURROGATE)
}

/// Trains a surrogate of `cfg.original` on `train`, validating on `val`, into `dir`. With
/// `resume` (from [`read_resume`] on `dir`; its config is `cfg`), continues that run exactly
/// where its last checkpoint left it.
pub fn train_surrogate(
    cfg: &SurrogateConfig,
    train: &Dataset,
    val: &Dataset,
    dir: &Path,
    resume: Option<&Resumed<SurrogateConfig>>,
    opts: &RunOptions,
) -> Result<SurrogateSummary> {
    cfg.validate()?;
    epoch_loop::prepare_dir(dir, resume.is_some())?;
    let hint = ArchHint {
        recorded: cfg.original_arch.clone(),
        ..Default::default()
    };
    let original = load_original_as(&cfg.original, &hint)?;
    let train_set = Arc::new(train.spread_subset(cfg.train_limit));
    let val_set = val.spread_subset(cfg.val_limit);
    ensure!(!train_set.is_empty(), "the training set is empty");
    ensure!(!val_set.is_empty(), "the validation set is empty");
    let k = train_set.num_classes();
    let classes = train_set.classes.clone();

    let cfg = &cfg.clone().with_classes(k);
    let mut rng = init_rng(cfg.seed);
    let model = match &cfg.model {
        ModelConfig::ResNet(c) => Model::ResNet(ResNet::new(c.clone(), &mut rng)?),
        ModelConfig::Vit(c) => Model::Vit(Vit::new(c.clone(), &mut rng)?),
        ModelConfig::Mae(_) => bail!("a surrogate is a ResNet or a ViT"),
    };
    let mut opt =
        optim::Optimizer::adam(model.parameters(), cfg.lr as f32, optim::Adam::default())?;
    let p = players(cfg.superpixel);
    let val_batches = prepare_val(cfg, &original, &val_set, k)?;
    if !opts.quiet {
        println!(
            "surrogate {:?} ({} parameters) of {}: superpixel {} ({p} players), loss {:?}, \
             Adam lr {:e}, batch {}, {}, early stop after {} epochs; {} training / {} validation images",
            cfg.arch,
            model.parameter_count(),
            cfg.original.display(),
            cfg.superpixel,
            cfg.loss,
            cfg.lr,
            cfg.batch_size,
            cfg.schedule.describe(),
            cfg.early_stop,
            train_set.len(),
            val_set.len()
        );
    }
    let task = SurrogateTask {
        cfg,
        model,
        original,
        classes,
        val: val_batches,
    };
    let s = epoch_loop::run(&task, &mut opt, cfg, train_set, dir, resume, opts)?;
    Ok(SurrogateSummary {
        metrics: s.metrics,
        best_epoch: s.best_epoch,
        early_stopped: s.early_stopped,
        stopped: s.stopped,
    })
}
