//! Square matmul throughput (C = A·B, f32) for the kernel family the adapter uses, plus the
//! other family for comparison at sizes up to 1024 (the tiled kernel is slow on lavapipe).

use super::{Row, time_gpu};
use crate::gpu::{self, KernelClass};
use crate::ops::matmul::{CpuMatmul, matmul_with, with_cpu_matmul};
use crate::tensor::Tensor;
use anyhow::Result;

/// The kernels to compare: every CPU-class kernel the adapter can run, and the GPU-class one.
fn variants() -> Vec<(&'static str, KernelClass, Option<CpuMatmul>)> {
    let mut v = Vec::new();
    if gpu::ctx().subgroups_of(8) {
        v.push((
            "matmul/cpu-subgroup",
            KernelClass::Cpu,
            Some(CpuMatmul::Subgroup),
        ));
    }
    v.push((
        "matmul/cpu-regblock",
        KernelClass::Cpu,
        Some(CpuMatmul::Regblock),
    ));
    v.push(("matmul/gpu-tiled", KernelClass::Gpu, None));
    v
}

/// One row per size and kernel variant; `sizes` are square edges (n×n·n×n). The adapter's own
/// class runs at every size, the other class up to 1024 (the tiled kernel is slow on lavapipe
/// and the register kernels waste a GPU).
pub fn run(sizes: &[usize]) -> Result<Vec<Row>> {
    let native = gpu::ctx().kernel_class();
    let mut rows = Vec::new();
    for &n in sizes {
        let a = Tensor::randn(&[n, n], 1)?;
        let b = Tensor::randn(&[n, n], 2)?;
        // Fewer repetitions as the work grows (a 2048³ product takes seconds on lavapipe).
        let reps = (2e9 / (n as f64).powi(3)).clamp(3.0, 20.0) as usize;
        for (name, class, cpu) in variants() {
            if class != native && n > 1024 {
                continue;
            }
            let mut err = None;
            let (secs, timer) = time_gpu(1, reps, || {
                let r = match cpu {
                    Some(k) => with_cpu_matmul(k, || matmul_with(&a, &b, false, false, class)),
                    None => matmul_with(&a, &b, false, false, class),
                };
                if let Err(e) = r {
                    err = Some(e);
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            rows.push(
                Row::new(name, format!("{n}x{n}x{n}"), secs, timer).flops(2.0 * (n as f64).powi(3)),
            );
        }
    }
    Ok(rows)
}
