//! Fused attention at the two model shapes: ViT (T = 65, 12 heads × 32) and MAE (T = 257,
//! 3 heads × 64), and the fidelity experiment's (T = 65, 2 heads × 16). Forward rows count 4·B·H·T²·Dh flops (QKᵀ and PV); backward rows count
//! 8·B·H·T²·Dh (dV, dP, dQ, dK) — the recomputation of QKᵀ from the saved log-sum-exp is extra
//! work the kernels do but is not credited. One row per kernel family
//! (`attention/fwd/cpu-rowwise`: one invocation per row; `attention/fwd/gpu-tiled`: workgroups
//! with staged blocks; see [`super::classes`]).

use super::{Row, time_gpu, variants};
use crate::ops::attention::attention;
use crate::tensor::Tensor;
use anyhow::Result;

/// (tokens, heads, head dim) of the models that use attention, and of the fidelity
/// experiment's ViT surrogate and explainer (dim 32, 2 heads of 16, 4×4 patches).
const SHAPES: [(usize, usize, usize); 3] = [(65, 12, 32), (257, 3, 64), (65, 2, 16)];

pub fn run(batch: usize) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let (warmup, reps) = (2, 7);
    for (t, h, dh) in SHAPES {
        let shape = [batch, h, t, dh];
        let scale = 1.0 / (dh as f32).sqrt();
        let q = Tensor::randn(&shape, 1)?;
        let k = Tensor::randn(&shape, 2)?;
        let v = Tensor::randn(&shape, 3)?;
        let mask = Tensor::zeros(&[batch, t])?;
        let desc = format!("B{batch} H{h} T{t} Dh{dh}");
        let flops = (4 * batch * h * t * t * dh) as f64;

        for var in variants(2.0 * flops) {
            // The CPU class without subgroups runs one row per invocation.
            let name = match var.name {
                "cpu-regblock" => "cpu-rowwise",
                n => n,
            };
            var.run(|| -> Result<()> {
                let (secs, timer) = {
                    let _g = crate::no_grad();
                    time_gpu(warmup, reps, || {
                        attention(&q, &k, &v, Some(&mask), scale).expect("attention forward");
                    })
                };
                rows.push(
                    Row::new(format!("attention/fwd/{name}"), &desc, secs, timer).flops(flops),
                );

                // The backward alone: record one forward, then time its backward rule (the
                // three kernels: δ, dQ, dK/dV) on a fixed incoming gradient.
                let (qp, kp, vp) = (q.param(), k.param(), v.param());
                let out = attention(&qp, &kp, &vp, Some(&mask), scale)?;
                let g = Tensor::randn(&shape, 4)?;
                let node = out.0.node.as_ref().expect("attention records a node");
                let (secs, timer) = {
                    let _g = crate::no_grad();
                    time_gpu(warmup, reps, || {
                        (node.backward)(&out, &g).expect("attention backward");
                    })
                };
                let row = Row::new(format!("attention/bwd/{name}"), &desc, secs, timer);
                rows.push(row.flops(2.0 * flops));
                Ok(())
            })?;
        }
    }
    Ok(rows)
}
