//! Pooling against f64 references written here, with finite-difference gradient checks.
//! Sizes are odd, H ≠ W, and windows overlap, skip pixels and hang over the padding.

use crate::helper::{Arr, Check, check_op, normal};
use fastshap::Tensor;

/// Applies `f` to the values of each k×k window (real elements only, in row-major order) and
/// returns [B, C, Ho, Wo].
fn window_ref(x: &Arr, k: usize, s: usize, p: usize, f: impl Fn(&[f64]) -> f64) -> Arr {
    let [b, c, h, w] = x.shape[..] else { panic!() };
    let ho = (h + 2 * p - k) / s + 1;
    let wo = (w + 2 * p - k) / s + 1;
    let mut y = Arr::zeros(&[b, c, ho, wo]);
    let mut vals = Vec::new();
    for pl in 0..b * c {
        for oy in 0..ho {
            for ox in 0..wo {
                vals.clear();
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = (oy * s + ky) as isize - p as isize;
                        let ix = (ox * s + kx) as isize - p as isize;
                        if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                            vals.push(x.data[(pl * h + iy as usize) * w + ix as usize]);
                        }
                    }
                }
                y.data[(pl * ho + oy) * wo + ox] = f(&vals);
            }
        }
    }
    y
}

/// (B, C, H, W, k, stride, pad)
const WINDOWS: [(usize, usize, usize, usize, usize, usize, usize); 6] = [
    (2, 3, 7, 7, 2, 2, 0), // odd size: the last row/column is dropped
    (1, 2, 9, 6, 3, 2, 1), // ResNet stem pooling shape, H ≠ W
    (2, 1, 5, 8, 3, 1, 1), // overlapping windows
    (1, 3, 8, 7, 5, 3, 2), // large window, padding k/2
    (1, 2, 6, 5, 1, 2, 0), // 1×1 windows that skip pixels
    (2, 2, 4, 9, 4, 3, 2), // even window with maximal padding
];

#[test]
fn avg_pool2d_forward_and_grad() {
    for (b, c, h, w, k, s, p) in WINDOWS {
        check_op(
            &format!("avg_pool2d {:?}", (b, c, h, w, k, s, p)),
            &[normal(&[b, c, h, w])],
            |t| t[0].avg_pool2d(k, s, p),
            // count_include_pad: divide by the full window, padding included.
            |a| window_ref(&a[0], k, s, p, |v| v.iter().sum::<f64>() / (k * k) as f64),
            Check::default(),
        );
    }
}

#[test]
fn max_pool2d_forward_and_grad() {
    for (b, c, h, w, k, s, p) in WINDOWS {
        check_op(
            &format!("max_pool2d {:?}", (b, c, h, w, k, s, p)),
            &[normal(&[b, c, h, w])],
            |t| t[0].max_pool2d(k, s, p),
            |a| {
                window_ref(&a[0], k, s, p, |v| {
                    v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                })
            },
            Check::default(),
        );
    }
}

#[test]
fn max_pool2d_pads_with_neg_infinity_and_breaks_ties_first() {
    // All-negative input: zero padding would win the border windows; −inf padding must not.
    let x = Tensor::full(&[1, 1, 3, 3], -2.0).unwrap().param();
    let y = x.max_pool2d(3, 2, 1).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![-2.0; 4]);
    // Ties: the whole gradient of a window goes to its first maximum (row-major), as PyTorch.
    y.sum_all().unwrap().backward().unwrap();
    let g = x.grad().unwrap().to_vec().unwrap();
    // Windows start at (-1,-1), (-1,1), (1,-1), (1,1): first real elements (0,0), (0,1), (1,0), (1,1).
    assert_eq!(g, vec![1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
}

fn adaptive_ref(x: &Arr, oh: usize, ow: usize) -> Arr {
    let [b, c, h, w] = x.shape[..] else { panic!() };
    let mut y = Arr::zeros(&[b, c, oh, ow]);
    for pl in 0..b * c {
        for oy in 0..oh {
            let (y0, y1) = (oy * h / oh, ((oy + 1) * h).div_ceil(oh));
            for ox in 0..ow {
                let (x0, x1) = (ox * w / ow, ((ox + 1) * w).div_ceil(ow));
                let mut acc = 0.0;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        acc += x.data[(pl * h + iy) * w + ix];
                    }
                }
                y.data[(pl * oh + oy) * ow + ox] = acc / ((y1 - y0) * (x1 - x0)) as f64;
            }
        }
    }
    y
}

#[test]
fn adaptive_avg_pool2d_forward_and_grad() {
    let cases = [
        ([2, 3, 7, 7], (3, 3)), // overlapping windows of unequal size
        ([1, 2, 9, 6], (4, 5)),
        ([2, 2, 5, 5], (1, 1)),
        ([1, 3, 4, 6], (4, 6)), // identity
        ([1, 1, 3, 5], (5, 7)), // more outputs than inputs (windows repeat)
    ];
    for (shape, (oh, ow)) in cases {
        check_op(
            &format!("adaptive_avg_pool2d {shape:?} -> {oh}x{ow}"),
            &[normal(&shape)],
            |t| t[0].adaptive_avg_pool2d(oh, ow),
            |a| adaptive_ref(&a[0], oh, ow),
            Check::default(),
        );
    }
}

#[test]
fn global_avg_pool2d_forward_and_grad() {
    for shape in [[2, 3, 7, 5], [3, 5, 1, 1], [1, 2, 17, 16]] {
        check_op(
            &format!("global_avg_pool2d {shape:?}"),
            &[normal(&shape)],
            |t| t[0].global_avg_pool2d(),
            |a| {
                let [b, c, h, w] = shape;
                let d = a[0].reshape(&[b, c, h * w]);
                d.reduce(2, false, |v| v.iter().sum::<f64>() / v.len() as f64)
            },
            Check::default(),
        );
    }
}

#[test]
fn pool_errors() {
    let x = Tensor::zeros(&[1, 2, 5, 5]).unwrap();
    assert!(x.max_pool2d(3, 2, 2).is_err(), "padding over k/2");
    assert!(x.avg_pool2d(7, 1, 0).is_err(), "window larger than input");
    assert!(x.adaptive_avg_pool2d(0, 1).is_err());
    let e = Tensor::zeros(&[2, 5])
        .unwrap()
        .avg_pool2d(2, 2, 0)
        .unwrap_err();
    assert!(e.to_string().contains("[2, 5]"), "{e}");
}
