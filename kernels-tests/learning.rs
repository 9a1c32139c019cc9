//! Learning tests: small seeded models trained end to end with the tape must actually learn.
//! A wrong gradient anywhere in the chain leaves them near chance level, so they fail loudly.

use fastshap::Tensor;
use fastshap::ops::matmul::linear;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// 256 points in 2-D, 3 classes that no linear classifier separates: class 0 is the blobs at
/// (2, 2) and (−2, −2), class 1 those at (2, −2) and (−2, 2), class 2 a blob at the origin.
/// Blob σ = 0.45: the nearest boundary is ~3σ away, so ≥ 95% is reachable but needs the hidden
/// layer (the same training without the relu ends at ~41%).
fn xor_blobs(seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centers = [
        ((2.0, 2.0), 0),
        ((-2.0, -2.0), 0),
        ((2.0, -2.0), 1),
        ((-2.0, 2.0), 1),
        ((0.0, 0.0), 2),
    ];
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..256 {
        let ((cx, cy), label) = centers[i % centers.len()];
        let dx: f32 = rng.sample(StandardNormal);
        let dy: f32 = rng.sample(StandardNormal);
        x.extend([cx + 0.45 * dx, cy + 0.45 * dy]);
        y.push(label);
    }
    (x, y)
}

#[test]
fn mlp_learns_synthetic_classification() {
    const HIDDEN: usize = 32;
    const CLASSES: usize = 3;
    const STEPS: usize = 300;
    let (lr, momentum) = (0.1f32, 0.9f32);

    let (xs, ys) = xor_blobs(7);
    let n = ys.len();
    let x = Tensor::from_slice(&xs, &[n, 2]).unwrap();
    let mut onehot = vec![0.0f32; n * CLASSES];
    for (i, &c) in ys.iter().enumerate() {
        onehot[i * CLASSES + c] = 1.0;
    }
    let onehot = Tensor::from_slice(&onehot, &[n, CLASSES]).unwrap();

    // He init for the relu layer (fan_in 2: std √(2/2) = 1), 1/√fan_in for the output layer;
    // zero biases.
    let w1 = Tensor::randn(&[HIDDEN, 2], 1).unwrap().param();
    let b1 = Tensor::zeros(&[HIDDEN]).unwrap().param();
    let w2 = Tensor::randn(&[CLASSES, HIDDEN], 2)
        .unwrap()
        .mul_scalar((1.0 / HIDDEN as f32).sqrt())
        .unwrap()
        .param();
    let b2 = Tensor::zeros(&[CLASSES]).unwrap().param();
    let params = [&w1, &b1, &w2, &b2];
    let velocity: Vec<Tensor> = params
        .iter()
        .map(|p| Tensor::zeros(p.shape()).unwrap())
        .collect();

    let forward = || -> anyhow::Result<Tensor> {
        let h = linear(&x, &w1, Some(&b1))?.relu()?;
        linear(&h, &w2, Some(&b2))
    };
    let loss_of = |logits: &Tensor| -> anyhow::Result<Tensor> {
        // Cross-entropy: mean over points of −log_softmax(logits)·onehot.
        logits
            .log_softmax()?
            .mul(&onehot)?
            .sum(-1, false)?
            .mean_all()?
            .neg()
    };
    let accuracy = || -> f32 {
        let pred = fastshap::with_no_grad(|| forward().unwrap().argmax(-1, false).unwrap());
        let pred = pred.to_vec().unwrap();
        let hits = pred
            .iter()
            .zip(&ys)
            .filter(|(p, y)| **p as usize == **y)
            .count();
        hits as f32 / n as f32
    };

    let first_loss = loss_of(&forward().unwrap()).unwrap().item().unwrap();
    let first_acc = accuracy();
    for _ in 0..STEPS {
        for p in params {
            p.zero_grad();
        }
        let loss = loss_of(&forward().unwrap()).unwrap();
        loss.backward().unwrap();
        // SGD with momentum: v ← μ·v + g; p ← p − lr·v.
        let _g = fastshap::no_grad();
        for (p, v) in params.iter().zip(&velocity) {
            let g = p.grad().expect("every parameter takes part in the loss");
            v.assign(&v.mul_scalar(momentum).unwrap().add(&g).unwrap())
                .unwrap();
            p.assign(&p.sub(&v.mul_scalar(lr).unwrap()).unwrap())
                .unwrap();
        }
    }
    let last_loss = loss_of(&forward().unwrap()).unwrap().item().unwrap();
    let acc = accuracy();
    eprintln!(
        "mlp: loss {first_loss:.4} → {last_loss:.4}, accuracy {first_acc:.3} → {acc:.3} after {STEPS} steps"
    );
    assert!(
        last_loss < 0.5 * first_loss,
        "loss did not fall: {first_loss} → {last_loss}"
    );
    assert!(
        acc >= 0.95,
        "training accuracy {acc:.3} < 0.95 (from {first_acc:.3})"
    );
}
