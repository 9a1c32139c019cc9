use crate::helper::{Arr, Check, assert_close, check_op, normal};
use fastshap::Tensor;
use fastshap::ops::attention::attention;
use fastshap::ops::matmul::with_cpu_matmul;

/// f64 attention over q [B, H, Tq, Dh], k, v [B, H, Tk, Dh], optional mask [B, Tk]: the plain
/// materialised softmax(QKᵀ·scale + mask)·V.
fn attn_ref(q: &Arr, k: &Arr, v: &Arr, mask: Option<&Arr>, scale: f64) -> Arr {
    let [b, h, tq, dh] = q.shape[..] else {
        panic!()
    };
    let tk = k.shape[2];
    let mut out = Arr::zeros(&q.shape);
    for bh in 0..b * h {
        for i in 0..tq {
            let qi = &q.data[(bh * tq + i) * dh..][..dh];
            let s: Vec<f64> = (0..tk)
                .map(|j| {
                    let kj = &k.data[(bh * tk + j) * dh..][..dh];
                    let m = mask.map_or(0.0, |m| m.data[(bh / h) * tk + j]);
                    qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f64>() * scale + m
                })
                .collect();
            let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - mx).exp()).collect();
            let z: f64 = e.iter().sum();
            for d in 0..dh {
                out.data[(bh * tq + i) * dh + d] = (0..tk)
                    .map(|j| e[j] / z * v.data[(bh * tk + j) * dh + d])
                    .sum();
            }
        }
    }
    out
}

/// The default 1e-4. Outputs, dK and dV are sums over T terms with random signs; the helper
/// judges elements below 1% of a tensor's scale against that 1%, which is what lets f32
/// attention meet 1e-4 (judged against their own size, the smallest reached 1.8e-4).
fn tol() -> Check {
    Check::default()
}

fn check_attention(b: usize, h: usize, t: usize, dh: usize, masked: bool, check: Check) {
    let scale = 1.0 / (dh as f64).sqrt();
    let mut inputs = vec![
        normal(&[b, h, t, dh]),
        normal(&[b, h, t, dh]),
        normal(&[b, h, t, dh]),
    ];
    if masked {
        // A constant: the mask takes no gradient.
        inputs.push(normal(&[b, t]).no_grad());
    }
    // Both CPU-class kernel sets (the subgroup kernels take head dims that are multiples of 32).
    for kernel in crate::helper::cpu_kernels() {
        with_cpu_matmul(kernel, || {
            check_op(
                &format!("attention B{b} H{h} T{t} Dh{dh} mask={masked} {kernel:?}"),
                &inputs,
                |x| attention(&x[0], &x[1], &x[2], x.get(3), scale as f32),
                |a| attn_ref(&a[0], &a[1], &a[2], a.get(3), scale),
                check.clone(),
            )
        });
    }
}

#[test]
fn attention_small_with_grads() {
    for masked in [false, true] {
        check_attention(2, 3, 1, 32, masked, tol());
        check_attention(2, 3, 7, 32, masked, tol());
        check_attention(2, 2, 9, 5, masked, tol());
    }
}

#[test]
fn attention_vit_t65_with_grads() {
    // ViT: T = 65 (64 patches + CLS), head dim 32 (B = 1 keeps the finite differences quick;
    // the small cases cover the mask's batch rows).
    for masked in [false, true] {
        check_attention(1, 1, 65, 32, masked, tol());
    }
}

#[test]
fn attention_mae_t257_forward() {
    // MAE: T = 257, 3 heads of 64. Forward only: finite differences over 150k inputs would take
    // minutes; the T = 65 and T = 9 checks cover the same backward kernels.
    for masked in [false, true] {
        check_attention(
            1,
            3,
            257,
            64,
            masked,
            Check {
                grad_rtol: None,
                ..tol()
            },
        );
    }
}

#[test]
fn attention_minus_inf_mask_drops_keys() {
    // Masking the last keys with −inf must equal attention over the remaining keys only
    // (head dim 8: the per-row kernel; 32: the subgroup kernel on CPU adapters that have it).
    for dh in [8, 32] {
        minus_inf_mask_case(dh);
    }
}

fn minus_inf_mask_case(dh: usize) {
    let (b, h, t, keep) = (2, 2, 11, 6);
    let q = Tensor::randn(&[b, h, t, dh], 1).unwrap();
    let k = Tensor::randn(&[b, h, t, dh], 2).unwrap();
    let v = Tensor::randn(&[b, h, t, dh], 3).unwrap();
    let mut m = vec![0.0f32; b * t];
    for row in m.chunks_mut(t) {
        row[keep..].fill(f32::NEG_INFINITY);
    }
    let mask = Tensor::from_slice(&m, &[b, t]).unwrap();
    let got = attention(&q, &k, &v, Some(&mask), 0.3)
        .unwrap()
        .to_vec()
        .unwrap();
    let arr = |x: &Tensor| {
        Arr::new(
            x.shape(),
            x.to_vec().unwrap().iter().map(|&v| v as f64).collect(),
        )
    };
    let trunc = |x: &Arr| {
        let mut data = Vec::new();
        for bh in 0..b * h {
            data.extend_from_slice(&x.data[bh * t * dh..][..keep * dh]);
        }
        Arr::new(&[b, h, keep, dh], data)
    };
    let want = attn_ref(&arr(&q), &trunc(&arr(&k)), &trunc(&arr(&v)), None, 0.3);
    assert_close("attention with −inf mask", &got, &want.data, 1e-4, 0);
}

#[test]
fn attention_is_stable_for_huge_scores() {
    // Scores around ±1e3 overflow a naive exp; the online max-subtraction must not.
    let q = Tensor::full(&[1, 1, 3, 4], 20.0).unwrap();
    let k = Tensor::randn(&[1, 1, 5, 4], 4).unwrap();
    let v = Tensor::randn(&[1, 1, 5, 4], 5).unwrap();
    let out = attention(&q, &k, &v, None, 3.0).unwrap().to_vec().unwrap();
    assert!(out.iter().all(|x| x.is_finite()), "{out:?}");
}
