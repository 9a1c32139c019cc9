use crate::helper::{Arr, Check, check_op, cpu_kernels, normal, uniform};
use fastshap::Tensor;
use fastshap::gpu::{self, KernelClass};
use fastshap::ops::norm::{batch_norm2d, batch_norm2d_relu, layer_norm};
use fastshap::ops::variant::{CpuKernels, with_cpu_kernels};

const EPS: f64 = 1e-5;

/// f64 BatchNorm2d: normalises each channel of x [B, C, H, W] with `stats(c) = (mean, var)`.
fn bn_ref(x: &Arr, w: &Arr, b: &Arr, stats: impl Fn(usize) -> (f64, f64)) -> Arr {
    let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3]);
    // Once per channel, not per element: batch statistics walk the whole channel.
    let per_channel: Vec<(f64, f64)> = (0..c).map(stats).collect();
    let mut y = x.clone();
    for (i, v) in y.data.iter_mut().enumerate() {
        let ch = (i / hw) % c;
        let (m, var) = per_channel[ch];
        *v = (*v - m) / (var + EPS).sqrt() * w.data[ch] + b.data[ch];
    }
    y
}

/// Batch mean and biased variance of channel `ch`.
fn channel_stats(x: &Arr, ch: usize) -> (f64, f64) {
    let (bs, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3]);
    let vals: Vec<f64> = (0..bs)
        .flat_map(|b| (0..hw).map(move |i| (b * c + ch) * hw + i))
        .map(|i| x.data[i])
        .collect();
    let n = vals.len() as f64;
    let m = vals.iter().sum::<f64>() / n;
    (m, vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n)
}

#[test]
fn batch_norm2d_training() {
    {
        for shape in [[2usize, 3, 5, 7], [1, 4, 1, 9]] {
            let c = shape[1];
            check_op(
                "batch_norm2d train",
                &[normal(&shape), normal(&[c]), normal(&[c])],
                |t| {
                    let rm = Tensor::zeros(&[c])?;
                    let rv = Tensor::ones(&[c])?;
                    batch_norm2d(&t[0], &t[1], &t[2], &rm, &rv, true, 0.1, EPS as f32)
                },
                |a| bn_ref(&a[0], &a[1], &a[2], |ch| channel_stats(&a[0], ch)),
                Check::default(),
            );
        }
    }
}

/// Channels of more than 65,536 values (B·H·W = 102,400): llvmpipe cuts loops off after 65,536
/// iterations, which once made a one-invocation-per-channel kernel return wrong statistics.
#[test]
fn batch_norm2d_long_channels() {
    check_op(
        "batch_norm2d train, 102,400 values per channel",
        &[
            normal(&[100, 2, 32, 32]).no_grad(),
            normal(&[2]).no_grad(),
            normal(&[2]).no_grad(),
        ],
        |t| {
            batch_norm2d(
                &t[0],
                &t[1],
                &t[2],
                &Tensor::zeros(&[2])?,
                &Tensor::ones(&[2])?,
                true,
                0.1,
                EPS as f32,
            )
        },
        |a| bn_ref(&a[0], &a[1], &a[2], |ch| channel_stats(&a[0], ch)),
        Check::forward_only(),
    );
}

/// relu(BatchNorm2d) as one op, training and eval, against the f64 reference followed by a ReLU.
#[test]
fn batch_norm2d_relu_train_and_eval() {
    let relu = |y: Arr| y.map(|v| v.max(0.0));
    let shape = [2usize, 3, 5, 7];
    check_op(
        "batch_norm2d_relu train",
        &[normal(&shape), normal(&[3]), normal(&[3])],
        |t| {
            let (rm, rv) = (Tensor::zeros(&[3])?, Tensor::ones(&[3])?);
            batch_norm2d_relu(&t[0], &t[1], &t[2], &rm, &rv, true, 0.1, EPS as f32)
        },
        |a| relu(bn_ref(&a[0], &a[1], &a[2], |ch| channel_stats(&a[0], ch))),
        Check::default(),
    );
    check_op(
        "batch_norm2d_relu eval",
        &[
            normal(&shape),
            normal(&[3]),
            normal(&[3]),
            normal(&[3]).no_grad(),
            uniform(&[3], 0.5, 2.0).no_grad(),
        ],
        |t| batch_norm2d_relu(&t[0], &t[1], &t[2], &t[3], &t[4], false, 0.1, EPS as f32),
        |a| {
            relu(bn_ref(&a[0], &a[1], &a[2], |ch| {
                (a[3].data[ch], a[4].data[ch])
            }))
        },
        Check::default(),
    );
}

#[test]
fn batch_norm2d_eval() {
    {
        let c = 3;
        check_op(
            "batch_norm2d eval",
            &[
                normal(&[2, c, 5, 7]),
                normal(&[c]),
                normal(&[c]),
                normal(&[c]).no_grad(),
                uniform(&[c], 0.5, 2.0).no_grad(),
            ],
            |t| batch_norm2d(&t[0], &t[1], &t[2], &t[3], &t[4], false, 0.1, EPS as f32),
            |a| bn_ref(&a[0], &a[1], &a[2], |ch| (a[3].data[ch], a[4].data[ch])),
            Check::default(),
        );
    }
}

#[test]
fn batch_norm2d_running_stats_after_two_steps() {
    {
        let (shape, c, mom) = ([2usize, 3, 5, 7], 3, 0.1);
        let n = (2 * 5 * 7) as f64;
        let rm = Tensor::from_slice(&[0.5, -1.0, 0.0], &[c]).unwrap();
        let rv = Tensor::from_slice(&[1.0, 2.0, 0.25], &[c]).unwrap();
        let (mut want_m, mut want_v) = (vec![0.5, -1.0, 0.0], vec![1.0, 2.0, 0.25]);
        let (w, b) = (Tensor::ones(&[c]).unwrap(), Tensor::zeros(&[c]).unwrap());
        for step in 0..2u64 {
            let x = Tensor::randn(&shape, 40 + step).unwrap();
            let xa = Arr::new(
                &shape,
                x.to_vec().unwrap().iter().map(|&v| v as f64).collect(),
            );
            batch_norm2d(&x, &w, &b, &rm, &rv, true, mom as f32, EPS as f32).unwrap();
            for ch in 0..c {
                let (m, v) = channel_stats(&xa, ch);
                want_m[ch] = (1.0 - mom) * want_m[ch] + mom * m;
                want_v[ch] = (1.0 - mom) * want_v[ch] + mom * v * n / (n - 1.0);
            }
        }
        crate::helper::assert_close("running_mean", &rm.to_vec().unwrap(), &want_m, 1e-5, 0);
        crate::helper::assert_close("running_var", &rv.to_vec().unwrap(), &want_v, 1e-5, 0);
    }
}

fn ln_ref(x: &Arr, w: &Arr, b: &Arr) -> Arr {
    x.rows(|r| {
        let n = r.len() as f64;
        let m = r.iter().sum::<f64>() / n;
        let v = r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
        r.iter()
            .enumerate()
            .map(|(i, x)| (x - m) / (v + EPS).sqrt() * w.data[i] + b.data[i])
            .collect()
    })
}

#[test]
fn layer_norm_last_axis() {
    // [300, 7] has more rows than one weight-gradient chunk (256), so the partial sums combine;
    // [5, 257] and [37, 33] leave partial subgroups of rows and columns (subgroup variant).
    // Every variant: one row per invocation (regblock), one row per lane with broadcast weights
    // (subgroup), one workgroup per row (Gpu).
    let mut variants: Vec<_> = cpu_kernels()
        .into_iter()
        .map(|k| (KernelClass::Cpu, k))
        .collect();
    variants.push((KernelClass::Gpu, CpuKernels::Regblock));
    for (class, kernels) in variants {
        // [.., 32] and [.., 68]: rows of vec4s on the subgroup class (norm_ln_subgroup4.wgsl).
        for shape in [
            &[2usize, 3, 33][..],
            &[5, 257],
            &[33],
            &[300, 7],
            &[37, 33],
            &[3, 5, 32],
            &[13, 68],
        ] {
            let d = *shape.last().unwrap();
            gpu::with_kernel_class(class, || {
                with_cpu_kernels(kernels, || {
                    check_op(
                        &format!("layer_norm {class:?} {kernels:?} {shape:?}"),
                        &[normal(shape), normal(&[d]), normal(&[d])],
                        |t| layer_norm(&t[0], &t[1], &t[2], EPS as f32),
                        |a| ln_ref(&a[0], &a[1], &a[2]),
                        Check::default(),
                    )
                })
            });
        }
    }
}
