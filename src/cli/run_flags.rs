//! What the three training commands (`train`, `surrogate`, `explainer`) share: the flags that
//! limit and stop a run, defined once so their names, defaults and help cannot drift, and how a
//! new run's settings or a `--resume DIR` become the trainer's inputs.

use crate::train::RunOptions;
use crate::train::state::Resumed;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The shared tail of every training command's flags.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct RunFlags {
    /// Train on N images spread over the training set (quick runs).
    #[arg(long)]
    pub(crate) train_limit: Option<usize>,
    /// Validate on N images spread over the test set.
    #[arg(long)]
    pub(crate) val_limit: Option<usize>,
    /// Stop cleanly after this many finished epochs (continue later with --resume).
    #[arg(long)]
    stop_after_epoch: Option<usize>,
    /// Keep about N checkpoints at log-spaced training steps, the last one included, in
    /// DIR/snapshots/ (a learning curve: `fastshap evaluate` scores them all); a resumed run
    /// keeps the plan it started with.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    snapshots: Option<u64>,
    /// Print only errors.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    faults: Faults,
}

/// Fault injection for tests (hidden flags of the training commands).
#[derive(clap::Args, Debug, Default)]
struct Faults {
    /// Make the loss NaN at this global step (with --fault-nan-op: that op's output).
    #[arg(long, hide = true)]
    fault_nan_at_step: Option<u64>,
    /// The op --fault-nan-at-step poisons: OP, OP@LAYER or grad:OP[@LAYER].
    #[arg(long, hide = true, requires = "fault_nan_at_step")]
    fault_nan_op: Option<crate::autograd::trace::Fault>,
}

impl RunFlags {
    /// The trainer's run options: quiet, where to stop, snapshots, and any injected fault.
    pub(crate) fn run_options(&self) -> RunOptions {
        RunOptions {
            quiet: self.quiet,
            stop_after_epoch: self.stop_after_epoch,
            snapshots: self.snapshots.map(|n| n as usize),
            nan_at_step: self.faults.fault_nan_at_step,
            nan_op: self.faults.fault_nan_op.clone(),
        }
    }
}

/// A training command's config, run directory and resume state: read from `--resume DIR`, or
/// built from the flags for a new run into `--out` (bad settings fail before any work).
pub(crate) fn config_or_resume<C: Clone>(
    resume: Option<&Path>,
    out: Option<&Path>,
    read: impl FnOnce(&Path) -> Result<Resumed<C>>,
    build: impl FnOnce() -> Result<C>,
) -> Result<(C, PathBuf, Option<Resumed<C>>)> {
    match (resume, out) {
        (Some(dir), _) => {
            let r = read(dir)?;
            Ok((r.config.clone(), dir.to_path_buf(), Some(r)))
        }
        (None, Some(out)) => Ok((build()?, out.to_path_buf(), None)),
        (None, None) => anyhow::bail!("--out DIR is required (where checkpoints and metrics go)"),
    }
}
