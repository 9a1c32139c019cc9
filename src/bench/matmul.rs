//! Square matmul throughput (C = A·B, f32) for the kernel family the adapter uses, plus the
//! other family for comparison at sizes up to 1024 (the tiled kernel is slow on lavapipe).

use super::{Row, time_gpu};
use crate::gpu::{self, KernelClass};
use crate::ops::matmul::matmul_with;
use crate::tensor::Tensor;
use anyhow::Result;

fn variant(class: KernelClass) -> &'static str {
    match class {
        KernelClass::Cpu => "matmul/cpu-regblock",
        KernelClass::Gpu => "matmul/gpu-tiled",
    }
}

/// One row per size and kernel variant; `sizes` are square edges (n×n·n×n).
pub fn run(sizes: &[usize]) -> Result<Vec<Row>> {
    let native = gpu::ctx().kernel_class();
    let other = match native {
        KernelClass::Cpu => KernelClass::Gpu,
        KernelClass::Gpu => KernelClass::Cpu,
    };
    let mut rows = Vec::new();
    for &n in sizes {
        let a = Tensor::randn(&[n, n], 1)?;
        let b = Tensor::randn(&[n, n], 2)?;
        let mut classes = vec![native];
        if n <= 1024 {
            classes.push(other);
        }
        // Fewer repetitions as the work grows (a 2048³ product takes seconds on lavapipe).
        let reps = (2e9 / (n as f64).powi(3)).clamp(3.0, 20.0) as usize;
        for class in classes {
            let mut err = None;
            let (secs, timer) = time_gpu(1, reps, || {
                if let Err(e) = matmul_with(&a, &b, false, false, class) {
                    err = Some(e);
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            rows.push(
                Row::new(variant(class), format!("{n}x{n}x{n}"), secs, timer)
                    .flops(2.0 * (n as f64).powi(3)),
            );
        }
    }
    Ok(rows)
}
