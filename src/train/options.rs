//! How a run behaves beyond what it computes: quiet, a stop after an epoch, snapshots, fault
//! injection.
//! Its own module because both the epoch loop ([`super::epoch_loop`]) and the NaN replay
//! ([`super::nonfinite`]) read it.

/// How a run behaves, beyond what it computes.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print nothing (no recipe, no progress bars, no epoch lines).
    pub quiet: bool,
    /// Stop cleanly after this many finished epochs (as if killed there; `--resume` continues).
    pub stop_after_epoch: Option<usize>,
    /// Keep about this many checkpoints at log-spaced steps of a new run, the last one
    /// included ([`super::snapshots`]); a resumed run keeps the plan it started with.
    pub snapshots: Option<usize>,
    /// Fault injection for tests: at this global step, multiply the loss by NaN (or, with
    /// `nan_op`, make that op produce NaN).
    pub nan_at_step: Option<u64>,
    /// The op `nan_at_step` poisons, instead of the loss.
    pub nan_op: Option<crate::autograd::trace::Fault>,
}
