//! Microbenchmarks shared by `fastshap bench` and the Cargo benches in `benches/`.
//! One module per kernel family; each returns [`Row`]s that the CLI prints as a table.

pub mod attention;
pub mod conv;
pub mod game;
pub mod matmul;
pub mod models;
pub mod probe;
pub mod profile;

use crate::gpu::{self, KernelClass};
use crate::ops::variant::{CpuKernels, with_cpu_kernels};
use std::time::Instant;

/// One kernel set to measure: a kernel class and, for the CPU class, which of its kernels.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Row-name suffix: `cpu-subgroup` (8-lane subgroups share loads), `cpu-regblock`
    /// (barrier-free register blocks) or `gpu-tiled` (workgroup-memory tiles).
    pub name: &'static str,
    pub class: KernelClass,
    pub cpu: CpuKernels,
}

impl Variant {
    /// Runs `f` with this thread's launches using this variant's kernels.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        gpu::with_kernel_class(self.class, || with_cpu_kernels(self.cpu, f))
    }
}

/// The variants worth timing for a problem of `flops`: every kernel set of the adapter's own
/// class, and the other class's too when the adapter is a GPU (the CPU kernels run there) or the
/// problem is small (the tiled kernels take seconds per GFLOP on lavapipe).
pub fn variants(flops: f64) -> Vec<Variant> {
    let mut v = all_variants(flops);
    if let Some(only) = ONLY.get() {
        v.retain(|k| only.iter().any(|o| o == k.name));
    }
    v
}

/// The kernel sets `fastshap bench --kernels` keeps (all when unset).
static ONLY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Times only the kernel sets named (`cpu-subgroup`, `cpu-regblock`, `gpu-tiled`) from now on:
/// an A/B of one kernel set then takes minutes, not the tiled kernels' quarter hour on lavapipe.
/// The first call wins.
pub fn only_kernels(names: &[String]) {
    let _ = ONLY.set(names.to_vec());
}

fn all_variants(flops: f64) -> Vec<Variant> {
    let ctx = gpu::ctx();
    let mut cpu = Vec::new();
    if ctx.subgroups_of(8) {
        cpu.push(Variant {
            name: "cpu-subgroup",
            class: KernelClass::Cpu,
            cpu: CpuKernels::Subgroup,
        });
    }
    cpu.push(Variant {
        name: "cpu-regblock",
        class: KernelClass::Cpu,
        cpu: CpuKernels::Regblock,
    });
    let gpu = Variant {
        name: "gpu-tiled",
        class: KernelClass::Gpu,
        cpu: CpuKernels::Regblock,
    };
    match ctx.kernel_class() {
        KernelClass::Gpu => std::iter::once(gpu).chain(cpu).collect(),
        KernelClass::Cpu if flops <= 2e9 => cpu.into_iter().chain([gpu]).collect(),
        KernelClass::Cpu => cpu,
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
