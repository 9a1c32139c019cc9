//! Classifiers and MAE pre-training as a task of the epoch loop ([`super::epoch_loop`]): the
//! model a [`TrainConfig`] describes (an MAE classifier can start from a pretrained encoder),
//! its loss (cross-entropy with the batch's correct count, or the MAE's masked reconstruction
//! with masks seeded by batch), its validation (accuracy, or the masked loss on fixed masks),
//! its metrics line and checkpoints. [`train`] also turns a batch over the adapter's binding
//! limit into advice naming the largest batch that fits.

use super::batch_fit;
use super::config::{Arch, AugmentKind, ModelConfig, OptimKind, TrainConfig};
use super::epoch_loop;
use super::eval::{correct_count, evaluate};
use super::model::Model;
use super::options::RunOptions;
use super::schedule::Schedule;
use super::state::{self, Resumed};
use super::task::{EpochBase, Meta, RunConfig, StepLoss, Task, Weigh};
use crate::Tensor;
use crate::checkpoint;
use crate::data::{Batch, Dataset};
use crate::models::{Mae, MaeClassifier, ResNet, Vit, mae::random_shuffles};
use crate::nn::{InitRng, Module, init_rng};
use crate::ops::{self, optim};
use crate::seed::Mixer;
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based number of the finished epoch.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub step: u64,
    pub train_loss: f64,
    pub train_acc: Option<f64>,
    pub val_loss: f64,
    pub val_acc: Option<f64>,
    /// The learning rate of the epoch's last step.
    pub lr: f64,
    pub images_per_s: f64,
    pub seconds: f64,
}

pub struct Summary {
    /// Every metrics line of the run (including those before a resume).
    pub metrics: Vec<EpochMetrics>,
    pub best_score: f64,
    /// True when `stop_after_epoch` ended the run before its last epoch.
    pub stopped: bool,
}

/// Builds the model `cfg` describes, loading `cfg.init` for an MAE classifier. Returns the
/// config actually used (an init checkpoint's encoder config replaces the preset's).
fn build_model(
    cfg: &TrainConfig,
    classes: usize,
    rng: &mut InitRng,
) -> Result<(Model, TrainConfig)> {
    let mut cfg = cfg.clone();
    let model = match (cfg.arch, &mut cfg.model) {
        // Bounds first (a resumed run's config comes from its checkpoint's metadata).
        (Arch::Resnet18, ModelConfig::ResNet(c)) => {
            c.classes = classes;
            c.check().context("model config")?;
            Model::ResNet(ResNet::new(c.clone(), rng)?)
        }
        (Arch::Vit, ModelConfig::Vit(c)) => {
            c.classes = classes;
            c.check().context("model config")?;
            Model::Vit(Vit::new(c.clone(), rng)?)
        }
        (Arch::MaePretrain, ModelConfig::Mae(c)) => {
            c.check(true).context("model config")?;
            Model::Mae(Mae::new(c.clone(), rng)?)
        }
        (Arch::MaeClassifier, ModelConfig::Mae(c)) => {
            let mae = match &cfg.init {
                Some(path) => {
                    let meta = checkpoint::read_metadata(path)?;
                    let pre = Model::load_checked(path, &meta, rng)
                        .with_context(|| format!("--init {}", path.display()))?;
                    let Model::Mae(mae) = pre else {
                        bail!(
                            "--init {} is a {} checkpoint; a pretrained MAE (arch mae) is needed",
                            path.display(),
                            pre.arch()
                        );
                    };
                    *c = mae.encoder.config.clone();
                    mae
                }
                None => {
                    c.check(false).context("model config")?;
                    Mae::new(c.clone(), rng)?
                }
            };
            Model::MaeClassifier(MaeClassifier::from_mae(mae, classes, rng)?, classes)
        }
        (arch, m) => bail!("architecture {arch:?} cannot use a {m:?} model config"),
    };
    Ok((model, cfg))
}

fn make_optimizer(cfg: &TrainConfig, params: Vec<Tensor>) -> Result<optim::Optimizer> {
    let adam = optim::Adam {
        betas: (cfg.betas.0 as f32, cfg.betas.1 as f32),
        eps: 1e-8,
        weight_decay: cfg.weight_decay as f32,
    };
    let lr = cfg.lr as f32;
    match cfg.optimizer {
        OptimKind::Sgd => optim::Optimizer::sgd(
            params,
            lr,
            optim::Sgd {
                momentum: cfg.momentum as f32,
                weight_decay: cfg.weight_decay as f32,
                ..Default::default()
            },
        ),
        OptimKind::Adam => optim::Optimizer::adam(params, lr, adam),
        OptimKind::Adamw => optim::Optimizer::adamw(params, lr, adam),
    }
}

/// Mean masked-reconstruction loss on `data` with masks fixed by the seed (the same every
/// epoch, so validation losses compare).
fn mae_val_loss(mae: &Mae, data: &Dataset, batch: usize, seed: u64) -> Result<f64> {
    let _g = crate::no_grad();
    let n = data.len();
    ensure!(n > 0, "cannot validate on an empty dataset");
    let patches = mae.encoder.config.patches();
    let mut sums = Vec::new();
    for (bi, start) in (0..n).step_by(batch).enumerate() {
        let idx: Vec<usize> = (start..(start + batch).min(n)).collect();
        let (images, _) = data.batch(&idx);
        let x = Tensor::from_slice(&images, &[idx.len(), 3, 32, 32])?;
        let mut rng = init_rng(Mixer::TRAINER.mix(&[seed, u64::MAX, bi as u64]));
        let out = mae.forward(&x, &random_shuffles(idx.len(), patches, &mut rng))?;
        sums.push(out.loss.mul_scalar(idx.len() as f32)?.reshape(&[1])?);
    }
    let v = ops::plumbing::concat(&sums.iter().collect::<Vec<_>>(), 0)?.to_vec()?;
    Ok(v.iter().map(|&x| x as f64).sum::<f64>() / n as f64)
}

/// Trains `cfg` on `train`, validating on `val`, writing into `dir`. With `resume` (from
/// [`state::read_resume`] on `dir`), continues that run exactly where its last checkpoint
/// left it: model, optimizer state, schedule state and loader position.
pub fn train(
    cfg: &TrainConfig,
    train: &Dataset,
    val: &Dataset,
    dir: &Path,
    resume: Option<&Resumed>,
    opts: &RunOptions,
) -> Result<Summary> {
    run(cfg, train, val, dir, resume, opts).map_err(|e| {
        let classes = train.num_classes();
        batch_fit::suggest_batch(e, cfg, || {
            build_model(cfg, classes, &mut init_rng(cfg.seed))
        })
    })
}

fn run(
    cfg: &TrainConfig,
    train: &Dataset,
    val: &Dataset,
    dir: &Path,
    resume: Option<&Resumed>,
    opts: &RunOptions,
) -> Result<Summary> {
    cfg.validate()?;
    epoch_loop::prepare_dir(dir, resume.is_some())?;
    let train_set = Arc::new(train.spread_subset(cfg.train_limit));
    let val_set = val.spread_subset(cfg.val_limit);
    ensure!(!train_set.is_empty(), "the training set is empty");
    ensure!(!val_set.is_empty(), "the validation set is empty");
    let classes = train_set.num_classes();

    let mut rng = init_rng(cfg.seed);
    let (model, cfg) = build_model(cfg, classes, &mut rng)?;
    let mut opt = make_optimizer(&cfg, model.parameters())?;
    let task = ClassifierTask {
        cfg: &cfg,
        model,
        train_images: train_set.len(),
        val: val_set,
    };
    let s = epoch_loop::run(&task, &mut opt, &cfg, train_set, dir, resume, opts)?;
    Ok(Summary {
        metrics: s.metrics,
        best_score: s.best_score.unwrap_or(f64::NAN),
        stopped: s.stopped,
    })
}

impl RunConfig for TrainConfig {
    fn epochs(&self) -> usize {
        self.epochs
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn batch_size(&self) -> usize {
        self.batch_size
    }
    fn augment(&self) -> AugmentKind {
        self.augment
    }
    fn clip_grad(&self) -> Option<f32> {
        self.clip_grad.map(|c| c as f32)
    }
    fn check_every(&self) -> usize {
        self.log_every
    }
}

/// A classifier's or MAE pre-training's side of the epoch loop.
struct ClassifierTask<'a> {
    /// The config as built (an MAE classifier's encoder config from its `--init`).
    cfg: &'a TrainConfig,
    model: Model,
    train_images: usize,
    val: Dataset,
}

impl Task for ClassifierTask<'_> {
    type Epoch = ();
    /// (validation loss, accuracy: none for MAE pre-training).
    type Val = (f64, Option<f64>);
    type Metrics = EpochMetrics;
    const RUN: &'static str = "training";
    const WEIGH: Weigh = Weigh::Host;

    fn module(&self) -> &dyn Module {
        &self.model
    }

    fn begin_epoch(&self, _epoch: usize) {}

    /// The loss of one batch (recording) and, for classifiers, its correct count.
    fn loss(&self, _: &mut (), batch: &Batch) -> Result<StepLoss> {
        let b = batch.len();
        let x = Tensor::from_slice(&batch.images, &[b, 3, 32, 32])?;
        Ok(match &self.model {
            Model::Mae(mae) => {
                let seed = Mixer::TRAINER.mix(&[self.cfg.seed, batch.epoch, batch.batch as u64, 2]);
                let shuffles =
                    random_shuffles(b, mae.encoder.config.patches(), &mut init_rng(seed));
                mae.forward(&x, &shuffles)?.loss.into()
            }
            m => {
                let labels: Vec<f32> = batch.labels.iter().map(|&l| l as f32).collect();
                let labels = Tensor::from_slice(&labels, &[b])?;
                let logits = m.logits(&x, true)?;
                let smoothing = self.cfg.label_smoothing as f32;
                StepLoss {
                    loss: ops::loss::cross_entropy(&logits, &labels, smoothing)?,
                    correct: Some(correct_count(&logits, &labels)?.reshape(&[1])?),
                }
            }
        })
    }

    fn validate(&self) -> Result<(f64, Self::Val)> {
        let (batch, seed) = (self.cfg.batch_size, self.cfg.seed);
        let (loss, acc) = match &self.model {
            Model::Mae(mae) => (mae_val_loss(mae, &self.val, batch, seed)?, None),
            m => {
                let e = evaluate(m, &self.val, batch)?;
                (e.loss, Some(e.accuracy))
            }
        };
        Ok((loss, (loss, acc)))
    }

    /// Accuracy for classifiers, −loss for MAE pre-training.
    fn score(&self, criterion: f64, (_, acc): &Self::Val) -> f64 {
        acc.unwrap_or(-criterion)
    }

    fn metrics(&self, b: EpochBase, (val_loss, val_acc): Self::Val) -> EpochMetrics {
        EpochMetrics {
            epoch: b.epoch,
            step: b.step,
            train_loss: b.train_loss,
            train_acc: b.train_acc,
            val_loss,
            val_acc,
            lr: b.lr,
            images_per_s: b.images_per_s,
            seconds: b.seconds,
        }
    }

    fn epoch_of(m: &EpochMetrics) -> usize {
        m.epoch
    }

    /// The model's own metadata plus the run's config.
    fn last_meta(&self, _epoch: usize) -> Result<Meta> {
        let mut meta = self.model.metadata();
        meta.insert(state::META_TRAIN.into(), serde_json::to_string(self.cfg)?);
        Ok(meta)
    }

    /// The model's own metadata with the epoch and validation score.
    fn best_meta(&self, epoch: usize, score: f64) -> Result<Meta> {
        let mut meta = self.model.metadata();
        meta.insert(state::META_EPOCH.into(), epoch.to_string());
        meta.insert("fastshap.val_score".into(), score.to_string());
        Ok(meta)
    }

    fn announce(&self, resumed_after: Option<usize>) {
        println!("{}", self.cfg.describe());
        println!(
            "model: {} parameters; data: {} training / {} validation images{}",
            self.model.parameter_count(),
            self.train_images,
            self.val.len(),
            resumed_after
                .map(|e| format!("; resuming after epoch {e}"))
                .unwrap_or_default()
        );
    }

    fn print_epoch(&self, m: &EpochMetrics, epochs: usize, is_best: bool) {
        let acc = |a: Option<f64>| a.map(|a| format!(" acc {a:.3}")).unwrap_or_default();
        println!(
            "epoch {}/{}: train loss {:.4}{} | val loss {:.4}{} | lr {:.2e} | {:.0} img/s | {:.1} s{}",
            m.epoch,
            epochs,
            m.train_loss,
            acc(m.train_acc),
            m.val_loss,
            acc(m.val_acc),
            m.lr,
            m.images_per_s,
            m.seconds,
            if is_best { " (best)" } else { "" }
        );
    }
}
