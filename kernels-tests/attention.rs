//! Fused attention against the materialised f64 softmax, both kernel families (one invocation
//! per row, and the tiled kernels with workgroup-memory blocks) forced through
//! `gpu::with_kernel_class`.

use crate::helper::{Arr, Check, assert_close, check_op, normal};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};
use fastshap::ops::attention::attention;
use fastshap::ops::variant::{CpuKernels, with_cpu_kernels};

const CLASSES: [KernelClass; 2] = [KernelClass::Cpu, KernelClass::Gpu];

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
    // Each class; the Cpu class with each of its kernel sets (the subgroup kernels take head
    // dims that are multiples of 32, or 16).
    for class in CLASSES {
        let kernels = match class {
            KernelClass::Cpu => crate::helper::cpu_kernels(),
            KernelClass::Gpu => vec![CpuKernels::Regblock],
        };
        for kernel in kernels {
            gpu::with_kernel_class(class, || {
                with_cpu_kernels(kernel, || {
                    check_op(
                        &format!(
                            "attention {class:?}/{kernel:?} B{b} H{h} T{t} Dh{dh} mask={masked}"
                        ),
                        &inputs,
                        |x| attention(&x[0], &x[1], &x[2], x.get(3), scale as f32),
                        |a| attn_ref(&a[0], &a[1], &a[2], a.get(3), scale),
                        check.clone(),
                    )
                })
            });
        }
    }
}

#[test]
fn attention_small_with_grads() {
    for masked in [false, true] {
        check_attention(2, 3, 1, 32, masked, tol());
        check_attention(2, 3, 7, 32, masked, tol());
        check_attention(2, 2, 9, 5, masked, tol());
        // Head dim 16 (its own subgroup kernels): odd and even key counts, one key.
        check_attention(2, 3, 1, 16, masked, tol());
        check_attention(2, 3, 7, 16, masked, tol());
        check_attention(1, 2, 10, 16, masked, tol());
    }
}

#[test]
fn attention_vit_t65_with_grads() {
    // ViT: T = 65 (64 patches + CLS), head dim 32 (B = 1 keeps the finite differences quick;
    // the small cases cover the mask's batch rows).
    for masked in [false, true] {
        check_attention(1, 1, 65, 32, masked, tol());
        // The tiny ViTs' head dim (64 wide, 4 heads): an odd key count on the 16-wide kernels.
        check_attention(1, 1, 65, 16, masked, tol());
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
    // (head dim 8: the per-row kernel; 16 and 32: the subgroup kernels on CPU adapters that
    // have them).
    for dh in [8, 16, 32] {
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
    for class in CLASSES {
        let got = gpu::with_kernel_class(class, || {
            attention(&q, &k, &v, Some(&mask), 0.3)
                .unwrap()
                .to_vec()
                .unwrap()
        });
        let what = format!("attention {class:?} with −inf mask");
        assert_close(&what, &got, &want.data, 1e-4, 0);
    }
}

#[test]
fn attention_is_stable_for_huge_scores() {
    // Scores around ±1e3 overflow a naive exp; the online max-subtraction must not.
    let q = Tensor::full(&[1, 1, 3, 4], 20.0).unwrap();
    let k = Tensor::randn(&[1, 1, 5, 4], 4).unwrap();
    let v = Tensor::randn(&[1, 1, 5, 4], 5).unwrap();
    for class in CLASSES {
        let out = gpu::with_kernel_class(class, || {
            attention(&q, &k, &v, None, 3.0).unwrap().to_vec().unwrap()
        });
        assert!(out.iter().all(|x| x.is_finite()), "{class:?}: {out:?}");
    }
}

/// The tiled (Gpu) kernels against the per-row (Cpu) ones at shapes the reference checks above
/// leave out: Tq ≠ Tk on both sides of the 64-row blocks, and head dims 128 (the largest, which
/// stages the fewest rows per block) and 64, with and without a mask; forward and all three
/// gradients. f32 against f32 in different summation orders: 1e-4 of each tensor's scale.
#[test]
fn attention_classes_agree() {
    // Outputs start as NaN, so an element no kernel writes fails the comparison.
    gpu::ctx().set_poison(true);
    for (i, &(b, h, tq, tk, dh, masked)) in [
        (2, 2, 67, 13, 128, true),
        (1, 3, 5, 130, 64, false),
        (1, 2, 129, 70, 17, true),
        (2, 2, 13, 17, 16, true),
        (1, 3, 18, 9, 16, false),
    ]
    .iter()
    .enumerate()
    {
        let seed = 40 + 6 * i as u64;
        let q = Tensor::randn(&[b, h, tq, dh], seed).unwrap();
        let k = Tensor::randn(&[b, h, tk, dh], seed + 1).unwrap();
        let v = Tensor::randn(&[b, h, tk, dh], seed + 2).unwrap();
        let r = Tensor::randn(&[b, h, tq, dh], seed + 3).unwrap();
        let mask = Tensor::randn(&[b, tk], seed + 4).unwrap();
        let run = |class| {
            gpu::with_kernel_class(class, || {
                let (qp, kp, vp) = (q.param(), k.param(), v.param());
                let m = masked.then_some(&mask);
                let out = attention(&qp, &kp, &vp, m, 0.125).unwrap();
                out.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
                [
                    out,
                    qp.grad().unwrap(),
                    kp.grad().unwrap(),
                    vp.grad().unwrap(),
                ]
                .map(|t| t.to_vec().unwrap())
            })
        };
        let (want, got) = (run(KernelClass::Cpu), run(KernelClass::Gpu));
        for ((what, g), w) in ["out", "dq", "dk", "dv"].iter().zip(&got).zip(&want) {
            let w: Vec<f64> = w.iter().map(|&x| x as f64).collect();
            let name = format!("attention Gpu vs Cpu B{b} H{h} Tq{tq} Tk{tk} Dh{dh} {what}");
            assert_close(&name, g, &w, 1e-4, seed);
        }
    }
}
