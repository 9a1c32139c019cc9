//! Softmax and log-softmax over the last axis, both kernel families (one invocation per row, and
//! one workgroup per row on `KernelClass::Gpu`).

use crate::helper::{Check, check_op, normal};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};

const CLASSES: [KernelClass; 2] = [KernelClass::Cpu, KernelClass::Gpu];

fn softmax(r: &[f64]) -> Vec<f64> {
    let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = r.iter().map(|v| (v - m).exp()).sum();
    r.iter().map(|v| (v - m).exp() / s).collect()
}

#[test]
fn softmax_last_axis() {
    for class in CLASSES {
        for shape in [&[7usize, 10][..], &[2, 3, 65], &[257]] {
            gpu::with_kernel_class(class, || {
                check_op(
                    &format!("softmax {class:?}"),
                    &[normal(shape)],
                    |x| x[0].softmax(),
                    |a| a[0].rows(softmax),
                    Check::default(),
                );
                check_op(
                    &format!("log_softmax {class:?}"),
                    &[normal(shape)],
                    |x| x[0].log_softmax(),
                    |a| a[0].rows(|r| softmax(r).into_iter().map(f64::ln).collect()),
                    Check::default(),
                );
            });
        }
    }
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let x = Tensor::from_slice(&[1000.0, 0.0, -1000.0, 50.0], &[1, 4]).unwrap();
    for class in CLASSES {
        gpu::with_kernel_class(class, || {
            let p = x.softmax().unwrap().to_vec().unwrap();
            assert!(
                (p[0] - 1.0).abs() < 1e-6 && p.iter().all(|v| v.is_finite()),
                "{class:?} {p:?}"
            );
            let l = x.log_softmax().unwrap().to_vec().unwrap();
            assert!(
                l[0].abs() < 1e-6 && (l[2] + 2000.0).abs() < 1e-2,
                "{class:?} {l:?}"
            );
        });
    }
}
