//! Batched matmul (both kernel families, all transposes, shared 2-D operands) and `linear`.
//! Every case runs the CPU (barrier-free) and GPU (shared-memory tiled) kernels explicitly, so
//! both are checked on lavapipe without touching the process-wide kernel class.

use crate::helper::cpu_kernels;
use crate::helper::{Arr, Check, check_op, normal};
use fastshap::gpu::KernelClass;
use fastshap::ops::matmul::{linear_with, matmul_with};
use fastshap::ops::variant::{CpuKernels, with_cpu_kernels};

/// Shape of a stored operand whose op() is rows×cols.
fn stored(batch: &[usize], rows: usize, cols: usize, t: bool) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend(if t { [cols, rows] } else { [rows, cols] });
    s
}

/// Reference op(a)·op(b) in f64; batch axes equal, or one operand 2-D.
fn matmul_ref(a: &Arr, b: &Arr, ta: bool, tb: bool) -> Arr {
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let dims = |s: &[usize], t: bool| {
        let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
        if t { (c, r) } else { (r, c) }
    };
    let (m, k) = dims(&a.shape, ta);
    let (_, n) = dims(&b.shape, tb);
    let batch = if ra >= rb {
        &a.shape[..ra - 2]
    } else {
        &b.shape[..rb - 2]
    };
    let nb: usize = batch.iter().product();
    let (sa, sb) = (
        if ra == 2 { 0 } else { m * k },
        if rb == 2 { 0 } else { k * n },
    );
    let mut out = Vec::with_capacity(nb * m * n);
    for z in 0..nb {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let x = a.data[z * sa + if ta { p * m + i } else { i * k + p }];
                    let y = b.data[z * sb + if tb { j * k + p } else { p * n + j }];
                    s += x * y;
                }
                out.push(s);
            }
        }
    }
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    Arr::new(&shape, out)
}

/// Checks op(A)·op(B) for A batch `ba`, B batch `bb`, op(A) m×k, op(B) k×n, both kernel
/// families and all four transpose combinations, forward and gradients.
fn check_mm(ba: &[usize], bb: &[usize], m: usize, k: usize, n: usize, grad: bool) {
    // The GPU class, and the CPU class with each of its kernels (subgroup, register blocks).
    let mut variants: Vec<(KernelClass, CpuKernels)> = cpu_kernels()
        .into_iter()
        .map(|k| (KernelClass::Cpu, k))
        .collect();
    variants.push((KernelClass::Gpu, CpuKernels::Regblock));
    for (class, kernel) in variants {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let name =
                format!("matmul {class:?}/{kernel:?} a{ba:?} b{bb:?} {m}x{k}x{n} ta={ta} tb={tb}");
            // The default 1e-4: f32 rounding of a k-term sum grows like ε·k, which for the
            // sizes here stays below 1e-4 of the 1%-of-scale floor the helper judges small
            // elements against (a 0.1% floor needed ~1e-4·k/16).
            let rtol = 1e-4;
            let grad_rtol = 1e-4;
            let opts = if grad {
                Check::default().rtol(rtol).grad_rtol(grad_rtol)
            } else {
                Check::forward_only().rtol(rtol)
            };
            with_cpu_kernels(kernel, || {
                check_op(
                    &name,
                    &[normal(&stored(ba, m, k, ta)), normal(&stored(bb, k, n, tb))],
                    |x| matmul_with(&x[0], &x[1], ta, tb, class),
                    |x| matmul_ref(&x[0], &x[1], ta, tb),
                    opts,
                )
            });
        }
    }
}

#[test]
fn matmul_small_and_odd_sizes() {
    check_mm(&[], &[], 1, 1, 1, true);
    check_mm(&[], &[], 7, 33, 5, true);
    check_mm(&[], &[], 4, 8, 12, true); // every vec4 path of the CPU kernel
}

#[test]
fn matmul_larger_than_one_tile() {
    // Forward only at these sizes: the finite-difference check is O(numel · M·N·K) on the CPU.
    check_mm(&[], &[], 33, 257, 17, false);
    check_mm(&[], &[], 65, 64, 63, false);
    check_mm(&[], &[], 68, 36, 72, false);
    check_mm(&[], &[], 68, 37, 20, false); // transposed A as vec4 rows, K % 4 != 0
    // One gradient check crossing tile edges in every dimension.
    check_mm(&[], &[], 65, 17, 66, true);
}

#[test]
fn matmul_batched() {
    check_mm(&[3], &[3], 17, 9, 13, true);
    check_mm(&[2, 3], &[2, 3], 5, 8, 4, true);
    check_mm(&[3], &[3], 36, 9, 13, true); // transposed A as vec4 rows (M % 4 == 0)
}

#[test]
fn matmul_shared_2d_operand() {
    // B shared across A's batch (the stacked-rows path when A is not transposed).
    check_mm(&[3], &[], 17, 9, 13, true);
    check_mm(&[2, 2], &[], 5, 4, 8, true);
    // A shared across B's batch.
    check_mm(&[], &[3], 6, 7, 5, true);
}

#[test]
fn matmul_rejects_bad_shapes() {
    let t = |s: &[usize]| fastshap::Tensor::zeros(s).unwrap();
    assert!(t(&[2, 3]).matmul(&t(&[4, 5])).is_err());
    assert!(t(&[2, 2, 3]).matmul(&t(&[3, 3, 5])).is_err());
    assert!(t(&[3]).matmul(&t(&[3, 5])).is_err());
    assert_eq!(
        t(&[2, 3])
            .matmul_t(&t(&[5, 3]), false, true)
            .unwrap()
            .shape(),
        &[2, 5]
    );
}

fn linear_ref(x: &Arr, w: &Arr, b: Option<&Arr>) -> Arr {
    let (inp, out) = (w.shape[1], w.shape[0]);
    let rows = x.numel() / inp;
    let y = matmul_ref(&x.reshape(&[rows, inp]), w, false, true);
    let y = match b {
        Some(b) => y.zip(b, |p, q| p + q),
        None => y,
    };
    let mut shape = x.shape.clone();
    *shape.last_mut().unwrap() = out;
    y.reshape(&shape)
}

#[test]
fn linear_with_and_without_bias() {
    // Every variant: the subgroup kernel adds the bias as it stores C (its own op and backward),
    // the others in a separate broadcast add. [37, 40] · [33, 40]ᵀ spans two tiles each way with
    // partial ones, on the vec4 load paths.
    let mut variants: Vec<(KernelClass, CpuKernels)> = cpu_kernels()
        .into_iter()
        .map(|k| (KernelClass::Cpu, k))
        .collect();
    variants.push((KernelClass::Gpu, CpuKernels::Regblock));
    let shapes: [(&[usize], [usize; 2]); 4] = [
        (&[5, 7], [6, 7]),
        (&[2, 3, 7], [6, 7]),
        (&[7], [6, 7]),
        (&[37, 40], [33, 40]),
    ];
    for (class, kernels) in variants {
        for (xs, ws) in shapes {
            let what = format!("linear {class:?} {kernels:?} x{xs:?} w{ws:?}");
            with_cpu_kernels(kernels, || {
                check_op(
                    &format!("{what} bias"),
                    &[normal(xs), normal(&ws), normal(&[ws[0]])],
                    |t| linear_with(&t[0], &t[1], Some(&t[2]), class),
                    |a| linear_ref(&a[0], &a[1], Some(&a[2])),
                    Check::default(),
                );
                check_op(
                    &format!("{what} no bias"),
                    &[normal(xs), normal(&ws)],
                    |t| linear_with(&t[0], &t[1], None, class),
                    |a| linear_ref(&a[0], &a[1], None),
                    Check::default(),
                );
            });
        }
    }
}
