//! Plumbing ops against plain f64 references: permute/transpose, narrow/concat, index gathers and
//! their scatter-add adjoints, pad2d, 2x upsampling, patchify. Every op is linear, so the
//! gradient checks are exact up to f32 rounding and keep the default 1e-4 tolerance.

use crate::helper::{Arr, Check, check_op, normal, seed};
use fastshap::Tensor;
use fastshap::ops::plumbing::{concat, index_tensor};
use rand::{RngExt, SeedableRng};

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Coordinates of flat index `i` in `shape`.
fn coords(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut c = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        c[d] = i % shape[d];
        i /= shape[d];
    }
    c
}

/// Builds an array of `shape` from a function of output coordinates.
fn build(shape: &[usize], f: impl Fn(&[usize]) -> f64) -> Arr {
    let n = shape.iter().product();
    Arr::new(shape, (0..n).map(|i| f(&coords(i, shape))).collect())
}

fn at(a: &Arr, c: &[usize]) -> f64 {
    let s = strides(&a.shape);
    a.data[c.iter().zip(&s).map(|(x, y)| x * y).sum::<usize>()]
}

fn permute_ref(a: &Arr, perm: &[usize]) -> Arr {
    let out: Vec<usize> = perm.iter().map(|&p| a.shape[p]).collect();
    build(&out, |c| {
        let mut src = vec![0; c.len()];
        for (i, &p) in perm.iter().enumerate() {
            src[p] = c[i];
        }
        at(a, &src)
    })
}

fn rand_indices(n: usize, k: usize, rng: &mut rand::rngs::StdRng) -> Vec<usize> {
    (0..k).map(|_| rng.random_range(0..n)).collect()
}

/// The check for an input of `n` values: inputs large enough for the vec4 row kernels
/// (≥ 256 runs) check the forward only — finite differences over thousands of inputs take tens
/// of seconds, and the backward of these copies is the reverse copy, which the smaller cases
/// check with gradients and the unpatchify cases check forward on the large shapes.
fn check_for(n: usize) -> Check {
    if n > 1000 {
        Check::forward_only()
    } else {
        Check::default()
    }
}

#[test]
fn plumbing_permute() {
    let cases: [(&[usize], &[usize]); 7] = [
        // Moving only size-1 axes reuses the buffer (no kernel).
        (&[3, 5, 1, 8], &[0, 2, 1, 3]),
        (&[1, 4, 1, 6], &[2, 1, 0, 3]),
        (&[7, 33], &[1, 0]),
        (&[2, 3, 5, 7], &[3, 1, 0, 2]),
        (&[2, 1, 3, 2, 5, 3], &[5, 3, 1, 0, 4, 2]),
        (&[1], &[0]),
        // Rank 7 works because size-1 axes are dropped before the kernel.
        (&[2, 1, 3, 1, 2, 3, 2], &[6, 0, 5, 1, 4, 3, 2]),
    ];
    for (shape, perm) in cases {
        check_op(
            "permute",
            &[normal(shape)],
            |x| x[0].permute(perm),
            |a| permute_ref(&a[0], perm),
            Check::default(),
        );
    }
    check_op(
        "transpose",
        &[normal(&[3, 4, 5])],
        |x| x[0].transpose(-1, 0),
        |a| permute_ref(&a[0], &[2, 1, 0]),
        Check::default(),
    );
    assert!(Tensor::zeros(&[2, 3]).unwrap().permute(&[0, 0]).is_err());
}

#[test]
fn plumbing_narrow() {
    // The last two run as vec4 rows (plumbing4.wgsl): 300 runs of 8, and one contiguous block
    // of 12,000 cut into runs.
    let cases: [(&[usize], isize, usize, usize); 6] = [
        (&[7, 33], 1, 5, 20),
        (&[300, 12], 1, 4, 8),
        (&[5, 2, 2000], 0, 1, 3),
        (&[7, 33], 0, 6, 1),
        (&[3, 5, 4], -2, 1, 3),
        (&[1], 0, 0, 1),
    ];
    for (shape, axis, start, len) in cases {
        let ax = axis.rem_euclid(shape.len() as isize) as usize;
        let mut out = shape.to_vec();
        out[ax] = len;
        check_op(
            "narrow",
            &[normal(shape)],
            |x| x[0].narrow(axis, start, len),
            |a| {
                build(&out, |c| {
                    let mut s = c.to_vec();
                    s[ax] += start;
                    at(&a[0], &s)
                })
            },
            check_for(shape.iter().product()),
        );
    }
    assert!(Tensor::zeros(&[4]).unwrap().narrow(0, 2, 3).is_err());
}

fn concat_ref(xs: &[Arr], ax: usize) -> Arr {
    let mut out = xs[0].shape.clone();
    out[ax] = xs.iter().map(|x| x.shape[ax]).sum();
    build(&out, |c| {
        let mut s = c.to_vec();
        for x in xs {
            if s[ax] < x.shape[ax] {
                return at(x, &s);
            }
            s[ax] -= x.shape[ax];
        }
        unreachable!()
    })
}

#[test]
fn plumbing_concat() {
    let cases: [(&[&[usize]], isize); 4] = [
        (&[&[2, 3, 5], &[2, 7, 5], &[2, 1, 5]], 1),
        (&[&[300, 4], &[300, 8]], 1), // vec4 rows
        (&[&[1, 33], &[7, 33]], 0),
        (&[&[3, 2, 1], &[3, 2, 7]], -1),
    ];
    for (shapes, axis) in cases {
        let ax = axis.rem_euclid(shapes[0].len() as isize) as usize;
        let inputs: Vec<_> = shapes.iter().map(|s| normal(s)).collect();
        check_op(
            "concat",
            &inputs,
            |x| concat(&x.iter().collect::<Vec<_>>(), axis),
            |a| concat_ref(a, ax),
            check_for(shapes.iter().map(|s| s.iter().product::<usize>()).sum()),
        );
    }
    let (a, b) = (
        Tensor::zeros(&[2, 3]).unwrap(),
        Tensor::zeros(&[3, 3]).unwrap(),
    );
    assert!(concat(&[&a, &b], 1).is_err());
}

#[test]
fn plumbing_index_select_and_scatter_add() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let cases: [(&[usize], isize, usize); 4] = [
        (&[5, 7, 3], 1, 9), // more indices than slots: repeats are certain
        (&[7, 33], 0, 4),
        (&[2, 3, 33], -1, 1),
        (&[1], 0, 7),
    ];
    for (shape, axis, k) in cases {
        let ax = axis.rem_euclid(shape.len() as isize) as usize;
        let n = shape[ax];
        let idx = rand_indices(n, k, &mut rng);
        let mut out = shape.to_vec();
        out[ax] = k;
        check_op(
            "index_select",
            &[normal(shape)],
            |x| x[0].index_select(axis, &index_tensor(&idx, &[k])?),
            |a| {
                build(&out, |c| {
                    let mut s = c.to_vec();
                    s[ax] = idx[c[ax]];
                    at(&a[0], &s)
                })
            },
            Check::default(),
        );
        check_op(
            "scatter_add",
            &[normal(&out)],
            |x| x[0].scatter_add(axis, &index_tensor(&idx, &[k])?, n),
            |a| {
                let mut y = Arr::zeros(shape);
                let st = strides(shape);
                for i in 0..a[0].numel() {
                    let mut c = coords(i, &out);
                    c[ax] = idx[c[ax]];
                    y.data[c.iter().zip(&st).map(|(x, s)| x * s).sum::<usize>()] += a[0].data[i];
                }
                y
            },
            Check::default(),
        );
    }
}

#[test]
fn plumbing_out_of_range_indices_gather_zero() {
    // Documented behaviour: a kernel cannot raise PyTorch's error, so indices outside the axis
    // (here 3 of 3 and -1) read 0 and scatter nowhere rather than out of bounds.
    let x = Tensor::from_slice(&[1.0, 2.0, 3.0], &[3]).unwrap();
    let idx = Tensor::from_slice(&[2.0, 3.0, -1.0, 0.0], &[4]).unwrap();
    let y = x.index_select(0, &idx).unwrap().to_vec().unwrap();
    assert_eq!(y, [3.0, 0.0, 0.0, 1.0]);
    let g = Tensor::from_slice(&[1.0, 10.0, 100.0, 1000.0], &[4]).unwrap();
    let s = g.scatter_add(0, &idx, 3).unwrap().to_vec().unwrap();
    assert_eq!(s, [1000.0, 0.0, 1.0]);
}

#[test]
fn plumbing_gather_rows_and_scatter_add_rows() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    // MAE keeps a random subset of tokens per image (distinct indices); the last case repeats.
    for (b, t, d, k, distinct) in [
        (3, 7, 33, 5, true),
        (1, 1, 7, 1, true),
        (2, 9, 4, 9, true),
        (2, 3, 5, 8, false),
    ] {
        let idx: Vec<usize> = (0..b)
            .flat_map(|_| {
                if distinct {
                    let mut p: Vec<usize> = (0..t).collect();
                    for i in (1..t).rev() {
                        p.swap(i, rng.random_range(0..=i));
                    }
                    p.truncate(k);
                    p
                } else {
                    rand_indices(t, k, &mut rng)
                }
            })
            .collect();
        check_op(
            "gather_rows",
            &[normal(&[b, t, d])],
            |x| x[0].gather_rows(&index_tensor(&idx, &[b, k])?),
            |a| {
                build(&[b, k, d], |c| {
                    at(&a[0], &[c[0], idx[c[0] * k + c[1]], c[2]])
                })
            },
            Check::default(),
        );
        check_op(
            "scatter_add_rows",
            &[normal(&[b, k, d])],
            |x| x[0].scatter_add_rows(&index_tensor(&idx, &[b, k])?, t),
            |a| {
                let mut y = Arr::zeros(&[b, t, d]);
                for i in 0..a[0].numel() {
                    let c = coords(i, &[b, k, d]);
                    let row = idx[c[0] * k + c[1]];
                    y.data[(c[0] * t + row) * d + c[2]] += a[0].data[i];
                }
                y
            },
            Check::default(),
        );
    }
}

#[test]
fn plumbing_pad2d() {
    for (shape, (l, r, t, b)) in [
        (&[2, 3, 7, 5][..], (1, 2, 0, 3)),
        (&[1, 1, 1, 1], (0, 0, 0, 0)),
        (&[33, 2], (4, 1, 2, 2)),
    ] {
        let n = shape.len();
        let mut out = shape.to_vec();
        out[n - 2] += t + b;
        out[n - 1] += l + r;
        check_op(
            "pad2d",
            &[normal(shape)],
            |x| x[0].pad2d(l, r, t, b, 0.5),
            |a| {
                build(&out, |c| {
                    let (y, x) = (
                        c[n - 2] as isize - t as isize,
                        c[n - 1] as isize - l as isize,
                    );
                    if y < 0 || x < 0 || y >= shape[n - 2] as isize || x >= shape[n - 1] as isize {
                        return 0.5;
                    }
                    let mut s = c.to_vec();
                    s[n - 2] = y as usize;
                    s[n - 1] = x as usize;
                    at(&a[0], &s)
                })
            },
            Check::default(),
        );
    }
}

/// PyTorch's source index and weights for bilinear, align_corners=False, scale 2 (from
/// `area_pixel_compute_source_index` and `upsample_bilinear2d`), written independently of the
/// kernel: returns ((i0, w0), (i1, w1)).
/// With `align` (align_corners=True): src = dst·(n−1)/(2n−1).
fn bilinear_taps(dst: usize, n: usize, align: bool) -> ((usize, f64), (usize, f64)) {
    let src = if align {
        if n == 1 {
            0.0
        } else {
            dst as f64 * (n - 1) as f64 / (2 * n - 1) as f64
        }
    } else {
        ((dst as f64 + 0.5) / 2.0 - 0.5).max(0.0)
    };
    let i0 = src.floor() as usize;
    let i1 = if i0 < n - 1 { i0 + 1 } else { i0 };
    let l1 = src - i0 as f64;
    ((i0, 1.0 - l1), (i1, l1))
}

fn upsample_ref(a: &Arr, bilinear: bool, align: bool) -> Arr {
    let r = a.shape.len();
    let (h, w) = (a.shape[r - 2], a.shape[r - 1]);
    let mut out = a.shape.clone();
    out[r - 2] *= 2;
    out[r - 1] *= 2;
    build(&out, |c| {
        let mut s = c.to_vec();
        let (oy, ox) = (c[r - 2], c[r - 1]);
        if !bilinear {
            s[r - 2] = oy / 2;
            s[r - 1] = ox / 2;
            return at(a, &s);
        }
        let (ty, tx) = (bilinear_taps(oy, h, align), bilinear_taps(ox, w, align));
        let mut v = 0.0;
        for (iy, wy) in [ty.0, ty.1] {
            for (ix, wx) in [tx.0, tx.1] {
                s[r - 2] = iy;
                s[r - 1] = ix;
                v += wy * wx * at(a, &s);
            }
        }
        v
    })
}

#[test]
fn plumbing_upsample() {
    // Known values: PyTorch's bilinear 2x of [[0, 1]] along w is [0, 0.25, 0.75, 1].
    let row = Tensor::from_slice(&[0.0, 1.0], &[1, 1, 1, 2]).unwrap();
    let up = row.upsample_bilinear2x(false).unwrap().to_vec().unwrap();
    assert_eq!(&up[..4], &[0.0, 0.25, 0.75, 1.0]);
    // And of [[1, 2], [3, 4]] (PyTorch's documented output for this input).
    let sq = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    let want = [
        1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
    ];
    assert_eq!(
        sq.upsample_bilinear2x(false).unwrap().to_vec().unwrap(),
        want
    );
    // align_corners=True (the UNet's), values printed by PyTorch 2.15 for the same input.
    let want_aligned = [
        1.0,
        4.0 / 3.0,
        5.0 / 3.0,
        2.0,
        5.0 / 3.0,
        2.0,
        7.0 / 3.0,
        8.0 / 3.0,
        7.0 / 3.0,
        8.0 / 3.0,
        3.0,
        10.0 / 3.0,
        3.0,
        10.0 / 3.0,
        11.0 / 3.0,
        4.0,
    ];
    let got = sq.upsample_bilinear2x(true).unwrap().to_vec().unwrap();
    for (g, w) in got.iter().zip(want_aligned) {
        assert!((g - w).abs() < 1e-6, "{got:?}");
    }
    for shape in [
        &[2, 3, 7, 5][..],
        &[1, 1, 1, 1],
        &[1, 2, 1, 6],
        &[1, 1, 33, 2],
    ] {
        for (bilinear, align) in [(false, false), (true, false), (true, true)] {
            check_op(
                if bilinear {
                    "upsample_bilinear2x"
                } else {
                    "upsample_nearest2x"
                },
                &[normal(shape)],
                |x| {
                    if bilinear {
                        x[0].upsample_bilinear2x(align)
                    } else {
                        x[0].upsample_nearest2x()
                    }
                },
                |a| upsample_ref(&a[0], bilinear, align),
                Check::default(),
            );
        }
    }
}

/// Token (b, gy·gw + gx), entry (i, j, c) [MAE] or (c, i, j) [chw] = x[b, c, gy·p + i, gx·p + j].
fn patchify_ref(a: &Arr, p: usize, chw: bool) -> Arr {
    let (b, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3]);
    let gw = w / p;
    build(&[b, (h / p) * gw, p * p * c], |k| {
        let (gy, gx) = (k[1] / gw, k[1] % gw);
        let (i, j, ch) = if chw {
            (k[2] / p % p, k[2] % p, k[2] / (p * p))
        } else {
            (k[2] / (p * c), k[2] / c % p, k[2] % c)
        };
        at(a, &[k[0], ch, gy * p + i, gx * p + j])
    })
}

fn unpatchify_ref(t: &Arr, p: usize, h: usize, w: usize, chw: bool) -> Arr {
    let (b, c) = (t.shape[0], t.shape[2] / (p * p));
    let mut y = Arr::zeros(&[b, c, h, w]);
    // Scatter through the forward map, which is a bijection.
    let probe = build(&[b, c, h, w], |k| {
        (((k[0] * c + k[1]) * h + k[2]) * w + k[3]) as f64
    });
    let pos = patchify_ref(&probe, p, chw);
    for (ti, &flat) in pos.data.iter().enumerate() {
        y.data[flat as usize] = t.data[ti];
    }
    y
}

#[test]
fn plumbing_patchify() {
    for (shape, p) in [
        (&[2, 3, 8, 12][..], 4),
        (&[4, 4, 16, 16], 4), // 1,024 runs of 4 pixels: vec4 rows
        (&[1, 1, 7, 7], 7),
        (&[1, 2, 3, 3], 1),
    ] {
        for chw in [false, true] {
            check_op(
                "patchify",
                &[normal(shape)],
                |x| {
                    if chw {
                        x[0].patchify_chw(p)
                    } else {
                        x[0].patchify(p)
                    }
                },
                |a| patchify_ref(&a[0], p, chw),
                check_for(shape.iter().product()),
            );
            let (h, w, c) = (shape[2], shape[3], shape[1]);
            let tokens = [shape[0], (h / p) * (w / p), p * p * c];
            check_op(
                "unpatchify",
                &[normal(&tokens)],
                |x| {
                    if chw {
                        x[0].unpatchify_chw(p, h, w)
                    } else {
                        x[0].unpatchify(p, h, w)
                    }
                },
                |a| unpatchify_ref(&a[0], p, h, w, chw),
                check_for(shape.iter().product()),
            );
        }
    }
    assert!(Tensor::zeros(&[1, 1, 6, 6]).unwrap().patchify(4).is_err());
}

/// The reason `patchify_chw` exists: a Linear whose weight is a Conv2d patch-embed weight
/// [D, C, p, p] flattened to [D, C·p·p] gives that Conv2d's output on the GPU's tokens.
#[test]
fn plumbing_patchify_chw_matches_conv2d() {
    let (b, c, h, w, p, d) = (2, 3, 6, 9, 3, 5);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let x: Vec<f32> = (0..b * c * h * w)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let wt: Vec<f64> = (0..d * c * p * p)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let tokens = Tensor::from_slice(&x, &[b, c, h, w])
        .unwrap()
        .patchify_chw(p)
        .unwrap()
        .to_vec()
        .unwrap();
    let (gh, gw, k) = (h / p, w / p, c * p * p);
    for bi in 0..b {
        for gy in 0..gh {
            for gx in 0..gw {
                for o in 0..d {
                    let tok = &tokens[((bi * gh + gy) * gw + gx) * k..][..k];
                    let linear: f64 = (0..k).map(|e| wt[o * k + e] * tok[e] as f64).sum();
                    let mut conv = 0.0;
                    for ci in 0..c {
                        for i in 0..p {
                            for j in 0..p {
                                let xv = x[((bi * c + ci) * h + gy * p + i) * w + gx * p + j];
                                conv += wt[((o * c + ci) * p + i) * p + j] * xv as f64;
                            }
                        }
                    }
                    assert!((linear - conv).abs() < 1e-9, "{linear} vs {conv}");
                }
            }
        }
    }
}
