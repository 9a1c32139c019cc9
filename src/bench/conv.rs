//! conv2d microbenchmarks on ResNet18's CIFAR shapes: forward, input gradient and weight
//! gradient as separate rows, each credited with the forward's 2·B·Cout·Ho·Wo·Cin·kh·kw FLOPs
//! (the two backward GEMMs do the same number of multiply-adds). One row per kernel family
//! (`conv/fwd/cpu-regblock`, `conv/fwd/gpu-tiled`, ...; see [`super::classes`]).

use super::{Row, time_gpu, variants};
use crate::ops::conv::{conv2d_input_grad, conv2d_raw, conv2d_weight_grad, out_size};
use crate::tensor::Tensor;
use anyhow::Result;

/// (Cin, Cout, H = W of the input, kernel, stride, pad) — every distinct conv of CIFAR ResNet18.
const SHAPES: [(usize, usize, usize, usize, usize, usize); 11] = [
    (3, 64, 32, 3, 1, 1),    // stem
    (64, 64, 32, 3, 1, 1),   // layer1
    (64, 128, 32, 3, 2, 1),  // layer2 downsample
    (64, 128, 32, 1, 2, 0),  // layer2 shortcut
    (128, 128, 16, 3, 1, 1), // layer2
    (128, 256, 16, 3, 2, 1), // layer3 downsample
    (128, 256, 16, 1, 2, 0), // layer3 shortcut
    (256, 256, 8, 3, 1, 1),  // layer3
    (256, 512, 8, 3, 2, 1),  // layer4 downsample
    (256, 512, 8, 1, 2, 0),  // layer4 shortcut
    (512, 512, 4, 3, 1, 1),  // layer4
];

pub fn run(batch: usize) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let (warmup, reps) = (1, 5);
    for (i, &(cin, cout, hw, k, s, p)) in SHAPES.iter().enumerate() {
        let x = Tensor::randn(&[batch, cin, hw, hw], 2 * i as u64)?;
        let w = Tensor::randn(&[cout, cin, k, k], 2 * i as u64 + 1)?;
        let b = Tensor::zeros(&[cout])?;
        let ho = out_size(hw, k, s, p)?;
        let dy = Tensor::randn(&[batch, cout, ho, ho], 7)?;
        let flops = 2.0 * (batch * cout * ho * ho * cin * k * k) as f64;
        let shape = format!("{batch}x{cin}x{hw}x{hw}>{cout} k{k}s{s}");
        for var in variants(flops) {
            let v = var.name;
            let mut err = None;
            var.run(|| {
                let mut record = |r: Result<Tensor>| {
                    if let Err(e) = r {
                        err.get_or_insert(e);
                    }
                };
                let (t, timer) =
                    time_gpu(warmup, reps, || record(conv2d_raw(&x, &w, Some(&b), s, p)));
                rows.push(Row::new(format!("conv/fwd/{v}"), &shape, t, timer).flops(flops));
                let (t, timer) = time_gpu(warmup, reps, || {
                    record(conv2d_input_grad(&dy, &w, x.shape(), s, p))
                });
                rows.push(Row::new(format!("conv/bwd-input/{v}"), &shape, t, timer).flops(flops));
                let (t, timer) = time_gpu(warmup, reps, || {
                    record(conv2d_weight_grad(&dy, &x, w.shape(), s, p))
                });
                rows.push(Row::new(format!("conv/bwd-weight/{v}"), &shape, t, timer).flops(flops));
            });
            if let Some(e) = err {
                return Err(e);
            }
        }
    }
    Ok(rows)
}
