use crate::helper::{Arr, Check, Input, check_op, normal, seed, uniform};
use fastshap::Tensor;
use fastshap::ops::elementwise::{Binary, binary_raw};
use fastshap::ops::loss::{
    Normalization, cross_entropy, cross_entropy_indices, cross_entropy_soft, fastshap_loss, kl_div,
    masked_sum, mse, reverse_kl,
};
use rand::{RngExt, SeedableRng};

/// Gradient tolerance for the soft-target losses: the default 1e-4. Their gradients are
/// differences of terms up to |log K| larger than the result; the helper's 1%-of-scale floor for
/// small elements is what keeps f32 rounding of those terms under 1e-4 at K = 257.
const SOFT_GRAD_RTOL: f64 = 1e-4;

/// The awkward sizes every row loss runs on: (B, K).
const SIZES: [(usize, usize); 2] = [(7, 10), (3, 257)];

fn log_softmax(r: &[f64]) -> Vec<f64> {
    let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = r.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
    r.iter().map(|v| v - lse).collect()
}

/// Mean over rows of `f(log_softmax(x_row), row index)`.
fn batch_mean(x: &Arr, f: impl Fn(&[f64], usize) -> f64) -> Arr {
    let k = x.shape[1];
    let rows = x.data.chunks(k).enumerate();
    let total: f64 = rows.map(|(b, r)| f(&log_softmax(r), b)).sum();
    Arr::scalar(total / x.shape[0] as f64)
}

fn random_classes(b: usize, k: usize) -> Vec<u32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    (0..b).map(|_| rng.random_range(0..k as u32)).collect()
}

#[test]
fn loss_cross_entropy_indices() {
    for (b, k) in SIZES {
        for eps in [0.0f32, 0.1] {
            let cls = random_classes(b, k);
            let cpu = |a: &[Arr]| {
                batch_mean(&a[0], |lp, r| {
                    let smooth = -lp.iter().sum::<f64>() / k as f64;
                    (1.0 - eps as f64) * -lp[cls[r] as usize] + eps as f64 * smooth
                })
            };
            check_op(
                "cross_entropy (host indices)",
                &[normal(&[b, k])],
                |x| cross_entropy_indices(&x[0], &cls, eps),
                cpu,
                Check::default(),
            );
            // The same through an index tensor (f32 class indices on the device).
            let idx: Vec<f32> = cls.iter().map(|&c| c as f32).collect();
            check_op(
                "cross_entropy (index tensor)",
                &[normal(&[b, k])],
                |x| cross_entropy(&x[0], &Tensor::from_slice(&idx, &[b])?, eps),
                cpu,
                Check::default(),
            );
        }
    }
}

#[test]
fn loss_cross_entropy_soft_targets() {
    for (b, k) in SIZES {
        check_op(
            "cross_entropy_soft",
            &[normal(&[b, k]), probs(b, k)],
            |x| cross_entropy_soft(&x[0], &x[1]),
            |a| {
                let t = &a[1].data;
                batch_mean(&a[0], |lp, r| {
                    -(0..k).map(|j| t[r * k + j] * lp[j]).sum::<f64>()
                })
            },
            Check::default().grad_rtol(SOFT_GRAD_RTOL),
        );
    }
}

/// Positive targets whose rows sum to about 1 without being normalised (PyTorch does not
/// renormalise, and the gradient check must move each entry freely). Rows summing to ~K instead
/// would make softmax·Σt − t cancel badly in f32 and test the format, not the kernel.
fn probs(b: usize, k: usize) -> Input {
    uniform(&[b, k], 0.2 / k as f32, 1.8 / k as f32)
}

#[test]
fn loss_kl_both_directions() {
    for (b, k) in SIZES {
        check_op(
            "kl_div",
            &[probs(b, k), normal(&[b, k])],
            |x| kl_div(&x[0], &x[1]),
            |a| {
                let p = &a[0].data;
                batch_mean(&a[1], |lq, r| {
                    (0..k)
                        .map(|j| p[r * k + j] * (p[r * k + j].ln() - lq[j]))
                        .sum::<f64>()
                })
            },
            Check::default().grad_rtol(SOFT_GRAD_RTOL),
        );
        check_op(
            "reverse_kl",
            &[probs(b, k), normal(&[b, k])],
            |x| reverse_kl(&x[0], &x[1]),
            |a| {
                let p = &a[0].data;
                batch_mean(&a[1], |lq, r| {
                    (0..k)
                        .map(|j| lq[j].exp() * (lq[j] - p[r * k + j].ln()))
                        .sum::<f64>()
                })
            },
            Check::default().grad_rtol(SOFT_GRAD_RTOL),
        );
    }
}

#[test]
fn loss_kl_zero_targets_and_identity() {
    // 0·log 0 = 0: a one-hot target gives KL = −log q at the hot class (the NLL).
    let logits = Tensor::from_slice(&[1.0, 2.0, 0.5, -1.0, 0.0, 3.0], &[2, 3]).unwrap();
    let p = Tensor::from_slice(&[0.0, 1.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]).unwrap();
    let kl = kl_div(&p, &logits).unwrap().item().unwrap();
    let ce = cross_entropy_indices(&logits, &[1, 2], 0.0)
        .unwrap()
        .item()
        .unwrap();
    assert!(
        kl.is_finite() && (kl - ce).abs() < 1e-6,
        "kl {kl} vs ce {ce}"
    );
    // KL(p‖p) = 0 in both directions.
    let q = logits.softmax().unwrap();
    for v in [kl_div(&q, &logits), reverse_kl(&q, &logits)] {
        let v = v.unwrap().item().unwrap();
        assert!(v.abs() < 1e-6, "{v}");
    }
}

#[test]
fn loss_cross_entropy_stable_and_checked() {
    let x = Tensor::from_slice(&[1000.0, 0.0, -1000.0, 0.0, 0.0, 0.0], &[2, 3]).unwrap();
    let l = cross_entropy_indices(&x, &[0, 1], 0.0)
        .unwrap()
        .item()
        .unwrap();
    assert!((l - 3f32.ln() / 2.0).abs() < 1e-5, "{l}");
    let e = cross_entropy_indices(&x, &[0, 3], 0.0).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let bad = Tensor::from_slice(&[0.0, 7.0], &[2]).unwrap();
    assert!(
        cross_entropy(&x, &bad, 0.0)
            .unwrap()
            .item()
            .unwrap()
            .is_nan()
    );
}

#[test]
fn loss_mse() {
    for shape in [&[7usize, 10][..], &[3, 257], &[1]] {
        check_op(
            "mse",
            &[normal(shape), normal(shape)],
            |x| mse(&x[0], &x[1]),
            |a| {
                let n = a[0].numel() as f64;
                let s: f64 = a[0]
                    .data
                    .iter()
                    .zip(&a[1].data)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum();
                Arr::scalar(s / n)
            },
            Check::default(),
        );
    }
}

#[test]
fn loss_masked_sum_kernel() {
    let (b, m, p, k) = (2, 3, 7, 5);
    check_op(
        "masked_sum",
        &[normal(&[b, p, k]), uniform(&[b * m, p], 0.0, 1.0).no_grad()],
        |x| masked_sum(&x[0], &x[1]),
        |a| Arr::new(&[b * m, k], cpu_masked_sum(&a[0].data, &a[1].data, m, p, k)),
        Check::default(),
    );
}

fn cpu_masked_sum(phi: &[f64], s: &[f64], m: usize, p: usize, k: usize) -> Vec<f64> {
    let bm = s.len() / p;
    let mut out = vec![0.0; bm * k];
    for r in 0..bm {
        for j in 0..k {
            out[r * k + j] = (0..p)
                .map(|q| s[r * p + q] * phi[((r / m) * p + q) * k + j])
                .sum();
        }
    }
    out
}

/// The FastSHAP loss in f64, straight from its definition; `a` = [phi, masks, v0, v1, v_s].
fn cpu_fastshap(
    a: &[&[f64]; 5],
    (b, m, p, k): (usize, usize, usize, usize),
    norm: Normalization,
    lambda: f64,
) -> f64 {
    let [raw, s, v0, v1, vs] = *a;
    let mut phi = raw.to_vec();
    let idx = |bb: usize, q: usize, j: usize| (bb * p + q) * k + j;
    for bb in 0..b {
        for j in 0..k {
            let total: f64 = (0..p).map(|q| phi[idx(bb, q, j)]).sum();
            let gap = v1[bb * k + j] - v0[j];
            for q in 0..p {
                let f = &mut phi[idx(bb, q, j)];
                match norm {
                    Normalization::None => {}
                    Normalization::Additive => *f += (gap - total) / p as f64,
                    Normalization::Multiplicative => *f *= gap / total,
                }
            }
        }
    }
    let pred = cpu_masked_sum(&phi, s, m, p, k);
    let fit: f64 = (0..b * m * k)
        .map(|i| (v0[i % k] + pred[i] - vs[i]).powi(2))
        .sum::<f64>()
        / (b * m * k) as f64;
    // The efficiency penalty judges the raw φ (after normalisation it would be 0 by design).
    let eff: f64 = (0..b * k)
        .map(|i| {
            let (bb, j) = (i / k, i % k);
            let total: f64 = (0..p).map(|q| raw[idx(bb, q, j)]).sum();
            (total - (v1[i] - v0[j])).powi(2)
        })
        .sum::<f64>()
        / (b * k) as f64;
    p as f64 * (fit + lambda * eff)
}

#[test]
fn loss_fastshap_vs_cpu() {
    let (b, m, p, k) = (2, 3, 7, 5);
    for norm in [
        Normalization::None,
        Normalization::Additive,
        Normalization::Multiplicative,
    ] {
        // Multiplicative normalisation divides by Σ_P φ: keep it away from zero.
        let phi = if norm == Normalization::Multiplicative {
            uniform(&[b, p, k], 0.2, 1.0)
        } else {
            normal(&[b, p, k])
        };
        let lambda = 0.7;
        check_op(
            "fastshap_loss",
            &[
                phi,
                uniform(&[b * m, p], 0.0, 1.0).no_grad(),
                normal(&[k]).no_grad(),
                normal(&[b, k]).no_grad(),
                normal(&[b * m, k]).no_grad(),
            ],
            |x| {
                // Binary masks: the loss is linear in S, but FastSHAP's masks are 0/1.
                let half = Tensor::full(&[1], 0.5)?;
                let s = binary_raw(&x[1], &half, Binary::Gt)?;
                fastshap_loss(&x[0], &s, &x[2], &x[3], &x[4], norm, lambda)
            },
            |a| {
                let s = a[1].map(|v| if v > 0.5 { 1.0 } else { 0.0 });
                let dims = (b, m, p, k);
                let ins = [&a[0].data[..], &s.data, &a[2].data, &a[3].data, &a[4].data];
                let l = cpu_fastshap(&ins, dims, norm, lambda as f64);
                Arr::scalar(l)
            },
            Check::default(),
        );
    }
}

#[test]
fn loss_fastshap_exact_shapley_of_additive_game_is_zero() {
    // v(S) = v0 + Σ_{p∈S} w_p per class is additive, so its Shapley values are exactly w_p; with
    // all 2^P masks the FastSHAP loss at φ = w is zero under every normalisation, and positive
    // away from it.
    let (p, k) = (3usize, 2usize);
    let b = 2;
    let m = 1 << p;
    let w: Vec<f32> = vec![
        0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 1.0, 0.3, -0.2, 0.6, 0.4, -0.1,
    ];
    let v0 = [0.1f32, -0.3];
    let mut masks = vec![];
    let mut vs = vec![];
    for bb in 0..b {
        for sub in 0..m {
            for q in 0..p {
                masks.push(((sub >> q) & 1) as f32);
            }
            for j in 0..k {
                let on = (0..p).filter(|q| (sub >> q) & 1 == 1);
                vs.push(v0[j] + on.map(|q| w[(bb * p + q) * k + j]).sum::<f32>());
            }
        }
    }
    let v1: Vec<f32> = (0..b * k)
        .map(|i| {
            v0[i % k]
                + (0..p)
                    .map(|q| w[((i / k) * p + q) * k + i % k])
                    .sum::<f32>()
        })
        .collect();
    let t = |d: &[f32], s: &[usize]| Tensor::from_slice(d, s).unwrap();
    let (masks, v0t, v1, vs) = (
        t(&masks, &[b * m, p]),
        t(&v0, &[k]),
        t(&v1, &[b, k]),
        t(&vs, &[b * m, k]),
    );
    for norm in [
        Normalization::None,
        Normalization::Additive,
        Normalization::Multiplicative,
    ] {
        let phi = t(&w, &[b, p, k]);
        let at = fastshap_loss(&phi, &masks, &v0t, &v1, &vs, norm, 1.0).unwrap();
        assert!(
            at.item().unwrap().abs() < 1e-8,
            "{norm:?}: {}",
            at.item().unwrap()
        );
        let off: Vec<f32> = w
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.1 * (i % 3) as f32)
            .collect();
        let away = fastshap_loss(&t(&off, &[b, p, k]), &masks, &v0t, &v1, &vs, norm, 1.0)
            .unwrap()
            .item()
            .unwrap();
        assert!(away > 1e-4, "{norm:?}: {away}");
    }
}

#[test]
fn loss_fastshap_efficiency_penalty_acts_on_raw_phi() {
    // With additive normalisation the normalised φ always sums to v1 − v0, so a penalty computed
    // after normalisation would be 0 and λ would do nothing. The reference penalises the raw φ:
    // the loss must grow with λ by exactly λ·P·mean((Σφ − (v1 − v0))²).
    let (b, m, p, k) = (2usize, 2usize, 5usize, 3usize);
    let t = |d: &[f32], s: &[usize]| Tensor::from_slice(d, s).unwrap();
    let phi: Vec<f32> = (0..b * p * k)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.1)
        .collect();
    let masks: Vec<f32> = (0..b * m * p).map(|i| ((i * 3 + 1) % 2) as f32).collect();
    let v0 = [0.2f32, -0.1, 0.4];
    let v1: Vec<f32> = (0..b * k).map(|i| 1.0 + 0.3 * i as f32).collect();
    let vs: Vec<f32> = (0..b * m * k).map(|i| 0.05 * i as f32).collect();
    let (phit, mt, v0t, v1t, vst) = (
        t(&phi, &[b, p, k]),
        t(&masks, &[b * m, p]),
        t(&v0, &[k]),
        t(&v1, &[b, k]),
        t(&vs, &[b * m, k]),
    );
    let gap_sq: f64 = (0..b * k)
        .map(|i| {
            let (bb, j) = (i / k, i % k);
            let total: f64 = (0..p).map(|q| phi[(bb * p + q) * k + j] as f64).sum();
            (total - (v1[i] - v0[j]) as f64).powi(2)
        })
        .sum::<f64>()
        / (b * k) as f64;
    assert!(gap_sq > 0.1, "the raw φ must violate efficiency here");
    for norm in [Normalization::Additive, Normalization::None] {
        let at = |lambda: f32| {
            fastshap_loss(&phit, &mt, &v0t, &v1t, &vst, norm, lambda)
                .unwrap()
                .item()
                .unwrap() as f64
        };
        let diff = at(2.0) - at(0.0);
        let want = 2.0 * p as f64 * gap_sq;
        assert!(
            (diff - want).abs() < 1e-4 * want,
            "{norm:?}: λ adds {diff}, expected {want}"
        );
    }
}
