//! Microbenchmarks shared by `fastshap bench` and the Cargo benches in `benches/`.
//! One module per kernel family; each returns [`Row`]s that the CLI prints as a table.

pub mod attention;
pub mod conv;
pub mod matmul;
pub mod models;
pub mod probe;
pub mod profile;

use crate::gpu::{self, KernelClass};
use std::time::Instant;

/// The kernel families to time for one configuration of `flops`: the adapter's own, and the
/// other one too where it is affordable — always on GPUs, and up to 2 GFLOP on CPU adapters,
/// where the tiled kernels pay for every `workgroupBarrier` (the rule `matmul::run` applies
/// with its n ≤ 1024).
pub fn classes(flops: f64) -> Vec<KernelClass> {
    let native = gpu::ctx().kernel_class();
    let other = match native {
        KernelClass::Cpu => KernelClass::Gpu,
        KernelClass::Gpu => KernelClass::Cpu,
    };
    if native == KernelClass::Gpu || flops <= 2e9 {
        vec![native, other]
    } else {
        vec![native]
    }
}

/// Row-name suffix of a kernel family: `cpu-regblock` (barrier-free register blocks) or
/// `gpu-tiled` (workgroup-memory tiles).
pub fn variant(class: KernelClass) -> &'static str {
    match class {
        KernelClass::Cpu => "cpu-regblock",
        KernelClass::Gpu => "gpu-tiled",
    }
}

/// One measured configuration.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// Kernel family and variant, e.g. `matmul/cpu-regblock`.
    pub kernel: String,
    /// Problem size in words, e.g. `1024x1024x1024`.
    pub shape: String,
    /// Seconds per call (median of the timed repetitions).
    pub secs: f64,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    /// Images per second, for whole-model rows.
    pub images_per_sec: Option<f64>,
    /// `gpu-timestamps` or `wall-clock` (submit + wait, includes dispatch overhead).
    pub timer: &'static str,
    pub adapter: String,
}

/// Times `f` (which records GPU work): `warmup` untimed calls, then the median of `reps` timed
/// ones. Uses timestamp queries where the adapter has them, otherwise wall clock around a sync.
pub fn time_gpu(warmup: usize, reps: usize, mut f: impl FnMut()) -> (f64, &'static str) {
    let ctx = gpu::ctx();
    for _ in 0..warmup {
        f();
    }
    ctx.sync();
    let mut times = Vec::with_capacity(reps);
    let mut timer = "wall-clock";
    for _ in 0..reps.max(1) {
        let (_, ts) = ctx.gpu_time(&mut f);
        match ts {
            Some(t) if t > 0.0 => {
                timer = "gpu-timestamps";
                times.push(t);
            }
            _ => {
                let t0 = Instant::now();
                f();
                ctx.sync();
                times.push(t0.elapsed().as_secs_f64());
            }
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (times[times.len() / 2], timer)
}

impl Row {
    pub fn new(
        kernel: impl Into<String>,
        shape: impl Into<String>,
        secs: f64,
        timer: &'static str,
    ) -> Row {
        Row {
            kernel: kernel.into(),
            shape: shape.into(),
            secs,
            gflops: None,
            gbps: None,
            images_per_sec: None,
            timer,
            adapter: gpu::ctx().info.name.clone(),
        }
    }
    pub fn flops(mut self, flops: f64) -> Row {
        self.gflops = Some(flops / self.secs / 1e9);
        self
    }
    pub fn images(mut self, images: f64) -> Row {
        self.images_per_sec = Some(images / self.secs);
        self
    }
    pub fn bytes(mut self, bytes: f64) -> Row {
        self.gbps = Some(bytes / self.secs / 1e9);
        self
    }
}

/// Prints rows as an aligned table.
pub fn print_table(rows: &[Row]) {
    println!(
        "{:<28} {:<22} {:>10} {:>10} {:>9} {:>8}  timer",
        "kernel", "shape", "ms", "GFLOP/s", "GB/s", "img/s"
    );
    for r in rows {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:<22} {:>10.3} {:>10} {:>9} {:>8}  {}",
            r.kernel,
            r.shape,
            r.secs * 1e3,
            f(r.gflops),
            f(r.gbps),
            f(r.images_per_sec),
            r.timer
        );
    }
}
