//! The training loop. Per step: upload the batch, forward, loss, backward, optional gradient
//! clipping, fused optimizer step — with no host sync. Losses and correct counts stay on the
//! device and are read back every `log_every` steps in one transfer (one value per step, so a
//! NaN is still pinned to its step). After each epoch: validation, the schedule's epoch update,
//! a metrics line, `best`/`last` checkpoints.

use super::config::{Arch, ModelConfig, OptimKind, TrainConfig};
use super::eval::{correct_count, evaluate};
use super::model::Model;
use super::nonfinite;
use super::schedule::{lr_at, plateau_step};
use super::state::{self, BEST, CONFIG, LAST, METRICS, Resumed, TrainerState};
use crate::Tensor;
use crate::checkpoint;
use crate::data::{Batch, Dataset, Loader, LoaderConfig};
use crate::models::{Mae, MaeClassifier, ResNet, Vit, mae::random_shuffles};
use crate::nn::{InitRng, Module, init_rng};
use crate::ops::{self, optim};
use crate::seed::Mixer;
use anyhow::{Context, Result, bail, ensure};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// How a run behaves, beyond what it computes.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print nothing (no recipe, no progress bars, no epoch lines).
    pub quiet: bool,
    /// Stop cleanly after this many finished epochs (as if killed there; `--resume` continues).
    pub stop_after_epoch: Option<usize>,
    /// Fault injection for tests: at this global step, multiply the loss by NaN (or, with
    /// `nan_op`, make that op produce NaN).
    pub nan_at_step: Option<u64>,
    /// The op `nan_at_step` poisons, instead of the loss.
    pub nan_op: Option<crate::autograd::trace::Fault>,
}

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

/// `n` images spread evenly over `data` (readers group images by class, so a prefix would
/// hold only the first classes).
fn spread_subset(data: &Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => {
            let idx: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
            data.select(&idx)
        }
        _ => data.clone(),
    }
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

/// Device-side values of steps not yet read back.
struct Pending {
    /// Per step: the batch-mean loss [1], the correct count [1] (classifiers), the batch size.
    steps: Vec<(Tensor, Option<Tensor>, usize)>,
    /// Global step of the first pending entry.
    first_step: u64,
}

/// Running sums of an epoch's read-back values.
#[derive(Default)]
struct Totals {
    loss: f64,
    correct: f64,
    images: usize,
}

/// A training loss that is not finite, with the step it belongs to.
#[derive(Debug)]
pub(crate) struct NonFiniteLoss {
    pub step: u64,
    /// "training loss is NaN at epoch 2 step 2 (global step 3)".
    pub what: String,
}

impl NonFiniteLoss {
    /// Step `step` (the `in_epoch`-th, 0-based, of 0-based `epoch`) of a `what` ("training")
    /// run: "training loss is NaN at epoch 2 step 2 (global step 3)" when its `loss` is not
    /// finite, else (the model's weights or buffers are) "training weights are not finite
    /// after epoch 2 step 2 (global step 3; every loss was finite)".
    pub fn at(step: u64, what: &str, loss: f32, epoch: usize, in_epoch: usize) -> NonFiniteLoss {
        let at = format!(
            "epoch {} step {} (global step {step}",
            epoch + 1,
            in_epoch + 1
        );
        NonFiniteLoss {
            step,
            what: if loss.is_finite() {
                format!("{what} weights are not finite after {at}; every loss was finite)")
            } else {
                format!("{what} loss is {loss} at {at})")
            },
        }
    }
}

impl std::fmt::Display for NonFiniteLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for NonFiniteLoss {}

/// "the last good checkpoint DIR/last.safetensors (epoch 1) is kept".
pub(crate) fn kept_checkpoint(dir: &Path) -> String {
    let last = dir.join(LAST);
    match checkpoint::read_metadata(&last) {
        Ok(m) => format!(
            "the last good checkpoint {} (epoch {}) is kept",
            last.display(),
            m.get(state::META_EPOCH).map(String::as_str).unwrap_or("?")
        ),
        Err(_) => "no checkpoint was written yet".to_string(),
    }
}

/// Reads the pending steps back in one transfer, with [`nonfinite::weights_flag`] of `model`;
/// a non-finite loss or model is a [`NonFiniteLoss`].
fn flush(
    p: &mut Pending,
    t: &mut Totals,
    epoch: usize,
    per_epoch: usize,
    model: &Model,
) -> Result<()> {
    if p.steps.is_empty() {
        return Ok(());
    }
    let flag = nonfinite::weights_flag(model)?;
    let mut parts: Vec<&Tensor> = p.steps.iter().map(|s| &s.0).collect();
    parts.push(&flag);
    parts.extend(p.steps.iter().filter_map(|s| s.1.as_ref()));
    let v = ops::plumbing::concat(&parts, 0)?.to_vec()?;
    let k = p.steps.len();
    let bad = |i: usize| {
        let step = p.first_step + i as u64;
        NonFiniteLoss::at(step, "training", v[i], epoch, step as usize % per_epoch)
    };
    for (i, (_, c, n)) in p.steps.iter().enumerate() {
        let loss = v[i];
        if !loss.is_finite() {
            return Err(bad(i).into());
        }
        t.loss += loss as f64 * *n as f64;
        if c.is_some() {
            t.correct += v[k + 1 + i] as f64;
        }
        t.images += n;
    }
    // Every loss finite, but the weights are not: the replay finds the step.
    if v[k] != 0.0 {
        return Err(bad(k - 1).into());
    }
    p.first_step += k as u64;
    p.steps.clear();
    Ok(())
}

fn progress_bar(len: usize, epoch: usize, epochs: usize, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    if quiet || !std::io::stdout().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        pb.set_draw_target(ProgressDrawTarget::stdout());
    }
    pb.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(format!("{}/{epochs}", epoch + 1));
    pb
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
    run(cfg, train, val, dir, resume, opts).map_err(|e| suggest_batch(e, cfg, train.num_classes()))
}

/// When a launch was refused for exceeding the adapter's storage-binding limit, replaces the
/// error by one that names the largest batch whose training step fits.
fn suggest_batch(e: anyhow::Error, cfg: &TrainConfig, classes: usize) -> anyhow::Error {
    let Some(big) = e.downcast_ref::<crate::gpu::BindingTooLarge>().cloned() else {
        return e;
    };
    let fits = match largest_batch(cfg, classes) {
        Ok(Some(n)) => n,
        // The training step fits (the failure was elsewhere) or the probe failed: keep the
        // original message.
        _ => return e,
    };
    let advice = if fits == 0 {
        "not even one image fits: this model is too large for the adapter".to_string()
    } else {
        format!("the largest batch that fits is {fits} (use --batch-size {fits} or smaller)")
    };
    anyhow::anyhow!(
        "--batch-size {} is too large for adapter '{}': kernel {} would bind {} MiB, over its \
         storage-binding limit of {} MiB; {advice}",
        cfg.batch_size,
        big.adapter,
        big.kernel,
        big.bytes >> 20,
        big.limit >> 20
    )
}

/// The largest batch whose training step (forward, loss, backward) stays within the adapter's
/// binding and buffer limits, by bisection over dry runs ([`crate::gpu::Context::dry_run`]:
/// launches are checked, not executed, so each probe costs only host time). `None` when even
/// the configured batch passes (the failure was elsewhere). The optimizer's launches are
/// parameter-sized and do not depend on the batch.
fn largest_batch(cfg: &TrainConfig, classes: usize) -> Result<Option<usize>> {
    let (model, cfg) = build_model(cfg, classes, &mut init_rng(cfg.seed))?;
    let fits = |b: usize| -> Result<bool> {
        let r = crate::gpu::ctx().dry_run(|| -> Result<()> {
            let x = Tensor::zeros(&[b, 3, 32, 32])?;
            let loss = match &model {
                Model::Mae(mae) => {
                    let shuffles =
                        random_shuffles(b, mae.encoder.config.patches(), &mut init_rng(0));
                    mae.forward(&x, &shuffles)?.loss
                }
                m => {
                    let labels = Tensor::zeros(&[b])?;
                    ops::loss::cross_entropy(
                        &m.logits(&x, true)?,
                        &labels,
                        cfg.label_smoothing as f32,
                    )?
                }
            };
            loss.backward()
        });
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.downcast_ref::<crate::gpu::BindingTooLarge>().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    };
    if fits(cfg.batch_size)? {
        return Ok(None);
    }
    // Invariant: `lo` fits (0 trivially), `hi` does not.
    let (mut lo, mut hi) = (0, cfg.batch_size);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
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
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if resume.is_none() && dir.join(LAST).exists() {
        bail!(
            "{} already holds a run ({LAST}); continue it with --resume {0} or choose another --out",
            dir.display()
        );
    }
    let train_set = Arc::new(spread_subset(train, cfg.train_limit));
    let val_set = spread_subset(val, cfg.val_limit);
    ensure!(!train_set.is_empty(), "the training set is empty");
    ensure!(!val_set.is_empty(), "the validation set is empty");
    let classes = train_set.num_classes();

    let mut rng = init_rng(cfg.seed);
    let (model, cfg) = build_model(cfg, classes, &mut rng)?;
    let cfg = &cfg;
    let mut opt = make_optimizer(cfg, model.parameters())?;
    let mut st = match resume {
        Some(r) => {
            state::remove_stale_temps(dir)?;
            state::restore(r, &model, &mut opt)?;
            r.state.clone()
        }
        None => {
            crate::io::write_atomic(
                &dir.join(CONFIG),
                serde_json::to_string_pretty(cfg)?.as_bytes(),
            )?;
            TrainerState::start(cfg.lr, cfg.seed)
        }
    };
    // Metrics up to the checkpoint's epoch stay; lines of epochs it does not hold are redone.
    let mut metrics: Vec<EpochMetrics> =
        state::start_metrics(dir, resume.map(|_| st.epoch), |m: &EpochMetrics| m.epoch)?;

    if !opts.quiet {
        println!("{}", cfg.describe());
        println!(
            "model: {} parameters; data: {} training / {} validation images{}",
            model.parameter_count(),
            train_set.len(),
            val_set.len(),
            if resume.is_some() {
                format!("; resuming after epoch {}", st.epoch)
            } else {
                String::new()
            }
        );
    }

    let lcfg = LoaderConfig {
        augment: cfg.augment.augment(),
        ..LoaderConfig::new(cfg.batch_size, cfg.seed)
    };
    let mut loader = Loader::resume(train_set.clone(), lcfg, st.loader)?;
    let per_epoch = loader.batches_per_epoch();
    let mut stopped = false;
    let params = nonfinite::named_params(&model);
    // The loss of one batch (recording) and, for classifiers, its correct count.
    let batch_loss = |batch: &Batch| -> Result<(Tensor, Option<Tensor>)> {
        let b = batch.len();
        let x = Tensor::from_slice(&batch.images, &[b, 3, 32, 32])?;
        Ok(match &model {
            Model::Mae(mae) => {
                let seed = Mixer::TRAINER.mix(&[cfg.seed, batch.epoch, batch.batch as u64, 2]);
                let shuffles =
                    random_shuffles(b, mae.encoder.config.patches(), &mut init_rng(seed));
                (mae.forward(&x, &shuffles)?.loss, None)
            }
            m => {
                let labels: Vec<f32> = batch.labels.iter().map(|&l| l as f32).collect();
                let labels = Tensor::from_slice(&labels, &[b])?;
                let logits = m.logits(&x, true)?;
                let loss = ops::loss::cross_entropy(&logits, &labels, cfg.label_smoothing as f32)?;
                (loss, Some(correct_count(&logits, &labels)?.reshape(&[1])?))
            }
        })
    };

    for epoch in st.epoch..cfg.epochs {
        let t0 = Instant::now();
        let pb = progress_bar(per_epoch, epoch, cfg.epochs, opts.quiet);
        let mut pending = Pending {
            steps: Vec::new(),
            first_step: st.step,
        };
        let mut totals = Totals::default();
        let mut lr = cfg.lr;
        let snapshot = nonfinite::Snapshot::take(&model, &opt)?;
        let epoch_start = (st.step, st.loader);
        let lr_of = |step: u64| {
            lr_at(
                &cfg.schedule,
                cfg.lr,
                &st.plateau,
                step,
                per_epoch,
                cfg.epochs,
            )
        };
        // A non-finite loss: replay the epoch to name the op, then stop (nothing is written).
        let stop = |bad: Result<()>, opt: &mut optim::Optimizer| -> Result<()> {
            let Err(e) = bad else { return Ok(()) };
            let Some(nf) = e.downcast_ref::<NonFiniteLoss>() else {
                return Err(e);
            };
            let batches = Loader::resume(train_set.clone(), lcfg, epoch_start.1)?;
            let located = nonfinite::locate(
                &model,
                opt,
                &snapshot,
                opts,
                batches,
                (epoch_start.0, nf.step),
                &lr_of,
                cfg.clip_grad.map(|c| c as f32),
                &mut |b, _| Ok(batch_loss(b)?.0),
            )?;
            bail!(
                "{}: {}; stopping — {}",
                nf.what,
                located.describe(nf.step),
                kept_checkpoint(dir)
            )
        };
        for batch in loader.epoch() {
            lr = lr_of(st.step);
            opt.set_lr(lr as f32);
            let b = batch.len();
            opt.zero_grad();
            let mut correct = None;
            let loss = nonfinite::forward_backward(opts, st.step, &params, false, || {
                let (l, c) = batch_loss(&batch)?;
                correct = c;
                Ok(l)
            })
            .0?;
            if let Some(c) = cfg.clip_grad {
                optim::clip_grad_norm(opt.params(), c as f32)?;
            }
            opt.step()?;
            pending
                .steps
                .push((loss.detach().reshape(&[1])?, correct, b));
            st.step += 1;
            pb.inc(1);
            if pending.steps.len() >= cfg.log_every {
                stop(
                    flush(&mut pending, &mut totals, epoch, per_epoch, &model),
                    &mut opt,
                )?;
                let secs = t0.elapsed().as_secs_f64();
                let mut msg = format!("loss {:.4}", totals.loss / totals.images as f64);
                if model.is_classifier() {
                    msg += &format!(" acc {:.3}", totals.correct / totals.images as f64);
                }
                msg += &format!(" {:.0} img/s", totals.images as f64 / secs);
                pb.set_message(msg);
            }
        }
        stop(
            flush(&mut pending, &mut totals, epoch, per_epoch, &model),
            &mut opt,
        )?;
        let train_secs = t0.elapsed().as_secs_f64();
        pb.finish_and_clear();

        let (val_loss, val_acc) = match &model {
            Model::Mae(mae) => (mae_val_loss(mae, &val_set, cfg.batch_size, cfg.seed)?, None),
            m => {
                let e = evaluate(m, &val_set, cfg.batch_size)?;
                (e.loss, Some(e.accuracy))
            }
        };
        plateau_step(&cfg.schedule, &mut st.plateau, val_loss);
        let images = totals.images as f64;
        let m = EpochMetrics {
            epoch: epoch + 1,
            step: st.step,
            train_loss: totals.loss / images,
            train_acc: model.is_classifier().then(|| totals.correct / images),
            val_loss,
            val_acc,
            lr,
            images_per_s: images / train_secs,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let score = val_acc.unwrap_or(-val_loss);
        let is_best = st.best_score.is_none_or(|b| score > b);
        if is_best {
            st.best_score = Some(score);
            st.best_epoch = Some(epoch + 1);
            state::save_best(dir, &model, epoch + 1, score)?;
        }
        // The metrics line first: a kill before the checkpoint redoes this epoch on resume and
        // the line is dropped then.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(METRICS))?;
        writeln!(f, "{}", serde_json::to_string(&m)?)?;
        f.sync_all()?;
        st.epoch = epoch + 1;
        st.loader = loader.state();
        state::save_last(dir, &model, &opt, cfg, &st)?;
        if !opts.quiet {
            println!(
                "epoch {}/{}: train loss {:.4}{} | val loss {:.4}{} | lr {:.2e} | {:.0} img/s | {:.1} s{}",
                m.epoch,
                cfg.epochs,
                m.train_loss,
                m.train_acc
                    .map(|a| format!(" acc {a:.3}"))
                    .unwrap_or_default(),
                m.val_loss,
                m.val_acc
                    .map(|a| format!(" acc {a:.3}"))
                    .unwrap_or_default(),
                m.lr,
                m.images_per_s,
                m.seconds,
                if is_best { " (best)" } else { "" }
            );
        }
        metrics.push(m);
        if opts.stop_after_epoch == Some(st.epoch) && st.epoch < cfg.epochs {
            stopped = true;
            break;
        }
    }
    if !opts.quiet {
        println!(
            "{} in {}: {LAST}, {BEST}, {METRICS}",
            if stopped { "stopped" } else { "done" },
            dir.display()
        );
    }
    Ok(Summary {
        metrics,
        best_score: st.best_score.unwrap_or(f64::NAN),
        stopped,
    })
}
