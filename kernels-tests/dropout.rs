use crate::helper::{Check, check_op, normal};
use fastshap::Tensor;
use fastshap::ops::dropout::dropout;

/// CPU copy of the shader's hash (`shaders/dropout.wgsl`): the reference mask.
fn pcg(v: u32) -> u32 {
    let s = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277803737);
    (w >> 22) ^ w
}

fn keeps(i: usize, p: f64, seed: u64) -> bool {
    let key = pcg(seed as u32 ^ pcg(((seed >> 32) as u32).wrapping_add(0x9e3779b9)));
    let h = pcg(pcg(i as u32 ^ key).wrapping_add(key));
    h as f64 >= (p * 4_294_967_296.0).round()
}

#[test]
fn dropout_matches_reference_mask() {
    for (shape, p, seed) in [
        (&[7usize, 33][..], 0.3, 7u64),
        (&[257], 0.5, 0xdead_beef_0000_0001),
        (&[1], 0.1, 3),
    ] {
        check_op(
            "dropout",
            &[normal(shape)],
            |t| dropout(&t[0], p as f32, true, seed),
            |a| {
                let scale = 1.0 / (1.0 - p as f32) as f64;
                let mut y = a[0].clone();
                for (i, v) in y.data.iter_mut().enumerate() {
                    *v = if keeps(i, p, seed) { *v * scale } else { 0.0 };
                }
                y
            },
            Check::default(),
        );
    }
}

#[test]
fn dropout_statistics_and_determinism() {
    let n = 100_000;
    let x = Tensor::ones(&[n]).unwrap();
    for p in [0.1f32, 0.5, 0.9] {
        let y = dropout(&x, p, true, 42).unwrap().to_vec().unwrap();
        let scale = 1.0 / (1.0 - p);
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
        // 5 standard deviations of a binomial fraction.
        let sd = (p as f64 * (1.0 - p as f64) / n as f64).sqrt();
        assert!(
            (dropped - p as f64).abs() < 5.0 * sd,
            "p={p}: dropped {dropped}"
        );
        assert!(
            y.iter().all(|&v| v == 0.0 || v == scale),
            "kept values are x/(1-p)"
        );
        let again = dropout(&x, p, true, 42).unwrap().to_vec().unwrap();
        assert_eq!(y, again, "same seed, same mask");
        let other = dropout(&x, p, true, 43).unwrap().to_vec().unwrap();
        assert_ne!(y, other, "another seed, another mask");
    }
}

#[test]
fn dropout_eval_is_identity_and_edges() {
    let x = Tensor::randn(&[5, 9], 1).unwrap();
    let xs = x.to_vec().unwrap();
    assert_eq!(dropout(&x, 0.5, false, 1).unwrap().to_vec().unwrap(), xs);
    assert_eq!(dropout(&x, 0.0, true, 1).unwrap().to_vec().unwrap(), xs);
    let all = dropout(&x, 1.0, true, 1).unwrap().to_vec().unwrap();
    assert!(all.iter().all(|&v| v == 0.0), "p = 1 drops everything");
    assert!(dropout(&x, 1.5, true, 1).is_err());
}

#[test]
fn dropout_gradient_is_mask_times_scale() {
    let x = Tensor::randn(&[3, 65], 2).unwrap().param();
    let (p, seed) = (0.25f32, 99u64);
    dropout(&x, p, true, seed)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = x.grad().unwrap().to_vec().unwrap();
    let mask = dropout(&Tensor::ones(&[3, 65]).unwrap(), p, true, seed)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(g, mask);
}
