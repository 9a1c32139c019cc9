use crate::helper::{Init, assert_close, random_values, seed};
use fastshap::Tensor;
use fastshap::ops::optim::{Adam, Method, Optimizer, Sgd, clip_grad_norm};
use rand::SeedableRng;

/// Awkward parameter shapes: none a multiple of the 256-wide workgroup.
const SHAPES: [&[usize]; 3] = [&[7, 10], &[257], &[3, 5, 2]];
const STEPS: usize = 4;

/// One parameter on the CPU in f64: value, state (momentum buffer / exp_avg, exp_avg_sq) and
/// its own step count.
struct CpuParam {
    p: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
    t: u64,
}

/// The update formulas of torch.optim.{SGD, Adam, AdamW} (their documented pseudo-code).
fn cpu_step(method: Method, lr: f64, c: &mut CpuParam, g: &[f64]) {
    c.t += 1;
    let t = c.t as i32;
    for (i, &gi) in g.iter().enumerate() {
        let w = c.p[i];
        match method {
            Method::Sgd(s) => {
                let (mu, damp) = (s.momentum as f64, s.dampening as f64);
                let mut d = gi + s.weight_decay as f64 * w;
                if mu != 0.0 {
                    c.s1[i] = if t == 1 {
                        d
                    } else {
                        mu * c.s1[i] + (1.0 - damp) * d
                    };
                    d = if s.nesterov {
                        d + mu * c.s1[i]
                    } else {
                        c.s1[i]
                    };
                }
                c.p[i] = w - lr * d;
            }
            Method::Adam(a) | Method::AdamW(a) => {
                let (b1, b2, eps, wd) = (
                    a.betas.0 as f64,
                    a.betas.1 as f64,
                    a.eps as f64,
                    a.weight_decay as f64,
                );
                let mut gi = gi;
                let mut w = w;
                if matches!(method, Method::AdamW(_)) {
                    w *= 1.0 - lr * wd;
                } else {
                    gi += wd * w;
                }
                c.s1[i] = b1 * c.s1[i] + (1.0 - b1) * gi;
                c.s2[i] = b2 * c.s2[i] + (1.0 - b2) * gi * gi;
                let m_hat = c.s1[i] / (1.0 - b1.powi(t));
                let v_hat = c.s2[i] / (1.0 - b2.powi(t));
                c.p[i] = w - lr * m_hat / (v_hat.sqrt() + eps);
            }
        }
    }
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Runs `method` for STEPS steps on random parameters and gradients, on the GPU and in f64 on
/// the CPU, and compares parameters, the change in parameters and the state. Along the way:
/// parameter 1 has no gradient at step 1 (skipped: value, state and step count unchanged), and
/// the learning rate changes at step 2.
fn check_optimizer(name: &str, method: Method, lr: f32) {
    fastshap::gpu::ctx().set_poison(true);
    let seed = seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let init: Vec<Vec<f32>> = SHAPES
        .iter()
        .map(|s| random_values(s, &Init::Normal, &mut rng))
        .collect();
    let params: Vec<Tensor> = SHAPES
        .iter()
        .zip(&init)
        .map(|(s, v)| Tensor::from_slice(v, s).unwrap().param())
        .collect();
    let mut cpu: Vec<CpuParam> = init
        .iter()
        .map(|v| CpuParam {
            p: f64s(v),
            s1: vec![0.0; v.len()],
            s2: vec![0.0; v.len()],
            t: 0,
        })
        .collect();
    let mut opt = Optimizer::new(params.clone(), lr, method).unwrap();
    let mut lr = lr;
    for step in 0..STEPS {
        if step == 2 {
            lr *= 0.5;
            opt.set_lr(lr);
        }
        for (k, (p, s)) in params.iter().zip(SHAPES).enumerate() {
            if step == 1 && k == 1 {
                p.set_grad(None);
                continue;
            }
            let g = random_values(s, &Init::Normal, &mut rng);
            p.set_grad(Some(Tensor::from_slice(&g, s).unwrap()));
            cpu_step(method, lr as f64, &mut cpu[k], &f64s(&g));
        }
        opt.step().unwrap();
    }
    for (k, p) in params.iter().enumerate() {
        let what = format!("{name} param {k} {:?}", SHAPES[k]);
        assert_eq!(opt.steps(k), cpu[k].t, "{what}: step count");
        let got = p.to_vec().unwrap();
        assert_close(&what, &got, &cpu[k].p, 1e-4, seed);
        // The change alone, so that a wrong update cannot hide behind the parameter's size.
        // Judged against the largest change (not element by element): each step rounds the
        // parameter to f32 (≈ 6e-8·|p|), which is a large part of a change that happens to be
        // tiny, but at most ~1e-6 of the largest change with lr = 0.1.
        let dwant: Vec<f64> = cpu[k]
            .p
            .iter()
            .zip(&init[k])
            .map(|(a, &b)| a - b as f64)
            .collect();
        let scale = dwant.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = got
            .iter()
            .zip(&init[k])
            .zip(&dwant)
            .map(|((&a, &b), w)| ((a as f64 - b as f64) - w).abs())
            .fold(0.0f64, f64::max);
        assert!(
            worst <= 1e-5 * scale,
            "{what} change: error {worst:.3e} vs largest change {scale:.3e} [seed {seed}]"
        );
        let state = opt.state(k);
        let want_state: Vec<&Vec<f64>> = match method {
            Method::Sgd(s) if s.momentum == 0.0 => vec![],
            Method::Sgd(_) => vec![&cpu[k].s1],
            _ => vec![&cpu[k].s1, &cpu[k].s2],
        };
        assert_eq!(state.len(), want_state.len(), "{what}: state tensors");
        for (j, (st, want)) in state.iter().zip(want_state).enumerate() {
            let got = st.to_vec().unwrap();
            assert_close(&format!("{what} state {j}"), &got, want, 1e-4, seed);
        }
    }
}

#[test]
fn optim_sgd() {
    let cases = [
        Sgd::default(),
        Sgd {
            weight_decay: 0.1,
            ..Sgd::default()
        },
        Sgd {
            momentum: 0.9,
            ..Sgd::default()
        },
        Sgd {
            momentum: 0.8,
            dampening: 0.3,
            weight_decay: 0.05,
            nesterov: false,
        },
        Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
            ..Sgd::default()
        },
    ];
    for s in cases {
        check_optimizer(&format!("{s:?}"), Method::Sgd(s), 0.1);
    }
}

#[test]
fn optim_adam_and_adamw() {
    let wd = Adam {
        weight_decay: 0.1,
        ..Adam::default()
    };
    let odd = Adam {
        betas: (0.8, 0.95),
        eps: 1e-3,
        weight_decay: 0.05,
    };
    for a in [Adam::default(), wd, odd] {
        check_optimizer(&format!("Adam {a:?}"), Method::Adam(a), 0.1);
    }
    for a in [Adam::adamw(), wd, odd] {
        check_optimizer(&format!("AdamW {a:?}"), Method::AdamW(a), 0.1);
    }
}

#[test]
fn optim_zero_grad_and_validation() {
    let p = Tensor::from_slice(&[1.0, 2.0, 3.0], &[3]).unwrap().param();
    let opt = Optimizer::adam(vec![p.clone()], 1e-3, Adam::default()).unwrap();
    p.set_grad(Some(Tensor::ones(&[3]).unwrap()));
    opt.zero_grad();
    assert!(p.grad().is_none());
    let not_leaf = Tensor::ones(&[3]).unwrap();
    assert!(Optimizer::adam(vec![not_leaf], 1e-3, Adam::default()).is_err());
    let bad = Sgd {
        nesterov: true,
        ..Sgd::default()
    };
    assert!(Optimizer::sgd(vec![p], 0.1, bad).is_err());
}

/// clip_grad_norm against the CPU: total norm over all gradients, scale min(1, max/(norm+1e-6)).
#[test]
fn optim_clip_grad_norm() {
    fastshap::gpu::ctx().set_poison(true);
    let seed = seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // A gradient longer than one 256-value chunk, several chunks, and a parameter with none.
    let shapes: [&[usize]; 4] = [&[7, 10], &[3, 257], &[1], &[5]];
    for max_norm in [1.0f32, 1e4] {
        let params: Vec<Tensor> = shapes
            .iter()
            .map(|s| Tensor::zeros(s).unwrap().param())
            .collect();
        let mut grads = vec![];
        for (k, (p, s)) in params.iter().zip(shapes).enumerate() {
            if k == 3 {
                continue;
            }
            let g = random_values(s, &Init::Normal, &mut rng);
            p.set_grad(Some(Tensor::from_slice(&g, s).unwrap()));
            grads.push(f64s(&g));
        }
        let total = grads.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        let coef = (max_norm as f64 / (total + 1e-6)).min(1.0);
        let norm = clip_grad_norm(&params, max_norm).unwrap();
        assert_eq!(norm.shape(), &[] as &[usize]);
        assert_close("total norm", &[norm.item().unwrap()], &[total], 1e-5, seed);
        for (k, want) in grads.iter().enumerate() {
            let got = params[k].grad().unwrap().to_vec().unwrap();
            let want: Vec<f64> = want.iter().map(|v| v * coef).collect();
            assert_close(&format!("clipped grad {k}"), &got, &want, 1e-5, seed);
        }
        assert!(params[3].grad().is_none());
    }
}

#[test]
fn optim_clip_shared_gradient_scaled_once() {
    // (a + b).sum() hands a and b the same gradient tensor: each must be scaled exactly once.
    let a = Tensor::zeros(&[4]).unwrap().param();
    let b = Tensor::zeros(&[4]).unwrap().param();
    a.add(&b).unwrap().sum_all().unwrap().backward().unwrap();
    let norm = clip_grad_norm(&[a.clone(), b.clone()], 1.0).unwrap();
    assert!((norm.item().unwrap() - 8f32.sqrt()).abs() < 1e-6);
    for p in [a, b] {
        let g = p.grad().unwrap().to_vec().unwrap();
        let want = 1.0 / (8f32.sqrt() + 1e-6);
        assert!(g.iter().all(|&v| (v - want).abs() < 1e-6), "{g:?}");
    }
}
