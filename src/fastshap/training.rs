//! The epoch loop the surrogate and the explainer share, on the classifier trainer's machinery
//! ([`crate::train::state`] run files, [`crate::train::nonfinite`] NaN location): Adam with
//! reduce-on-plateau on the validation loss, early stopping, `best`/`last` checkpoints, exact
//! resumption (model, optimizer, schedule, early-stopping state, loader position; mask draws
//! are seeded by epoch), and a non-finite loss that stops the run naming the op behind it.

use crate::Tensor;
use crate::data::{Batch, Dataset, Loader, LoaderConfig};
use crate::nn::Module;
use crate::ops::{self, optim::Optimizer};
use crate::train::RunOptions;
use crate::train::nonfinite::{self, Snapshot};
use crate::train::schedule::{Schedule, lr_at, plateau_step};
use crate::train::state::{self, BEST, CONFIG, LAST, Resumed, TrainerState};
use crate::train::trainer::{NonFiniteLoss, kept_checkpoint};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Steps between read-backs of the training loss (each one is a sync).
const CHECK_EVERY: usize = 10;

/// The settings the loop needs from a surrogate or explainer config.
pub(crate) struct LoopConfig<'a, C> {
    /// The whole config, saved in `config.json`.
    pub config: &'a C,
    pub epochs: usize,
    pub lr: f64,
    pub schedule: &'a Schedule,
    pub early_stop: usize,
    pub seed: u64,
    pub loader: LoaderConfig,
}

/// Everything of an epoch's metrics line that the loop itself measures.
pub(crate) struct EpochBase {
    pub epoch: usize,
    pub step: u64,
    pub train_loss: f64,
    pub lr: f64,
    pub images_per_s: f64,
    pub seconds: f64,
}

/// What differs between the surrogate's and the explainer's training.
pub(crate) trait Task {
    /// The per-epoch mask sampler (seeded by epoch, so a replayed or resumed epoch draws the
    /// same masks).
    type Sampler;
    /// What validation measures besides the criterion.
    type Val;
    type Metrics: Serialize + DeserializeOwned;
    /// "surrogate" or "explainer", for messages.
    const WHAT: &'static str;

    fn module(&self) -> &dyn Module;
    fn sampler(&self, epoch: usize) -> Self::Sampler;
    /// The training loss of one batch (recording).
    fn loss(&self, sampler: &mut Self::Sampler, batch: &Batch) -> Result<Tensor>;
    /// The validation loss (lower is better: the schedule's, early stopping's and the best
    /// model's criterion) and the rest.
    fn validate(&self) -> Result<(f64, Self::Val)>;
    fn metrics(&self, base: EpochBase, val: Self::Val) -> Self::Metrics;
    fn epoch_of(m: &Self::Metrics) -> usize;
    /// Checkpoint metadata (rebuilds the model) after `epoch` epochs.
    fn checkpoint_meta(&self, epoch: usize) -> Result<HashMap<String, String>>;
    fn print_epoch(&self, m: &Self::Metrics, epochs: usize, is_best: bool);
}

/// What a run left: every metrics line (including those before a resume).
pub(crate) struct LoopSummary<M> {
    pub metrics: Vec<M>,
    pub best_epoch: usize,
    pub early_stopped: bool,
    /// True when `stop_after_epoch` ended the run.
    pub stopped: bool,
}

/// Refuses a fresh run into a directory holding one, creates the directory and removes the
/// temp files of writes a killed run left.
pub(crate) fn prepare_dir(dir: &Path, resuming: bool) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if !resuming && dir.join(LAST).exists() {
        bail!(
            "{} already holds a run ({LAST}); continue it with --resume {0} or choose another --out",
            dir.display()
        );
    }
    state::remove_stale_temps(dir)
}

/// Restores the model and optimizer of `resume` (or starts the run: `config.json`), trains the
/// remaining epochs on `train` into `dir`.
pub(crate) fn run<T: Task, C: Serialize>(
    task: &T,
    opt: &mut Optimizer,
    c: &LoopConfig<C>,
    train: Arc<Dataset>,
    dir: &Path,
    resume: Option<&Resumed<C>>,
    opts: &RunOptions,
) -> Result<LoopSummary<T::Metrics>> {
    let model = task.module();
    let mut st = match resume {
        Some(r) => {
            state::restore(r, model, opt)?;
            r.state.clone()
        }
        None => {
            crate::io::write_atomic(
                &dir.join(CONFIG),
                serde_json::to_string_pretty(c.config)?.as_bytes(),
            )?;
            TrainerState::start(c.lr, c.seed)
        }
    };
    let mut metrics = state::start_metrics(dir, resume.map(|_| st.epoch), T::epoch_of)?;
    if resume.is_some() && !opts.quiet {
        println!("resuming after epoch {}", st.epoch);
    }
    let mut loader = Loader::resume(train.clone(), c.loader, st.loader)?;
    let per_epoch = loader.batches_per_epoch();
    let params = nonfinite::named_params(model);
    let mut early_stopped = false;
    let mut stopped = false;
    // A resumed run that had already stopped early has nothing left to do.
    let done_early = |st: &TrainerState| {
        st.epoch > 0
            && super::early_stop(
                st.epoch - 1,
                st.best_epoch.unwrap_or(0),
                c.early_stop,
                c.epochs,
                true,
            )
    };
    if done_early(&st) {
        early_stopped = true;
    }
    while !early_stopped && st.epoch < c.epochs {
        let epoch = st.epoch;
        let t0 = Instant::now();
        let snapshot = Snapshot::take(model, opt)?;
        let start = (st.step, st.loader);
        let lr_of = |step: u64| lr_at(c.schedule, c.lr, &st.plateau, step, per_epoch, c.epochs);
        let mut sampler = task.sampler(epoch);
        // Per step: the batch's loss sum.
        let mut pending: Vec<Tensor> = Vec::new();
        let mut sum = 0.0f64;
        let mut images = 0usize;
        let mut lr = c.lr;
        // Reads the pending per-batch loss sums back; a non-finite one is replayed to name the
        // op that produced it, then stops the run.
        let mut check = |pending: &mut Vec<Tensor>, step: u64, opt: &mut Optimizer| -> Result<()> {
            if pending.is_empty() {
                return Ok(());
            }
            let k = pending.len();
            let flag = nonfinite::weights_flag(model)?;
            let parts: Vec<&Tensor> = pending.iter().chain([&flag]).collect();
            let v = ops::plumbing::concat(&parts, 0)?.to_vec()?;
            let first = step - k as u64;
            // The first non-finite loss, else (the model is not finite) the last step.
            let bad_loss = (0..k).find(|&i| !v[i].is_finite());
            if let Some(i) = bad_loss.or((v[k] != 0.0).then_some(k - 1)) {
                let bad = first + i as u64;
                let what = format!("{} training", T::WHAT);
                let e = NonFiniteLoss::at(bad, &what, v[i], epoch, (bad - start.0) as usize);
                let mut replay_sampler = task.sampler(epoch);
                let located = nonfinite::locate(
                    model,
                    opt,
                    &snapshot,
                    opts,
                    Loader::resume(train.clone(), c.loader, start.1)?,
                    (start.0, bad),
                    &lr_of,
                    None,
                    &mut |b, _| task.loss(&mut replay_sampler, b),
                )?;
                bail!(
                    "{e}: {}; stopping — {}",
                    located.describe(bad),
                    kept_checkpoint(dir)
                );
            }
            // In batch order, so the epoch's mean is the same however often this runs.
            for &x in &v[..k] {
                sum += x as f64;
            }
            pending.clear();
            Ok(())
        };
        for batch in loader.epoch() {
            lr = lr_of(st.step);
            opt.set_lr(lr as f32);
            opt.zero_grad();
            let l = nonfinite::forward_backward(opts, st.step, &params, false, || {
                task.loss(&mut sampler, &batch)
            })
            .0?;
            opt.step()?;
            let b = batch.len();
            pending.push(l.detach().mul_scalar(b as f32)?.reshape(&[1])?);
            images += b;
            st.step += 1;
            if pending.len() >= CHECK_EVERY {
                check(&mut pending, st.step, opt)?;
            }
        }
        check(&mut pending, st.step, opt)?;
        let train_secs = t0.elapsed().as_secs_f64();
        let (criterion, val) = task.validate()?;
        plateau_step(c.schedule, &mut st.plateau, criterion);
        let m = task.metrics(
            EpochBase {
                epoch: epoch + 1,
                step: st.step,
                train_loss: sum / images as f64,
                lr,
                images_per_s: images as f64 / train_secs,
                seconds: t0.elapsed().as_secs_f64(),
            },
            val,
        );
        let meta = task.checkpoint_meta(epoch + 1)?;
        // Scores are "higher is better" in the run state; the criterion is a loss.
        let is_best = st.best_score.is_none_or(|b| -criterion > b);
        if is_best {
            st.best_score = Some(-criterion);
            st.best_epoch = Some(epoch + 1);
            crate::checkpoint::save(model, meta.clone(), &dir.join(BEST))?;
        }
        // The metrics line first: a kill before the checkpoint redoes this epoch on resume and
        // the line is dropped then.
        super::append_jsonl(&dir.join(state::METRICS), &m)?;
        st.epoch = epoch + 1;
        st.loader = loader.state();
        state::save_last_with(dir, model, meta, opt, &st)?;
        if !opts.quiet {
            task.print_epoch(&m, c.epochs, is_best);
        }
        metrics.push(m);
        if super::early_stop(
            epoch,
            st.best_epoch.unwrap_or(0),
            c.early_stop,
            c.epochs,
            opts.quiet,
        ) {
            early_stopped = true;
        } else if opts.stop_after_epoch == Some(st.epoch) && st.epoch < c.epochs {
            stopped = true;
            break;
        }
    }
    if !opts.quiet {
        println!(
            "{} in {}: {LAST}, {BEST}, {}",
            if stopped { "stopped" } else { "done" },
            dir.display(),
            state::METRICS
        );
    }
    Ok(LoopSummary {
        metrics,
        best_epoch: st.best_epoch.unwrap_or(0),
        early_stopped,
        stopped,
    })
}
