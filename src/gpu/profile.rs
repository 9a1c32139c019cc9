//! Per-kernel profiling: while a [`Profile`] is active, every launch is bracketed by GPU
//! timestamps (inside the compute pass, where the adapter allows it) and recorded with its
//! kernel name, its FLOPs (when the op says, see [`note_flops`]) and the bytes it binds. The
//! recorder resolves the timestamps at each flush; [`Profile::finish`] returns the launches.
//! Adapters without in-pass timestamps get wall-clock time per launch (a submit + wait each,
//! which includes ~0.4 ms of submit overhead on lavapipe: the report says which timer it used).

use std::cell::Cell;

/// One profiled launch.
#[derive(Clone, Debug)]
pub struct Launch {
    /// `shader::entry`, e.g. `conv.wgsl::conv_fwd`.
    pub kernel: String,
    /// FLOPs the op declared for this launch (0 when it did not say).
    pub flops: f64,
    /// Bytes of all storage bindings (what one pass over each operand would move).
    pub bytes: u64,
    pub secs: f64,
}

thread_local! {
    static NEXT_FLOPS: Cell<f64> = const { Cell::new(0.0) };
}

/// Declares the FLOPs of the next launch on this thread (matmul, conv, attention call it; the
/// profiler reads it, everyone else ignores it).
pub fn note_flops(flops: f64) {
    NEXT_FLOPS.with(|c| c.set(flops));
}

pub(super) fn take_flops() -> f64 {
    NEXT_FLOPS.with(|c| c.replace(0.0))
}

/// Timestamps per query set: 2 per launch, the recorder's 512 launches per submit.
pub(super) const QUERIES: u32 = 1024;

/// The profiler's state inside the recorder.
pub(super) struct Active {
    pub in_pass: bool,
    pub queries: Option<wgpu::QuerySet>,
    /// Launches recorded since the last resolve (their queries are 2i, 2i+1).
    pub pending: Vec<Launch>,
    pub done: Vec<Launch>,
}

/// Which timer a profile used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Timer {
    /// Timestamps written before and after each dispatch inside the compute pass.
    GpuTimestamps,
    /// A submit and wait per launch (adds the submit overhead to every launch).
    WallClock,
}

impl Timer {
    pub fn name(self) -> &'static str {
        match self {
            Timer::GpuTimestamps => "gpu-timestamps",
            Timer::WallClock => "wall-clock per launch",
        }
    }
}
