//! conv2d against a direct f64 convolution, with finite-difference checks of the input, weight
//! and bias gradients. Sizes are deliberately awkward (odd channel counts that do not fill the
//! kernel's 4×4 blocks, H ≠ W, strides that skip input pixels, Cin = 1) and small, because the
//! finite-difference reference costs one convolution per input element. Every case runs both
//! kernel families (barrier-free register blocks and shared-memory tiles) through
//! `gpu::with_kernel_class`; the families are also compared with each other at sizes past the
//! tiled kernels' 64-wide tiles, where finite differences would be too slow.

use crate::helper::{Arr, Check, assert_close, check_op, normal};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};
use fastshap::ops::conv::{conv2d_input_grad, conv2d_raw, conv2d_weight_grad, out_size};
use fastshap::ops::variant::{CpuKernels, with_cpu_kernels};

const CLASSES: [KernelClass; 2] = [KernelClass::Cpu, KernelClass::Gpu];

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
    for class in CLASSES {
        check_case_with(class, c, bias, opts.clone());
    }
}

fn check_case_with(class: KernelClass, c: Case, bias: bool, opts: Check) {
    let (b, cin, h, w, cout, kh, kw, s, p) = c;
    let mut inputs = vec![normal(&[b, cin, h, w]), normal(&[cout, cin, kh, kw])];
    if bias {
        inputs.push(normal(&[cout]));
    }
    // The Cpu class with each of its kernel sets (subgroup where the adapter has 8-lane
    // subgroups, and register blocks); the Gpu class has one.
    let kernels = match class {
        KernelClass::Cpu => crate::helper::cpu_kernels(),
        KernelClass::Gpu => vec![CpuKernels::Regblock],
    };
    for k in kernels {
        gpu::with_kernel_class(class, || {
            with_cpu_kernels(k, || {
                check_op(
                    &format!("conv2d {class:?}/{k:?} {c:?} bias={bias}"),
                    &inputs,
                    |t| t[0].conv2d(&t[1], t.get(2), s, p),
                    |a| conv_ref(&a[0], &a[1], a.get(2), s, p),
                    opts.clone(),
                )
            })
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

/// Stride phases where pad ≥ stride or the stride does not divide the kernel: the tiled input
/// gradient derives each phase's first tap and output offset from (py + pad) mod s.
#[test]
fn conv2d_strided_padded_phases() {
    check_case((2, 3, 11, 10, 4, 5, 5, 2, 2), true, conv_check());
    check_case((1, 2, 10, 11, 3, 3, 3, 3, 1), false, conv_check());
    check_case((1, 2, 9, 9, 3, 4, 4, 3, 2), false, conv_check());
}

/// Enough output pixels that the weight gradient splits its pixel sum into several chunks (and
/// the partials are reduced), under both kernel classes' split rules.
#[test]
fn conv2d_weight_grad_split() {
    check_case((2, 3, 17, 15, 5, 3, 3, 1, 1), true, conv_check());
}

/// Channel counts that are multiples of 4, where the subgroup class re-lays its operands (NHWC
/// activations, tap-major weights: `ops/conv/nhwc.rs`) and reads vec4 runs: stride 1, 2 and 3
/// (the input gradient's phases), a 4×4 kernel, channels and patch columns past one 32-wide
/// tile, a weight gradient split into chunks that cross images, output planes that are not
/// multiples of 4 (the weight gradient then keeps the NCHW kernel) and a 1×1 kernel (NCHW
/// kernels throughout). Tiles 64 rows tall are crossed in `conv2d_classes_agree_past_tiles`.
#[test]
fn conv2d_vec4_channel_runs() {
    let cases: [Case; 8] = [
        (2, 4, 7, 4, 8, 3, 3, 1, 1),   // Ho·Wo = 28
        (2, 4, 5, 5, 8, 3, 3, 1, 1),   // Ho·Wo = 25: NCHW weight gradient
        (1, 8, 9, 7, 12, 3, 3, 2, 1),  // 5×4 outputs, 4 phases
        (2, 4, 6, 6, 4, 1, 1, 2, 0),   // 1×1: the NCHW kernels
        (1, 4, 7, 8, 36, 3, 3, 1, 1),  // 56 pixels, 36 channels, 36 patch columns
        (1, 4, 10, 11, 8, 3, 3, 3, 1), // stride 3
        (1, 4, 9, 9, 4, 4, 4, 3, 2),   // 4×4 kernel, pad 2
        (2, 4, 17, 16, 8, 3, 3, 1, 1), // 544 pixels: the weight gradient splits
    ];
    for (i, c) in cases.into_iter().enumerate() {
        check_case(c, i % 2 == 0, conv_check());
    }
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

/// The tiled (Gpu) kernels against the register-block (Cpu) ones, forward and both gradients, at
/// sizes that cross the 64-wide tiles in every GEMM dimension: channels 70 → 67 (two tiles of
/// Cout and Cin, Cin·kh·kw = 630 spans ten k tiles), 3·9·9 = 243 pixels, stride 1 and 2, and a
/// batch large enough that the weight gradient splits its pixel sum. Each family was checked
/// against the f64 reference above; here they only need to agree (f32 sums of ≤ 630 terms in
/// different orders: 1e-4 relative to each tensor's scale).
#[test]
fn conv2d_classes_agree_past_tiles() {
    // Outputs start as NaN, so an element no kernel writes fails the comparison.
    gpu::ctx().set_poison(true);
    let cases: [Case; 6] = [
        (3, 70, 9, 9, 67, 3, 3, 1, 1),
        (3, 70, 17, 16, 67, 3, 3, 2, 1),
        (9, 5, 17, 17, 7, 1, 1, 2, 0),
        // Channels in 4s: the subgroup class's vec4 (NHWC) kernels.
        (3, 68, 9, 9, 36, 3, 3, 1, 1),
        (4, 36, 16, 16, 68, 3, 3, 2, 1),
        (8, 8, 16, 14, 12, 1, 1, 2, 0),
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let (b, cin, h, w, cout, kh, kw, s, p) = c;
        let (ho, wo) = (
            out_size(h, kh, s, p).unwrap(),
            out_size(w, kw, s, p).unwrap(),
        );
        let seed = 100 + 4 * i as u64;
        let x = Tensor::randn(&[b, cin, h, w], seed).unwrap();
        let wt = Tensor::randn(&[cout, cin, kh, kw], seed + 1).unwrap();
        let bias = Tensor::randn(&[cout], seed + 2).unwrap();
        let dy = Tensor::randn(&[b, cout, ho, wo], seed + 3).unwrap();
        let run = |class| {
            gpu::with_kernel_class(class, || {
                [
                    conv2d_raw(&x, &wt, Some(&bias), s, p),
                    conv2d_input_grad(&dy, &wt, x.shape(), s, p),
                    conv2d_weight_grad(&dy, &x, wt.shape(), s, p),
                ]
                .map(|t| t.unwrap().to_vec().unwrap())
            })
        };
        let (want, got) = (run(KernelClass::Cpu), run(KernelClass::Gpu));
        for ((what, g), w) in ["forward", "input grad", "weight grad"]
            .iter()
            .zip(&got)
            .zip(&want)
        {
            let w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            assert_close(
                &format!("conv2d {c:?} Gpu vs Cpu {what}"),
                g,
                &w,
                1e-4,
                seed,
            );
        }
    }
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

#[test]
fn conv2d_bias_relu_matches_reference() {
    // The inference conv with folded BatchNorm: relu(conv + bias), the ReLU applied as the
    // subgroup kernel stores; every class and CPU kernel set, forward only (no backward).
    use fastshap::ops::conv::conv2d_bias_relu;
    for c in CASES
        .into_iter()
        .chain([(3, 16, 9, 9, 33, 3, 3, 1, 1), (2, 8, 7, 6, 12, 3, 3, 1, 1)])
    {
        let (b, cin, h, w, cout, kh, kw, s, p) = c;
        let inputs = [
            normal(&[b, cin, h, w]).no_grad(),
            normal(&[cout, cin, kh, kw]).no_grad(),
            normal(&[cout]).no_grad(),
        ];
        for class in CLASSES {
            let kernels = match class {
                KernelClass::Cpu => crate::helper::cpu_kernels(),
                KernelClass::Gpu => vec![CpuKernels::Regblock],
            };
            for k in kernels {
                gpu::with_kernel_class(class, || {
                    with_cpu_kernels(k, || {
                        check_op(
                            &format!("conv2d_bias_relu {class:?}/{k:?} {c:?}"),
                            &inputs,
                            |t| conv2d_bias_relu(&t[0], &t[1], &t[2], s, p),
                            |a| conv_ref(&a[0], &a[1], Some(&a[2]), s, p).map(|v| v.max(0.0)),
                            Check::forward_only(),
                        )
                    })
                });
            }
        }
    }
    let x = Tensor::randn(&[1, 2, 5, 5], 1).unwrap().param();
    let w = Tensor::randn(&[3, 2, 3, 3], 2).unwrap();
    let b = Tensor::zeros(&[3]).unwrap();
    let e = conv2d_bias_relu(&x, &w, &b, 1, 1).unwrap_err().to_string();
    assert!(e.contains("inference only"), "{e}");
}
