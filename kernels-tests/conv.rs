//! conv2d against a direct f64 convolution, with finite-difference checks of the input, weight
//! and bias gradients. Sizes are deliberately awkward (odd channel counts that do not fill the
//! kernel's 4×4 blocks, H ≠ W, strides that skip input pixels, Cin = 1) and small, because the
//! finite-difference reference costs one convolution per input element.

use crate::helper::{Arr, Check, check_op, normal};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};
use fastshap::ops::matmul::with_cpu_matmul;

/// Direct convolution: y[b,co,oy,ox] = bias[co] + Σ x[b,ci,oy·s−p+ky,ox·s−p+kx]·w[co,ci,ky,kx].
fn conv_ref(x: &Arr, w: &Arr, bias: Option<&Arr>, s: usize, p: usize) -> Arr {
    let [b, cin, h, wd] = x.shape[..] else {
        panic!()
    };
    let [cout, _, kh, kw] = w.shape[..] else {
        panic!()
    };
    let ho = (h + 2 * p - kh) / s + 1;
    let wo = (wd + 2 * p - kw) / s + 1;
    let mut y = Arr::zeros(&[b, cout, ho, wo]);
    for bi in 0..b {
        for co in 0..cout {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = bias.map_or(0.0, |bv| bv.data[co]);
                    for ci in 0..cin {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s + ky) as isize - p as isize;
                                let ix = (ox * s + kx) as isize - p as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((bi * cin + ci) * h + iy as usize) * wd + ix as usize;
                                let wi = ((co * cin + ci) * kh + ky) * kw + kx;
                                acc += x.data[xi] * w.data[wi];
                            }
                        }
                    }
                    y.data[((bi * cout + co) * ho + oy) * wo + ox] = acc;
                }
            }
        }
    }
    y
}

/// The default 1e-4 for forward and gradients. The weight and bias gradients are f32 sums over
/// B·Ho·Wo (32–510 terms here) whose rounding is ~1e-6 absolute; the helper judges elements below
/// 1% of the largest against that 1%, which keeps cancelled sums within 1e-4 (with a 0.1% floor
/// they reached 1.4e-4). The references are exact: conv is linear, so central differences carry
/// no truncation error.
fn conv_check() -> Check {
    Check::default()
}

/// (B, Cin, H, W, Cout, kh, kw, stride, pad)
type Case = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

fn check_case(c: Case, bias: bool, opts: Check) {
    let (b, cin, h, w, cout, kh, kw, s, p) = c;
    let mut inputs = vec![normal(&[b, cin, h, w]), normal(&[cout, cin, kh, kw])];
    if bias {
        inputs.push(normal(&[cout]));
    }
    // Both CPU-class kernel sets (subgroup where the adapter has 8-lane subgroups, and the
    // register-blocked one); on a GPU adapter the choice does not apply and this repeats.
    for k in crate::helper::cpu_kernels() {
        with_cpu_matmul(k, || {
            check_op(
                &format!("conv2d {c:?} bias={bias} {k:?}"),
                &inputs,
                |t| t[0].conv2d(&t[1], t.get(2), s, p),
                |a| conv_ref(&a[0], &a[1], a.get(2), s, p),
                opts.clone(),
            )
        });
    }
}

const CASES: [Case; 8] = [
    (2, 3, 7, 7, 5, 3, 3, 1, 1), // ResNet 3×3 s1 p1, channels off the 4-blocks
    (1, 2, 9, 6, 3, 3, 3, 1, 1), // H ≠ W
    (2, 3, 7, 7, 5, 1, 1, 2, 0), // ResNet 1×1 s2 shortcut
    (2, 3, 9, 6, 5, 3, 3, 2, 1), // ResNet 3×3 s2 p1
    (1, 2, 7, 8, 3, 5, 5, 1, 2), // 5×5 p2
    (2, 1, 6, 5, 3, 3, 3, 1, 0), // Cin = 1, no padding
    (1, 2, 6, 7, 3, 3, 2, 1, 1), // non-square kernel
    (1, 3, 8, 9, 2, 2, 2, 3, 0), // stride larger than the kernel: pixels no tap reads
];

#[test]
fn conv2d_forward_and_grads() {
    for (i, c) in CASES.into_iter().enumerate() {
        // Alternate bias on/off so both launches (and the bias gradient) are covered.
        check_case(c, i % 2 == 0, conv_check());
    }
}

#[test]
fn conv2d_without_bias_all_cases() {
    for (i, c) in CASES.into_iter().enumerate() {
        check_case(c, i % 2 == 1, conv_check());
    }
}

/// Enough output pixels that the weight gradient splits its pixel sum into many chunks (and the
/// partials are reduced), under both kernel classes' split targets.
#[test]
fn conv2d_weight_grad_split() {
    let ctx = gpu::ctx();
    let before = ctx.kernel_class();
    for k in [KernelClass::Cpu, KernelClass::Gpu] {
        ctx.set_kernel_class(k);
        check_case((2, 3, 17, 15, 5, 3, 3, 1, 1), true, conv_check());
    }
    ctx.set_kernel_class(before);
}

/// A wider forward-only case: many channel blocks and K = Cin·9 = 117 long sums.
///
/// Default tolerance (see `conv_check`).
#[test]
fn conv2d_forward_wide() {
    check_case((3, 13, 11, 10, 17, 3, 3, 2, 1), true, Check::forward_only());
    // More than one 32×32 subgroup tile in pixels and channels, Cin off the 4-steps.
    check_case((2, 6, 7, 5, 37, 3, 3, 1, 1), false, Check::forward_only());
}

/// Gradients across subgroup tiles: 37 output channels (two 32-channel tiles, the second
/// nearly empty), 70 pixels, stride 1 (the input gradient takes the transposed-forward path).
#[test]
fn conv2d_grads_across_tiles() {
    check_case((1, 5, 7, 10, 37, 3, 3, 1, 1), true, conv_check());
}

#[test]
fn conv2d_shape_errors() {
    let x = Tensor::zeros(&[1, 3, 5, 5]).unwrap();
    let w = Tensor::zeros(&[4, 2, 3, 3]).unwrap();
    let e = x.conv2d(&w, None, 1, 1).unwrap_err().to_string();
    assert!(
        e.contains("[1, 3, 5, 5]") && e.contains("[4, 2, 3, 3]"),
        "{e}"
    );
    let w = Tensor::zeros(&[4, 3, 7, 7]).unwrap();
    assert!(x.conv2d(&w, None, 1, 0).is_err());
    let w = Tensor::zeros(&[4, 3, 3, 3]).unwrap();
    let b = Tensor::zeros(&[3]).unwrap();
    assert!(x.conv2d(&w, Some(&b), 1, 1).is_err());
}
