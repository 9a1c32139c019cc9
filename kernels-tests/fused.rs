//! Fused elementwise chains (`add_relu`, `bias_gelu`) against f64 references with gradient
//! checks, and against the unfused ops they replace in the models.

use crate::helper::{Check, assert_close, check_op, normal};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};

fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + crate::elementwise::erf(v / std::f64::consts::SQRT_2))
}

#[test]
fn add_relu_matches_reference() {
    for class in [KernelClass::Cpu, KernelClass::Gpu] {
        for shape in [&[3usize, 5, 7][..], &[33]] {
            gpu::with_kernel_class(class, || {
                check_op(
                    &format!("add_relu {class:?} {shape:?}"),
                    &[normal(shape), normal(shape)],
                    |t| t[0].add_relu(&t[1]),
                    |a| a[0].zip(&a[1], |x, y| (x + y).max(0.0)),
                    Check::default(),
                )
            });
        }
    }
}

#[test]
fn bias_gelu_matches_reference() {
    for class in [KernelClass::Cpu, KernelClass::Gpu] {
        // [.., 8] and [.., 12]: the four-at-a-time kernel (fused_bias4.wgsl).
        for shape in [&[4usize, 7][..], &[2, 3, 33], &[5], &[3, 5, 8], &[12]] {
            let n = *shape.last().unwrap();
            gpu::with_kernel_class(class, || {
                check_op(
                    &format!("bias_gelu {class:?} {shape:?}"),
                    &[normal(shape), normal(&[n])],
                    |t| t[0].bias_gelu(&t[1]),
                    |a| a[0].zip(&a[1], |x, b| gelu(x + b)),
                    Check::default(),
                )
            });
        }
    }
}

/// The fused ops agree with the chains they replace, forward and gradients (the models switched
/// to them; PyTorch parity rests on this).
#[test]
fn fused_equal_unfused() {
    let x = Tensor::randn(&[6, 35], 1).unwrap();
    let y = Tensor::randn(&[6, 35], 2).unwrap();
    let b = Tensor::randn(&[35], 3).unwrap();
    let r = Tensor::randn(&[6, 35], 4).unwrap();
    type Chain = fn(&Tensor, &Tensor) -> anyhow::Result<Tensor>;
    let pairs: [(&str, Chain, Chain, &Tensor); 2] = [
        (
            "add_relu",
            |a, c| a.add_relu(c),
            |a, c| a.add(c)?.relu(),
            &y,
        ),
        (
            "bias_gelu",
            |a, c| a.bias_gelu(c),
            |a, c| a.add(c)?.gelu(),
            &b,
        ),
    ];
    for (name, fused, plain, other) in pairs {
        let run = |f: Chain| {
            let (a, c) = (x.param(), other.param());
            let out = f(&a, &c).unwrap();
            out.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
            [out, a.grad().unwrap(), c.grad().unwrap()].map(|t| t.to_vec().unwrap())
        };
        let (got, want) = (run(fused), run(plain));
        for ((what, g), w) in ["out", "grad 0", "grad 1"].iter().zip(&got).zip(&want) {
            let w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            assert_close(&format!("{name} fused vs unfused {what}"), g, &w, 1e-6, 0);
        }
    }
}

#[test]
fn fused_shape_errors() {
    let t = |s: &[usize]| Tensor::zeros(s).unwrap();
    assert!(t(&[2, 3]).add_relu(&t(&[3])).is_err());
    assert!(t(&[2, 3]).bias_gelu(&t(&[2])).is_err());
    assert!(t(&[]).bias_gelu(&t(&[1])).is_err());
}
