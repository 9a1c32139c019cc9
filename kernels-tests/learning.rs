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

/// A seeded 4-class image task on 1×8×8 images: a horizontal bar, a vertical bar, a diagonal or
/// a 2×2 blob at a random position, on Gaussian noise (σ 0.3). Position varies, so the models
/// must detect local patterns rather than memorise pixels.
fn pattern_images(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = vec![0f32; n * 64];
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let img = &mut x[i * 64..(i + 1) * 64];
        for v in img.iter_mut() {
            *v = 0.3 * rng.sample::<f32, _>(StandardNormal);
        }
        let class = (i % 4) as u32;
        let (r, c) = (rng.random_range(1..6usize), rng.random_range(1..6usize));
        let cells: Vec<(usize, usize)> = match class {
            0 => (0..3).map(|k| (r, c - 1 + k)).collect(),
            1 => (0..3).map(|k| (r - 1 + k, c)).collect(),
            2 => (0..3).map(|k| (r - 1 + k, c - 1 + k)).collect(),
            _ => vec![(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)],
        };
        for (rr, cc) in cells {
            img[rr.min(7) * 8 + cc.min(7)] += 1.5;
        }
        y.push(class);
    }
    (x, y)
}

fn accuracy(logits: &Tensor, labels: &[u32]) -> f32 {
    let pred = logits.argmax(-1, false).unwrap().to_vec().unwrap();
    pred.iter()
        .zip(labels)
        .filter(|(p, y)| **p as u32 == **y)
        .count() as f32
        / labels.len() as f32
}

/// Trains `forward` (returning logits) with Adam on cross-entropy, full batch; returns the
/// training accuracy after `steps` steps.
fn train(
    params: Vec<Tensor>,
    steps: usize,
    lr: f32,
    x: &Tensor,
    y: &[u32],
    forward: &dyn Fn(&Tensor, bool) -> Tensor,
) -> (f32, f32) {
    use fastshap::ops::loss::cross_entropy_indices;
    use fastshap::ops::optim::{Adam, Optimizer};
    let mut opt = Optimizer::adam(params, lr, Adam::default()).unwrap();
    let mut first = None;
    for _ in 0..steps {
        opt.zero_grad();
        let loss = cross_entropy_indices(&forward(x, true), y, 0.0).unwrap();
        first.get_or_insert_with(|| loss.item().unwrap());
        loss.backward().unwrap();
        opt.step().unwrap();
    }
    let _g = fastshap::no_grad();
    let acc = accuracy(&forward(x, false), y);
    (first.unwrap(), acc)
}

#[test]
fn small_cnn_learns_synthetic_images() {
    use fastshap::nn::{BatchNorm2d, Conv2d, Linear, Module, init_rng};
    let (xs, ys) = pattern_images(128, 11);
    let x = Tensor::from_slice(&xs, &[128, 1, 8, 8]).unwrap();
    let mut rng = init_rng(3);
    let conv = Conv2d::new(1, 8, 3, 1, 1, true, &mut rng).unwrap();
    let bn = BatchNorm2d::new(8).unwrap();
    let head = Linear::new(8 * 4 * 4, 4, true, &mut rng).unwrap();
    let forward = |x: &Tensor, train: bool| -> Tensor {
        // conv → BN → ReLU → max-pool → linear
        let h = bn
            .forward(&conv.forward(x).unwrap(), train)
            .unwrap()
            .relu()
            .unwrap();
        let h = h.max_pool2d(2, 2, 0).unwrap();
        head.forward(&h.reshape(&[x.dim(0), 128]).unwrap()).unwrap()
    };
    let mut params = conv.parameters();
    params.extend(bn.parameters());
    params.extend(head.parameters());
    let (first_loss, acc) = train(params, 120, 0.02, &x, &ys, &forward);
    assert!(
        acc >= 0.9,
        "CNN training accuracy {acc} (first loss {first_loss})"
    );
}

#[test]
fn one_block_transformer_learns_synthetic_images() {
    use fastshap::nn::{Block, LayerNorm, Linear, Module, QkvLayout, init_rng, layers::normal};
    use fastshap::ops::plumbing::concat;
    let (xs, ys) = pattern_images(128, 12);
    let x = Tensor::from_slice(&xs, &[128, 1, 8, 8]).unwrap();
    let mut rng = init_rng(4);
    let d = 32;
    let embed = Linear::new(4, d, true, &mut rng).unwrap(); // 2×2 patches of 1 channel
    let cls = normal(&[1, 1, d], 0.02, &mut rng).unwrap();
    let pos = normal(&[1, 17, d], 0.02, &mut rng).unwrap();
    let block = Block::new(d, 4, 2 * d, QkvLayout::Separate, &mut rng).unwrap();
    let norm = LayerNorm::new(d).unwrap();
    let head = Linear::new(d, 4, true, &mut rng).unwrap();
    let forward = |x: &Tensor, _train: bool| -> Tensor {
        // patchify → embed → [CLS; tokens] + pos → attention block → LN → CLS head
        let b = x.dim(0);
        let t = embed.forward(&x.patchify(2).unwrap()).unwrap();
        let c = cls.broadcast_to(&[b, 1, d]).unwrap();
        let h = concat(&[&c, &t], 1).unwrap().add(&pos).unwrap();
        let h = norm.forward(&block.forward(&h).unwrap()).unwrap();
        head.forward(&h.narrow(1, 0, 1).unwrap().reshape(&[b, d]).unwrap())
            .unwrap()
    };
    let mut params = embed.parameters();
    params.extend([cls.clone(), pos.clone()]);
    params.extend(block.parameters());
    params.extend(norm.parameters());
    params.extend(head.parameters());
    let (first_loss, acc) = train(params, 150, 0.01, &x, &ys, &forward);
    assert!(
        acc >= 0.9,
        "transformer training accuracy {acc} (first loss {first_loss})"
    );
}
