use crate::helper::{Check, check_op, normal};
use fastshap::gpu::{self, KernelClass};

/// Sums over the last axis have a workgroup-per-row kernel on `KernelClass::Gpu`; the tests of
/// sums and means run under both families.
const CLASSES: [KernelClass; 2] = [KernelClass::Cpu, KernelClass::Gpu];

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}
fn max(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn reduce_sum_every_axis() {
    for class in CLASSES {
        for shape in [&[7usize, 33][..], &[3, 257, 5], &[1]] {
            for ax in 0..shape.len() {
                for keep in [false, true] {
                    gpu::with_kernel_class(class, || {
                        check_op(
                            &format!("sum {class:?}"),
                            &[normal(shape)],
                            |x| x[0].sum(ax as isize, keep),
                            |a| a[0].reduce(ax, keep, sum),
                            Check::default(),
                        )
                    });
                }
            }
        }
    }
}

#[test]
fn reduce_long_axis_takes_several_passes() {
    // 70,000 values: three chunked launches (also on Gpu: rows this long skip the row kernel).
    for class in CLASSES {
        gpu::with_kernel_class(class, || {
            check_op(
                &format!("sum long {class:?}"),
                &[normal(&[2, 70_000])],
                |x| x[0].sum(1, false),
                |a| a[0].reduce(1, false, sum),
                Check::forward_only(),
            )
        });
    }
    // 66,000 rows: the workgroup-per-row kernel's grid folds past 65,535 workgroups into y.
    gpu::with_kernel_class(KernelClass::Gpu, || {
        check_op(
            "sum many rows Gpu",
            &[normal(&[66_000, 3])],
            |x| x[0].sum(1, false),
            |a| a[0].reduce(1, false, sum),
            Check::forward_only(),
        )
    });
    check_op(
        "max long",
        &[normal(&[70_001])],
        |x| x[0].max(0, false),
        |a| a[0].reduce(0, false, max),
        Check::forward_only(),
    );
}

#[test]
fn reduce_mean_and_max() {
    for (shape, ax) in [(&[7usize, 33][..], 1isize), (&[5, 9, 4], -2), (&[9, 3], 0)] {
        let a = ax.rem_euclid(shape.len() as isize) as usize;
        for class in CLASSES {
            gpu::with_kernel_class(class, || {
                check_op(
                    &format!("mean {class:?}"),
                    &[normal(shape)],
                    |x| x[0].mean(ax, false),
                    |r| r[0].reduce(a, false, |v| sum(v) / v.len() as f64),
                    Check::default(),
                )
            });
        }
        check_op(
            "max",
            &[normal(shape)],
            |x| x[0].max(ax, true),
            |r| r[0].reduce(a, true, max),
            Check::default(),
        );
    }
    check_op(
        "sum_all",
        &[normal(&[13, 17])],
        |x| x[0].sum_all(),
        |r| crate::helper::Arr::scalar(sum(&r[0].data)),
        Check::default(),
    );
}

#[test]
fn reduce_argmax() {
    check_op(
        "argmax",
        &[normal(&[33, 10]).no_grad()],
        |x| x[0].argmax(-1, false),
        |a| {
            a[0].reduce(1, false, |v| {
                v.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (i, &x)| if x > b.1 { (i, x) } else { b },
                    )
                    .0 as f64
            })
        },
        Check::forward_only(),
    );
}

#[test]
fn broadcast_to_and_sum_to() {
    check_op(
        "broadcast_to",
        &[normal(&[3, 1, 5])],
        |x| x[0].broadcast_to(&[2, 3, 4, 5]),
        |a| a[0].zip(&crate::helper::Arr::zeros(&[2, 3, 4, 5]), |x, _| x),
        Check::default(),
    );
}

#[test]
fn argmax_refuses_axes_longer_than_a_shader_loop() {
    let x = fastshap::Tensor::zeros(&[1, 70_000]).unwrap();
    let e = x.argmax(-1, false).unwrap_err().to_string();
    assert!(e.contains("70000") && e.contains("65536"), "{e}");
    let mut v = vec![0f32; 65_536];
    v[65_530] = 1.0;
    let y = fastshap::Tensor::from_slice(&v, &[65_536]).unwrap();
    assert_eq!(y.argmax(0, false).unwrap().item().unwrap(), 65_530.0);
}
