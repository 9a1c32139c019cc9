//! Square matmul throughput (C = A·B, f32) for every kernel the adapter's class has, plus the
//! other class's for comparison (see `bench::variants`).

use super::{Row, time_gpu, variants};
use crate::ops::matmul::matmul_with;
use crate::tensor::Tensor;
use anyhow::Result;

/// One row per size and kernel variant; `sizes` are square edges (n×n·n×n).
pub fn run(sizes: &[usize]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &n in sizes {
        let a = Tensor::randn(&[n, n], 1)?;
        let b = Tensor::randn(&[n, n], 2)?;
        // Fewer repetitions as the work grows (a 2048³ product takes seconds on lavapipe).
        let reps = (2e9 / (n as f64).powi(3)).clamp(3.0, 20.0) as usize;
        let flops = 2.0 * (n as f64).powi(3);
        for var in variants(flops) {
            let mut err = None;
            let (secs, timer) = time_gpu(1, reps, || {
                if let Err(e) = var.run(|| matmul_with(&a, &b, false, false, var.class)) {
                    err = Some(e);
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            rows.push(
                Row::new(
                    format!("matmul/{}", var.name),
                    format!("{n}x{n}x{n}"),
                    secs,
                    timer,
                )
                .flops(flops),
            );
        }
    }
    Ok(rows)
}
