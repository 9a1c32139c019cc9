//! The one epoch loop every trainer runs: classifiers and MAE pre-training
//! ([`super::trainer`]), FastSHAP surrogates and explainers ([`crate::fastshap`]).
//!
//! A [`Task`] supplies what differs: its model, the loss of a batch, its validation, its
//! metrics line and its checkpoints' metadata; its config ([`RunConfig`]) the epochs, rate,
//! schedule, batches and patience ([`super::task`]). The loop owns the rest, once for every
//! trainer: the learning-rate schedule, progress and read-backs ([`super::readback`]), a
//! non-finite loss replayed to name the op behind it ([`super::nonfinite`]), validation after
//! every epoch, `best`/`last` checkpoints and `metrics.jsonl` ([`super::state`]), snapshots at
//! planned steps ([`super::snapshots`]), early stopping, and exact resumption (model, optimizer, schedule, early-stopping state, loader
//! position; whatever a task draws at random is seeded by epoch or batch, so a replayed or
//! resumed epoch draws it again).
//!
//! Per step: upload, forward, loss, backward, optional gradient clipping, fused optimizer step
//! — with no host sync; losses stay on the device until the next read-back.

use super::nonfinite::{self, NonFiniteLoss, Snapshot};
use super::options::RunOptions;
use super::readback::{EpochBase, Readback, progress_bar};
use super::schedule::{lr_at, plateau_step};
use super::snapshots::{self, SNAPSHOTS};
use super::state::{self, BEST, CONFIG, LAST, METRICS, Resumed, TrainerState};
use super::task::{RunConfig, StepLoss, Task};
use crate::Tensor;
use crate::data::{Batch, Dataset, Loader, LoaderState};
use crate::ops::optim::{self, Optimizer};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What a run left: every metrics line (including those before a resume).
pub struct LoopSummary<M> {
    pub metrics: Vec<M>,
    /// The best validation score; none when no epoch ran.
    pub best_score: Option<f64>,
    pub best_epoch: usize,
    /// True when early stopping ended the run before its last epoch.
    pub early_stopped: bool,
    /// True when `stop_after_epoch` ended the run before its last epoch.
    pub stopped: bool,
}

/// Refuses a fresh run into a directory holding one, creates the directory and removes the
/// temp files of writes a killed run left (and a fresh run's leftover snapshots: those of a
/// run killed before its first checkpoint, whose plan may differ).
pub fn prepare_dir(dir: &Path, resuming: bool) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if !resuming && dir.join(LAST).exists() {
        bail!(
            "{} already holds a run ({LAST}); continue it with --resume {0} or choose another --out",
            dir.display()
        );
    }
    let snaps = dir.join(SNAPSHOTS);
    if !resuming && snaps.is_dir() {
        std::fs::remove_dir_all(&snaps)
            .with_context(|| format!("cannot remove {}", snaps.display()))?;
    } else if snaps.is_dir() {
        state::remove_stale_temps(&snaps)?;
    }
    state::remove_stale_temps(dir)
}

/// Restores the model and optimizer of `resume` (or starts the run: `config.json`), trains the
/// remaining epochs of `task` on `train` into `dir` (made ready by [`prepare_dir`]).
pub fn run<T: Task, C: RunConfig>(
    task: &T,
    opt: &mut Optimizer,
    cfg: &C,
    train: Arc<Dataset>,
    dir: &Path,
    resume: Option<&Resumed<C>>,
    opts: &RunOptions,
) -> Result<LoopSummary<T::Metrics>> {
    let run = Run {
        task,
        cfg,
        train,
        dir,
        opts,
    };
    let mut st = run.start(opt, resume)?;
    let mut metrics = state::start_metrics(dir, resume.map(|_| st.epoch), T::epoch_of)?;
    if !opts.quiet {
        task.announce(resume.map(|_| st.epoch));
    }
    let mut loader = Loader::resume(run.train.clone(), cfg.loader(), st.loader)?;
    if st.snapshots.is_empty()
        && let Some(n) = opts.snapshots
    {
        st.snapshots = snapshots::plan(n, (loader.batches_per_epoch() * cfg.epochs()) as u64);
    }
    // A resumed run that had already stopped early has nothing left to do.
    let mut early_stopped = st.epoch > 0 && run.early_stop(&st, true);
    let mut stopped = false;
    while !early_stopped && st.epoch < cfg.epochs() {
        let t0 = Instant::now();
        let trained = run.train_epoch(opt, &mut loader, &mut st)?;
        let (m, is_best) = run.end_epoch(opt, &mut st, &loader, trained, t0)?;
        if !opts.quiet {
            task.print_epoch(&m, cfg.epochs(), is_best);
        }
        metrics.push(m);
        if run.early_stop(&st, opts.quiet) {
            early_stopped = true;
        } else if opts.stop_after_epoch == Some(st.epoch) && st.epoch < cfg.epochs() {
            stopped = true;
            break;
        }
    }
    if !stopped {
        run.final_snapshot(&st)?;
    }
    if !opts.quiet {
        println!(
            "{} in {}: {LAST}, {BEST}, {METRICS}{}",
            if stopped { "stopped" } else { "done" },
            dir.display(),
            if st.snapshots.is_empty() {
                String::new()
            } else {
                format!(", {SNAPSHOTS}/")
            }
        );
    }
    Ok(LoopSummary {
        metrics,
        best_score: st.best_score,
        best_epoch: st.best_epoch.unwrap_or(0),
        early_stopped,
        stopped,
    })
}

/// What stays fixed over a run.
struct Run<'a, T, C> {
    task: &'a T,
    cfg: &'a C,
    train: Arc<Dataset>,
    dir: &'a Path,
    opts: &'a RunOptions,
}

/// Where an epoch started: what a non-finite loss replays from.
struct EpochStart {
    epoch: usize,
    step: u64,
    loader: LoaderState,
    snapshot: Snapshot,
}

impl<T: Task, C: RunConfig> Run<'_, T, C> {
    /// The state to continue from: a resumed run's (its model and optimizer loaded), or a fresh
    /// run's after writing `config.json`.
    fn start(&self, opt: &mut Optimizer, resume: Option<&Resumed<C>>) -> Result<TrainerState> {
        Ok(match resume {
            Some(r) => {
                state::restore(r, self.task.module(), opt)?;
                r.state.clone()
            }
            None => {
                crate::io::write_atomic(
                    &self.dir.join(CONFIG),
                    serde_json::to_string_pretty(self.cfg)?.as_bytes(),
                )?;
                TrainerState::start(self.cfg.lr(), self.cfg.seed())
            }
        })
    }

    /// The steps of epoch `st.epoch`: everything of its metrics line but validation (`seconds`
    /// counts the training alone).
    fn train_epoch(
        &self,
        opt: &mut Optimizer,
        loader: &mut Loader,
        st: &mut TrainerState,
    ) -> Result<EpochBase> {
        let (task, cfg) = (self.task, self.cfg);
        let model = task.module();
        let t0 = Instant::now();
        let per_epoch = loader.batches_per_epoch();
        let pb = progress_bar(per_epoch, st.epoch, cfg.epochs(), self.opts.quiet);
        let start = EpochStart {
            epoch: st.epoch,
            step: st.step,
            loader: st.loader,
            snapshot: Snapshot::take(model, opt)?,
        };
        let mut rb = Readback::new(st.step);
        let mut lr = cfg.lr();
        let lr_of = |step| {
            lr_at(
                cfg.schedule(),
                cfg.lr(),
                &st.plateau,
                step,
                per_epoch,
                cfg.epochs(),
            )
        };
        let params = nonfinite::named_params(model);
        let mut epoch = task.begin_epoch(start.epoch);
        for batch in loader.epoch() {
            lr = lr_of(st.step);
            opt.set_lr(lr as f32);
            let s = self.step(opt, &mut epoch, &batch, st.step, &params)?;
            rb.push(T::WEIGH, &s.loss, s.correct, batch.len())?;
            st.step += 1;
            pb.inc(1);
            if st.snapshots.binary_search(&st.step).is_ok() {
                // Read back first: a snapshot of weights a non-finite loss poisoned is no use.
                self.check(&mut rb, opt, &start, &lr_of)?;
                snapshots::save(self.dir, model, task.last_meta(st.epoch)?, st.step)?;
            }
            if rb.pending() >= cfg.check_every() {
                self.check(&mut rb, opt, &start, &lr_of)?;
                pb.set_message(rb.message(t0.elapsed().as_secs_f64()));
            }
        }
        self.check(&mut rb, opt, &start, &lr_of)?;
        let train_secs = t0.elapsed().as_secs_f64();
        pb.finish_and_clear();
        Ok(rb.epoch_base(start.epoch + 1, st.step, lr, train_secs))
    }

    /// Forward, backward, clipping and update on `batch` (global step `step`): its loss and
    /// correct count, left on the device.
    fn step(
        &self,
        opt: &mut Optimizer,
        epoch: &mut T::Epoch,
        batch: &Batch,
        step: u64,
        params: &[(String, Tensor)],
    ) -> Result<StepLoss> {
        opt.zero_grad();
        let mut correct = None;
        let loss = nonfinite::forward_backward(self.opts, step, params, false, || {
            let s = self.task.loss(epoch, batch)?;
            correct = s.correct;
            Ok(s.loss)
        })
        .0?;
        if let Some(c) = self.cfg.clip_grad() {
            optim::clip_grad_norm(opt.params(), c)?;
        }
        opt.step()?;
        Ok(StepLoss { loss, correct })
    }

    /// Reads the pending steps back; a non-finite loss (or model) is replayed from the epoch's
    /// start to name the op behind it, then stops the run (nothing is written).
    fn check(
        &self,
        rb: &mut Readback,
        opt: &mut Optimizer,
        start: &EpochStart,
        lr_of: &dyn Fn(u64) -> f64,
    ) -> Result<()> {
        let model = self.task.module();
        let Some(nf) = rb.flush(model, T::WEIGH, T::RUN, start.epoch, start.step)? else {
            return Ok(());
        };
        Err(self.replay(opt, start, lr_of, nf)?)
    }

    fn replay(
        &self,
        opt: &mut Optimizer,
        start: &EpochStart,
        lr_of: &dyn Fn(u64) -> f64,
        nf: NonFiniteLoss,
    ) -> Result<anyhow::Error> {
        let mut epoch = self.task.begin_epoch(start.epoch);
        let located = nonfinite::locate(
            self.task.module(),
            opt,
            &start.snapshot,
            self.opts,
            Loader::resume(self.train.clone(), self.cfg.loader(), start.loader)?,
            (start.step, nf.step),
            lr_of,
            self.cfg.clip_grad(),
            &mut |b, _| Ok(self.task.loss(&mut epoch, b)?.loss),
        )?;
        Ok(anyhow::anyhow!(
            "{}: {}; stopping — {}",
            nf.what,
            located.describe(nf.step),
            state::kept_checkpoint(self.dir)
        ))
    }

    /// Validation, the schedule's epoch update, `best` (when it is), the metrics line, `last`.
    fn end_epoch(
        &self,
        opt: &Optimizer,
        st: &mut TrainerState,
        loader: &Loader,
        trained: EpochBase,
        t0: Instant,
    ) -> Result<(T::Metrics, bool)> {
        let (task, dir) = (self.task, self.dir);
        let (criterion, val) = task.validate()?;
        plateau_step(self.cfg.schedule(), &mut st.plateau, criterion);
        let epoch = trained.epoch;
        let score = task.score(criterion, &val);
        let base = EpochBase {
            seconds: t0.elapsed().as_secs_f64(),
            ..trained
        };
        let m = task.metrics(base, val);
        let is_best = st.best_score.is_none_or(|b| score > b);
        if is_best {
            st.best_score = Some(score);
            st.best_epoch = Some(epoch);
            state::save_best(dir, task.module(), task.best_meta(epoch, score)?)?;
        }
        // The metrics line first: a kill before the checkpoint redoes this epoch on resume and
        // the line is dropped then.
        append_jsonl(&dir.join(METRICS), &m)?;
        st.epoch = epoch;
        st.loader = loader.state();
        state::save_last(dir, task.module(), task.last_meta(epoch)?, opt, st)?;
        Ok((m, is_best))
    }

    /// The final weights as a snapshot when the plan did not reach them (early stopping), so
    /// a learning curve always ends where training did.
    fn final_snapshot(&self, st: &TrainerState) -> Result<()> {
        if st.snapshots.is_empty() || st.step == 0 || snapshots::path(self.dir, st.step).exists() {
            return Ok(());
        }
        let meta = self.task.last_meta(st.epoch)?;
        snapshots::save(self.dir, self.task.module(), meta, st.step)
    }

    /// Early stopping as in the FastSHAP reference: true after `early_stop` epochs (counting
    /// from the best, 1-based) without a better validation score, never after the last epoch.
    fn early_stop(&self, st: &TrainerState, quiet: bool) -> bool {
        let Some(patience) = self.cfg.early_stop() else {
            return false;
        };
        let best = st.best_epoch.unwrap_or(0);
        let stop = st.epoch - best >= patience && st.epoch < self.cfg.epochs();
        if stop && !quiet {
            println!("early stop: no better validation loss for {patience} epochs");
        }
        stop
    }
}

/// Appends one JSON line to `path` and syncs it.
pub fn append_jsonl(path: &Path, value: &impl Serialize) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{}", serde_json::to_string(value)?)?;
    f.sync_all()?;
    Ok(())
}
