//! Softmax pooling (single-query attention with keys = values = the rows) against an f64
//! reference, in both kernel classes (one kernel serves both; the classes are forced anyway so
//! a class-specific variant added later is covered). Forward only: the op is inference-only and
//! refuses inputs that need a gradient.

use crate::helper::{Arr, Check, check_op, normal, uniform};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};
use fastshap::ops::softmax_pool::softmax_pool;

/// u[n, h] = Σ_t softmax_t(z[n, t]·q[n, h]) z[n, t], with the maximum subtracted; z = x, or
/// with `eps` each row standardised ((x − mean)/√(var + eps)). q [1, H, D] serves every n.
fn pool_ref(x: &Arr, q: &Arr, eps: Option<f64>) -> Arr {
    let (n, t, d, h) = (x.shape[0], x.shape[1], x.shape[2], q.shape[1]);
    let mut x = x.clone();
    if let Some(eps) = eps {
        for row in x.data.chunks_mut(d) {
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            for v in row.iter_mut() {
                *v = (*v - mean) / (var + eps).sqrt();
            }
        }
    }
    let mut out = vec![0f64; n * h * d];
    for b in 0..n {
        for k in 0..h {
            let qn = if q.shape[0] == 1 { k } else { b * h + k };
            let qr = &q.data[qn * d..(qn + 1) * d];
            let s: Vec<f64> = (0..t)
                .map(|j| {
                    let xr = &x.data[(b * t + j) * d..(b * t + j + 1) * d];
                    xr.iter().zip(qr).map(|(a, c)| a * c).sum()
                })
                .collect();
            let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for (j, ej) in e.iter().enumerate() {
                for i in 0..d {
                    out[(b * h + k) * d + i] += ej / z * x.data[(b * t + j) * d + i];
                }
            }
        }
    }
    Arr::new(&[n, h, d], out)
}

#[test]
fn softmax_pool_matches_reference() {
    // (N, T, H, D): the ViT game's shape (17 tokens, 2 heads, width 32), odd sizes, one row,
    // one query, the widest rows.
    for (n, t, h, d) in [
        (33, 17, 2, 32),
        (7, 5, 3, 7),
        (1, 1, 1, 1),
        (65, 9, 1, 64),
        (3, 33, 2, 128),
    ] {
        // Per-row and shared queries, raw and standardised rows.
        let variants = [(n, None), (1, Some(1e-5)), (n, Some(0.1))];
        for (class, (qn, eps)) in [KernelClass::Cpu, KernelClass::Gpu]
            .into_iter()
            .flat_map(|c| variants.map(|v| (c, v)))
        {
            gpu::with_kernel_class(class, || {
                // Queries scaled by 1/√D as attention scales its scores (the game folds the
                // scale into q): unscaled, the scores' f32 rounding (|s| ~ √D·3) alone moves
                // outputs that cancel to ~1e-2 by 1e-4 of themselves at D = 128.
                let scale = 1.0 / (d as f64).sqrt();
                check_op(
                    &format!("softmax_pool {class:?} N{n} T{t} H{h} D{d} q{qn} eps {eps:?}"),
                    &[normal(&[n, t, d]).no_grad(), normal(&[qn, h, d]).no_grad()],
                    |x| {
                        softmax_pool(
                            &x[0],
                            &x[1].mul_scalar(scale as f32)?,
                            eps.map(|e| e as f32),
                        )
                    },
                    |a| pool_ref(&a[0], &a[1].map(|v| v * scale), eps),
                    Check::forward_only(),
                )
            });
        }
    }
}

#[test]
fn softmax_pool_is_stable_for_large_scores() {
    // Scores up to ~±400: exp overflows without the running maximum. Tolerance 1e-3: a score
    // of 400 carries ~4e-5 of f32 rounding into its weight, before any cancellation.
    check_op(
        "softmax_pool large scores",
        &[
            uniform(&[5, 11, 16], -5.0, 5.0).no_grad(),
            uniform(&[5, 2, 16], -5.0, 5.0).no_grad(),
        ],
        |x| softmax_pool(&x[0], &x[1], None),
        |a| pool_ref(&a[0], &a[1], None),
        Check::forward_only().rtol(1e-3),
    );
}

#[test]
fn softmax_pool_refuses_bad_shapes_and_gradients() {
    let x = Tensor::randn(&[2, 3, 4], 1).unwrap();
    let q = Tensor::randn(&[2, 1, 5], 2).unwrap();
    let e = softmax_pool(&x, &q, None).unwrap_err().to_string();
    assert!(e.contains("[2, 3, 4]") && e.contains("[2, 1, 5]"), "{e}");
    let wide = Tensor::randn(&[1, 2, 129], 3).unwrap();
    assert!(softmax_pool(&wide, &wide, None).is_err());
    let q = Tensor::randn(&[2, 1, 4], 4).unwrap().param();
    let e = softmax_pool(&x, &q, None).unwrap_err().to_string();
    assert!(e.contains("inference only"), "{e}");
    let _ng = fastshap::no_grad();
    assert!(softmax_pool(&x, &q, Some(1e-5)).is_ok());
}
