//! Shapley machinery: samplers (chi-square), exact Shapley axioms, KernelSHAP against exact
//! values, inclusion/exclusion curves on games with known answers, metrics against hand-computed
//! values, attention rollout against a host reference, and games backed by real models.

use fastshap::Tensor;
use fastshap::models::{Mae, MaeClassifier, MaeConfig, ResNet, ResNetConfig, Vit, VitConfig};
use fastshap::nn::{InitRng, MultiHeadAttention, QkvLayout, init_rng};
use fastshap::no_grad;
use fastshap::shap::exact::exact_shapley;
use fastshap::shap::game::{
    Game, LinearGame, Link, RestrictedGame, SurrogateGame, TableGame, coalition_mask,
};
use fastshap::shap::inclusion_exclusion::{self, Mode};
use fastshap::shap::kernelshap::{CHECK_GROWTH, KernelShapConfig, kernel_shap};
use fastshap::shap::metrics;
use fastshap::shap::rollout::{attention_rollout, attention_rollout_host};
use fastshap::shap::sampler::{ShapleySampler, UniformSizeSampler, shapley_size_probs};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "{what}[{i}]: {x} vs {y} (tol {tol})");
    }
}

fn chi_square(observed: &[f64], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum()
}

// --- samplers -------------------------------------------------------------------------------

#[test]
fn shapley_sizes_follow_the_kernel() {
    // 50k pairs; the first mask's size must follow 1/(k(P−k)). df = P − 2 = 8; the 0.1% critical
    // value of χ²(8) is 26.12.
    let p = 10;
    let n = 50_000;
    let masks = ShapleySampler::new(p, 7).sample_paired(n);
    let mut counts = vec![0f64; p - 1];
    for pair in masks.chunks(2 * p) {
        let k = pair[..p].iter().filter(|&&x| x == 1.0).count();
        assert!((1..p).contains(&k));
        counts[k - 1] += 1.0;
        // Each mask is followed by its complement.
        for i in 0..p {
            assert_eq!(pair[i] + pair[p + i], 1.0);
        }
    }
    let expected: Vec<f64> = shapley_size_probs(p).iter().map(|q| q * n as f64).collect();
    let chi = chi_square(&counts, &expected);
    assert!(
        chi < 26.12,
        "χ² = {chi} for sizes {counts:?} vs {expected:?}"
    );
    // The kernel in closed form: q_k ∝ 1/(k(P−k)).
    let q = shapley_size_probs(p);
    assert!((q[0] / q[4] - (5.0 * 5.0) / 9.0).abs() < 1e-12);
}

#[test]
fn shapley_subsets_are_uniform_given_size() {
    // Given |S| = k, every player is in S with probability k/P: χ² over positions, df = P − 1
    // (0.1% critical value of χ²(11) is 31.26).
    let p = 12;
    let masks = ShapleySampler::new(p, 3).sample_paired(50_000);
    for k in [1, 3, 6] {
        let mut pos = vec![0f64; p];
        let mut rows = 0f64;
        for row in masks.chunks(p) {
            if row.iter().filter(|&&x| x == 1.0).count() == k {
                rows += 1.0;
                for (c, &x) in pos.iter_mut().zip(row) {
                    *c += x as f64;
                }
            }
        }
        let expected = vec![rows * k as f64 / p as f64; p];
        let chi = chi_square(&pos, &expected);
        assert!(chi < 31.26, "k = {k}: χ² = {chi}, counts {pos:?}");
    }
}

#[test]
fn uniform_sampler_sizes_are_uniform() {
    // df = P (sizes 0…P, P + 1 cells); χ²(16) 0.1% critical value 39.25.
    let p = 16;
    let n = 50_000;
    let masks = UniformSizeSampler::new(p, 11).sample(n);
    let mut counts = vec![0f64; p + 1];
    for row in masks.chunks(p) {
        counts[row.iter().filter(|&&x| x == 1.0).count()] += 1.0;
    }
    let chi = chi_square(&counts, &vec![n as f64 / (p + 1) as f64; p + 1]);
    assert!(chi < 39.25, "χ² = {chi}, counts {counts:?}");
}

// --- exact Shapley --------------------------------------------------------------------------

#[test]
fn exact_shapley_axioms() {
    let (p, k) = (9, 3);
    let g = TableGame::random(p, k, 1);
    let s = exact_shapley(&g, 100).unwrap();
    // Efficiency.
    for o in 0..k {
        let sum: f64 = s.column(o).iter().sum();
        assert!(
            (sum - (s.grand[o] - s.null[o])).abs() < 1e-9,
            "efficiency, output {o}"
        );
    }
    // Symmetry and dummy.
    let g = TableGame::random_structured(p, k, 2, &[4], &[(0, 7), (2, 3)]);
    let s = exact_shapley(&g, 64).unwrap();
    for o in 0..k {
        let c = s.column(o);
        assert!(c[4].abs() < 1e-9, "dummy player has φ = {}", c[4]);
        assert!((c[0] - c[7]).abs() < 1e-9 && (c[2] - c[3]).abs() < 1e-9);
        assert!(
            (c[0] - c[1]).abs() > 1e-6,
            "non-symmetric players should differ"
        );
    }
    // Linearity: φ(2u − 3w) = 2φ(u) − 3φ(w).
    let (u, w) = (TableGame::random(p, k, 3), TableGame::random(p, k, 4));
    let (su, sw) = (
        exact_shapley(&u, 512).unwrap(),
        exact_shapley(&w, 512).unwrap(),
    );
    let sc = exact_shapley(&u.combine(2.0, &w, -3.0), 512).unwrap();
    let want: Vec<f64> = su
        .phi
        .iter()
        .zip(&sw.phi)
        .map(|(a, b)| 2.0 * a - 3.0 * b)
        .collect();
    // Values pass through the game as f32: the combined table is rounded on its own.
    assert_close(&sc.phi, &want, 1e-5, "linearity");
}

#[test]
fn exact_shapley_of_a_linear_game() {
    let g = LinearGame::random(11, 4, 5);
    let s = exact_shapley(&g, 300).unwrap();
    assert_close(&s.phi, &g.shapley(), 1e-5, "φ = w·x");
}

// --- KernelSHAP -----------------------------------------------------------------------------

#[test]
fn kernelshap_is_exact_on_a_linear_game() {
    // v(z) − v(0) = zᵀβ for every sample, so b̄ = Āβ and the regression recovers β exactly.
    let g = LinearGame::random(20, 3, 9);
    let cfg = KernelShapConfig {
        batch_pairs: 128,
        max_evals: 2_000,
        ..KernelShapConfig::default()
    };
    let r = kernel_shap(&g, &cfg).unwrap();
    assert_close(&r.phi, &g.shapley(), 2e-5, "KernelSHAP on a linear game");
    assert!(r.evaluations <= 2_002);
}

#[test]
fn kernelshap_convergence_judges_only_the_explained_output() {
    // Output 0 is additive (Shapley values well above the sampling noise); output 1 is pure
    // noise, like a class the model rules out: its φ has a tiny range, so the relative rule needs
    // far more samples. Judging output 0 alone must converge fast, with output 0 still accurate.
    let p = 10;
    let noise = TableGame::random(p, 1, 3);
    let g = TableGame::from_fn(p, 2, |s, o| {
        if o == 0 {
            (0..p)
                .map(|i| ((s >> i) & 1) as f64 * (i as f64 - 4.5))
                .sum()
        } else {
            noise.values[s]
        }
    });
    let exact = exact_shapley(&g, 1024).unwrap();
    let run = |target| {
        kernel_shap(
            &g,
            &KernelShapConfig {
                batch_pairs: 64,
                threshold: 0.02,
                max_evals: 60_000,
                seed: 4,
                target,
                relative_se: 0.0,
            },
        )
        .unwrap()
    };
    let (one, all) = (run(Some(0)), run(None));
    eprintln!(
        "explained output only: {} evaluations; every output: {} (converged {})",
        one.evaluations, all.evaluations, all.converged
    );
    assert!(one.converged);
    assert!(
        4 * one.evaluations < all.evaluations,
        "{} vs {}",
        one.evaluations,
        all.evaluations
    );
    for i in 0..p {
        let e = (one.phi[i * 2] - exact.phi[i * 2]).abs();
        assert!(e < 0.05 * 9.0, "player {i}: error {e}");
    }
    let bad = KernelShapConfig {
        target: Some(2),
        ..KernelShapConfig::default()
    };
    let err = kernel_shap(&g, &bad).unwrap_err().to_string();
    assert!(err.contains("target output 2"), "{err}");
}

#[test]
fn kernelshap_converges_to_exact_values() {
    for (p, seed) in [(8, 1u64), (10, 2), (12, 3)] {
        let g = TableGame::random(p, 3, 100 + seed);
        let exact = exact_shapley(&g, 4096).unwrap();
        let cfg = KernelShapConfig {
            threshold: 0.05,
            seed,
            ..KernelShapConfig::default()
        };
        let t = Instant::now();
        let r = kernel_shap(&g, &cfg).unwrap();
        assert!(
            r.converged,
            "P = {p} did not converge in {} evals",
            r.evaluations
        );
        let mut worst = 0f64;
        for i in 0..r.phi.len() {
            let z = (r.phi[i] - exact.phi[i]).abs() / r.std[i];
            worst = worst.max(z);
        }
        eprintln!(
            "P = {p}: {} evaluations, worst |error|/std = {worst:.2}, {:.2?}",
            r.evaluations,
            t.elapsed()
        );
        // 36 estimates at most: 4.5 standard errors is a loose but meaningful bound.
        assert!(worst < 4.5, "P = {p}: error {worst} standard errors");
        // Efficiency holds by construction.
        for o in 0..3 {
            let sum: f64 = (0..p).map(|i| r.phi[i * 3 + o]).sum();
            assert!((sum - (r.grand[o] - r.null[o])).abs() < 1e-9);
        }
    }
}

// --- curves ---------------------------------------------------------------------------------

/// Two classes with log-odds b + Σ_{i∈S} w_i for class 0: outputs (p, 1 − p).
struct LogisticGame {
    w: Vec<f64>,
    b: f64,
}

impl Game for LogisticGame {
    fn players(&self) -> usize {
        self.w.len()
    }
    fn outputs(&self) -> usize {
        2
    }
    fn eval(&self, masks: &[f32]) -> anyhow::Result<Vec<f32>> {
        Ok(masks
            .chunks(self.w.len())
            .flat_map(|m| {
                let z: f64 = self.b
                    + m.iter()
                        .zip(&self.w)
                        .map(|(&a, w)| a as f64 * w)
                        .sum::<f64>();
                let p = 1.0 / (1.0 + (-z).exp());
                [p as f32, (1.0 - p) as f32]
            })
            .collect())
    }
}

#[test]
fn curves_on_a_logistic_game() {
    // 20 players with weights 2.0, 1.8, …, −1.8 and bias −0.5: φ = w ranks them exactly.
    let w: Vec<f64> = (0..20).map(|i| 2.0 - 0.2 * i as f64).collect();
    let g = LogisticGame {
        w: w.clone(),
        b: -0.5,
    };
    let pct = inclusion_exclusion::PERCENTAGES;
    for mode in [Mode::Inclusion, Mode::Exclusion] {
        let c = inclusion_exclusion::curve(&g, &w, 0, &pct, mode, true).unwrap();
        assert_eq!(c.x.len(), 13);
        assert_eq!((c.x[0], c.x[12]), (0.0, 1.0));
        // By hand: the top m = round(q·20) players are the first m weights.
        let total: f64 = w.iter().sum();
        for (j, &q) in c.x.iter().enumerate() {
            let m = (q * 20.0).round() as usize;
            let top: f64 = w[..m].iter().sum();
            let z = -0.5
                + if mode == Mode::Inclusion {
                    top
                } else {
                    total - top
                };
            assert!(
                (c.log_odds[j] - z).abs() < 1e-4,
                "{mode:?} q = {q}: {} vs {z}",
                c.log_odds[j]
            );
            // (At z = 0 the classes tie and the lower index, class 0, wins, as in argmax.)
            if z.abs() > 1e-6 {
                assert_eq!(c.top1[j], (z > 0.0) as u8 as f64, "{mode:?} q = {q}");
            }
        }
        let auc = c.top1_auc();
        let want = inclusion_exclusion::trapezoid(&c.x, &c.top1);
        assert_eq!(auc, want);
    }
    // By hand: m = round(q·20) = 0, 0, 1, 2, 3, 5, 10, 15, 17, 18, 19, 19, 20 players. Inclusion:
    // log-odds −0.5 for m = 0, and every prefix sum of w is ≥ 2 (the total), so class 0 from
    // 5% on: AUC = ½·0.04 + 0.95 = 0.97. Exclusion: the remainders Σ w[m..] − 0.5 are
    // 1.5, 1.5, −0.5, −2.3, −3.9, … (negative once anything positive is removed), 0 at m = 20
    // in the sum but −0.5 with the bias: class 0 only at 0% and 1%: AUC = 0.01 + ½·0.04 = 0.03.
    let inc = inclusion_exclusion::curve(&g, &w, 0, &pct, Mode::Inclusion, true).unwrap();
    assert_eq!(
        inc.top1,
        [0., 0., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.]
    );
    assert!((inc.top1_auc() - 0.97).abs() < 1e-12);
    let exc = inclusion_exclusion::curve(&g, &w, 0, &pct, Mode::Exclusion, true).unwrap();
    assert_eq!(
        exc.top1,
        [1., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.]
    );
    assert!((exc.top1_auc() - 0.03).abs() < 1e-12);
    // A good ranking beats the reversed one on inclusion and loses on exclusion.
    let rev: Vec<f64> = w.iter().map(|x| -x).collect();
    let lo = |phi: &[f64], m| {
        inclusion_exclusion::curve(&g, phi, 0, &pct, m, true)
            .unwrap()
            .log_odds_auc()
    };
    assert!(lo(&w, Mode::Inclusion) > lo(&rev, Mode::Inclusion));
    assert!(lo(&w, Mode::Exclusion) < lo(&rev, Mode::Exclusion));
    // Without endpoints the x axis is the eleven percentages.
    let c = inclusion_exclusion::curve(&g, &w, 0, &pct, Mode::Inclusion, false).unwrap();
    assert_eq!(c.x.len(), 11);
    assert!((c.top1_auc() - (0.5 * 0.04 + 0.94)).abs() < 1e-12);
}

#[test]
fn curve_report_and_bootstrap() {
    let games: Vec<LogisticGame> = (0..6)
        .map(|s| LogisticGame {
            w: (0..16)
                .map(|i| ((i * 7 + s * 3) % 11) as f64 - 5.0)
                .collect(),
            b: 0.0,
        })
        .collect();
    let items: Vec<(&dyn Game, &[f64], usize)> = games
        .iter()
        .map(|g| (g as &dyn Game, g.w.as_slice(), 0))
        .collect();
    let r = inclusion_exclusion::evaluate(&items, Mode::Inclusion, true, 1000, 5).unwrap();
    assert_eq!(r.curves.len(), 6);
    let mean = r.log_odds.per_image.iter().sum::<f64>() / 6.0;
    assert!((r.log_odds.mean - mean).abs() < 1e-12);
    assert!(
        r.log_odds.ci.0 <= mean && mean <= r.log_odds.ci.1,
        "{:?}",
        r.log_odds
    );
    // Seeded: same seed, same interval; a constant sample has a degenerate interval.
    let again = inclusion_exclusion::evaluate(&items, Mode::Inclusion, true, 1000, 5).unwrap();
    assert_eq!(r.log_odds.ci, again.log_odds.ci);
    assert_eq!(
        inclusion_exclusion::bootstrap_ci(&[0.5; 10], 200, 0.95, 1),
        (0.5, 0.5)
    );
    // Interval of the mean shrinks like 1/√n: 0/1 data with p = ½ has std of mean ½/√n.
    let coin: Vec<f64> = (0..400).map(|i| (i % 2) as f64).collect();
    let (lo, hi) = inclusion_exclusion::bootstrap_ci(&coin, 2000, 0.95, 3);
    let half = (hi - lo) / 2.0;
    assert!((half - 1.96 * 0.5 / 20.0).abs() < 0.01, "half width {half}");
}

// --- metrics --------------------------------------------------------------------------------

#[test]
fn metrics_match_hand_computed_values() {
    assert!((metrics::l2(&[0.0, 0.0], &[3.0, 4.0]) - 5.0).abs() < 1e-12);
    // Σdxdy = 3, Σdx² = 2, Σdy² = 42/9.
    let r = metrics::pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0]);
    assert!((r - 3.0 / (2.0f64 * 42.0 / 9.0).sqrt()).abs() < 1e-12);
    assert_eq!(
        metrics::average_ranks(&[1.0, 2.0, 2.0, 3.0]),
        [1.0, 2.5, 2.5, 4.0]
    );
    assert_eq!(metrics::average_ranks(&[5.0, 1.0, 5.0]), [2.5, 1.0, 2.5]);
    // Ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4]: 4.5 / √(4.5·5).
    let s = metrics::spearman(&[1.0, 2.0, 2.0, 3.0], &[10.0, 20.0, 30.0, 40.0]);
    assert!((s - 4.5 / 22.5f64.sqrt()).abs() < 1e-12);
    // Monotone but non-linear: Spearman 1, Pearson below 1.
    let (a, b) = ([1.0, 2.0, 3.0, 4.0], [1.0, 8.0, 27.0, 64.0]);
    assert!((metrics::spearman(&a, &b) - 1.0).abs() < 1e-12);
    assert!(metrics::pearson(&a, &b) < 0.99);
    let truth = [5.0, -4.0, 0.1, -3.0];
    let est = [1.0, 1.0, -1.0, -1.0];
    assert_eq!(metrics::sign_agreement(&est, &truth, 2), 0.5);
    assert!((metrics::sign_agreement(&est, &truth, 3) - 2.0 / 3.0).abs() < 1e-12);
    // Two classes, player-major layout: class 0 = (est, truth) above, class 1 identical.
    let (p, k) = (4, 2);
    let mut e2 = vec![0.0; p * k];
    let mut t2 = vec![0.0; p * k];
    for i in 0..p {
        e2[i * k] = est[i];
        t2[i * k] = truth[i];
        e2[i * k + 1] = truth[i];
        t2[i * k + 1] = truth[i];
    }
    let e = metrics::errors(&e2, &t2, p, k, 2);
    assert!((e.l2 - metrics::l2(&est, &truth) / 2.0).abs() < 1e-12);
    assert!((e.pearson - (metrics::pearson(&est, &truth) + 1.0) / 2.0).abs() < 1e-12);
    assert!((e.sign_agreement - 0.75).abs() < 1e-12);
    let m = metrics::mean_errors(&[e, e]);
    assert!((m.spearman - e.spearman).abs() < 1e-12);
}

// --- attention rollout ----------------------------------------------------------------------

fn random_attention(b: usize, h: usize, t: usize, seed: u64) -> Tensor {
    let _g = no_grad();
    Tensor::randn(&[b, h, t, t], seed)
        .unwrap()
        .mul_scalar(2.0)
        .unwrap()
        .softmax()
        .unwrap()
}

#[test]
fn rollout_matches_host_reference() {
    let (b, h, t) = (2, 3, 17);
    let layers: Vec<Tensor> = (0..4).map(|l| random_attention(b, h, t, 40 + l)).collect();
    let map = attention_rollout(&layers).unwrap();
    assert_eq!(map.shape(), [b, 4, 4]);
    let host: Vec<Vec<f32>> = layers.iter().map(|a| a.to_vec().unwrap()).collect();
    let want = attention_rollout_host(&host, b, h, t);
    let got: Vec<f64> = map.to_vec().unwrap().iter().map(|&x| x as f64).collect();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(1e-3), "{g} vs {w}");
    }
}

#[test]
fn attention_probs_reproduce_the_attention_output() {
    // proj_out(P·V) with the recomputed probabilities P must equal the fused forward.
    let mut rng: InitRng = init_rng(3);
    let _g = no_grad();
    let (b, t, d, h) = (2, 7, 12, 3);
    let mha = MultiHeadAttention::new(d, h, QkvLayout::Separate, &mut rng).unwrap();
    let x = Tensor::randn(&[b, t, d], 8).unwrap();
    let probs = mha.attention_probs(&x).unwrap();
    assert_eq!(probs.shape(), [b, h, t, t]);
    let v = mha.proj_in[2]
        .forward(&x)
        .unwrap()
        .reshape(&[b, t, h, d / h])
        .unwrap()
        .permute(&[0, 2, 1, 3])
        .unwrap();
    let o = probs
        .matmul(&v)
        .unwrap()
        .permute(&[0, 2, 1, 3])
        .unwrap()
        .reshape(&[b, t, d])
        .unwrap();
    let want = mha.proj_out.forward(&o).unwrap().to_vec().unwrap();
    let got = mha.forward(&x).unwrap().to_vec().unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{g} vs {w}");
    }
    for row in probs.to_vec().unwrap().chunks(t) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn vit_and_mae_attention_maps_roll_out() {
    let mut rng = init_rng(4);
    let _g = no_grad();
    let cfg = VitConfig {
        in_channels: 4,
        classes: 10,
        image: 32,
        patch: 8,
        dim: 16,
        mlp: 16,
        heads: 2,
        depth: 2,
    };
    let vit = Vit::new(cfg, &mut rng).unwrap();
    let x = Tensor::randn(&[2, 4, 32, 32], 5).unwrap();
    let before = vit.forward(&x, false).unwrap().to_vec().unwrap();
    let maps = vit.attention_maps(&x).unwrap();
    assert_eq!(maps.len(), 2);
    assert_eq!(maps[0].shape(), [2, 2, 17, 17]);
    let roll = attention_rollout(&maps).unwrap();
    assert_eq!(roll.shape(), [2, 4, 4]);
    let host: Vec<Vec<f32>> = maps.iter().map(|a| a.to_vec().unwrap()).collect();
    let want = attention_rollout_host(&host, 2, 2, 17);
    for (g, w) in roll.to_vec().unwrap().iter().zip(&want) {
        assert!((*g as f64 - w).abs() <= 1e-4 * w.abs().max(1e-3));
    }
    // Collecting the maps leaves the forward unchanged.
    assert_eq!(vit.forward(&x, false).unwrap().to_vec().unwrap(), before);

    let mcfg = MaeConfig {
        in_channels: 3,
        image: 8,
        patch: 2,
        dim: 8,
        heads: 2,
        mlp: 8,
        encoder_depth: 2,
        decoder_depth: 1,
        mask_ratio: 0.75,
    };
    let clf = MaeClassifier::from_mae(Mae::new(mcfg, &mut rng).unwrap(), 10, &mut rng).unwrap();
    let img = Tensor::randn(&[1, 3, 8, 8], 6).unwrap();
    let maps = clf.attention_maps(&img).unwrap();
    assert_eq!(maps.len(), 2);
    assert_eq!(maps[1].shape(), [1, 2, 17, 17]);
    assert_eq!(attention_rollout(&maps).unwrap().shape(), [1, 4, 4]);
}

// --- games backed by models -----------------------------------------------------------------

#[test]
fn link_functions() {
    let logits = [1.0f32, 2.0, -0.5];
    let z: f64 = logits.iter().map(|&x| (x as f64).exp()).sum();
    let p: Vec<f64> = logits.iter().map(|&x| (x as f64).exp() / z).collect();
    let mut out = [0f32; 3];
    for (link, want) in [
        (Link::Softmax, p.clone()),
        (Link::LogSoftmax, p.iter().map(|q| q.ln()).collect()),
        (
            Link::Logit,
            p.iter().map(|q| q.ln() - (1.0 - q).ln()).collect(),
        ),
        (Link::Identity, logits.iter().map(|&x| x as f64).collect()),
    ] {
        link.apply(&logits, &mut out);
        for (o, w) in out.iter().zip(&want) {
            assert!((*o as f64 - w).abs() < 1e-6, "{link:?}: {o} vs {w}");
        }
    }
    // Saturated logits keep finite log-odds.
    Link::Logit.apply(&[40.0, 0.0], &mut out[..2]);
    assert!((out[0] - 40.0).abs() < 1e-4);
}

#[test]
fn surrogate_game_with_a_linear_surrogate_is_exactly_additive() {
    // logits = flatten(masked input) · W: linear in the mask, so φ_{i,k} is the sum over player
    // i's pixels of image·W (C channels) plus W's mask-channel weight — checks the player layout.
    let (c, hw, s, k) = (3, 8, 2, 3);
    let p = (hw / s) * (hw / s);
    let feat = (c + 1) * hw * hw;
    let w: Vec<f32> = (0..feat * k)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 100.0)
        .collect();
    let img: Vec<f32> = (0..c * hw * hw)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 50.0)
        .collect();
    let wt = Tensor::from_slice(&w, &[feat, k]).unwrap();
    let surrogate = |x: &Tensor| x.reshape(&[x.dim(0), feat])?.matmul(&wt);
    let image = Tensor::from_slice(&img, &[1, c, hw, hw]).unwrap();
    let game = SurrogateGame::new(&surrogate, image, s, Link::Identity, 1000).unwrap();
    assert_eq!((game.players(), game.outputs()), (p, k));
    let exact = exact_shapley(&game, 4096).unwrap();
    let mut want = vec![0f64; p * k];
    for ch in 0..=c {
        for y in 0..hw {
            for x in 0..hw {
                let player = (y / s) * (hw / s) + x / s;
                let v = if ch < c {
                    img[(ch * hw + y) * hw + x] as f64
                } else {
                    1.0
                };
                for o in 0..k {
                    want[player * k + o] += v * w[((ch * hw + y) * hw + x) * k + o] as f64;
                }
            }
        }
    }
    assert_close(&exact.phi, &want, 1e-4, "linear surrogate");
}

fn tiny_resnet(seed: u64) -> ResNet {
    let mut rng = init_rng(seed);
    let cfg = ResNetConfig {
        in_channels: 4,
        classes: 10,
        widths: [4, 4, 4, 4],
        blocks: [1, 1, 1, 1],
    };
    ResNet::new(cfg, &mut rng).unwrap()
}

/// Exact Shapley (efficiency) and KernelSHAP against it on a random-weight ResNet surrogate.
fn check_resnet_game(game: &dyn Game) {
    let (p, k) = (game.players(), game.outputs());
    let t = Instant::now();
    let exact = exact_shapley(game, 4096).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let n = (1u64 << p) as f64;
    eprintln!(
        "exact Shapley, P = {p}: {n} evaluations in {secs:.1} s ({:.0}/s)",
        n / secs
    );
    for o in 0..k {
        let sum: f64 = exact.column(o).iter().sum();
        let total = exact.grand[o] - exact.null[o];
        assert!(
            (sum - total).abs() < 1e-6 * total.abs().max(1.0),
            "efficiency, class {o}"
        );
    }
    let t = Instant::now();
    let cfg = KernelShapConfig {
        batch_pairs: 512,
        threshold: 0.05,
        max_evals: 40_000,
        seed: 1,
        target: None,
        relative_se: 0.0,
    };
    let r = kernel_shap(game, &cfg).unwrap();
    let mut worst = 0f64;
    for i in 0..r.phi.len() {
        worst = worst.max((r.phi[i] - exact.phi[i]).abs() / r.std[i].max(1e-9));
    }
    eprintln!(
        "KernelSHAP: {} evaluations, converged {}, {:.1} s; worst |error| / std = {worst:.2}",
        r.evaluations,
        r.converged,
        t.elapsed().as_secs_f64()
    );
    assert!(r.converged);
    assert!(worst < 4.5, "KernelSHAP off by {worst} standard errors");
}

#[test]
fn tiny_resnet_surrogate_game() {
    // A random-weight ResNet on one 32×32 image with 8×8 superpixels (P = 16). The full 2^16
    // enumeration takes ~45 s on lavapipe (see the ignored test below), so 12 of the 16
    // superpixels are in play and the other 4 stay visible: 4,096 masks.
    let net = tiny_resnet(12);
    let surrogate = |x: &Tensor| net.forward(x, false);
    let image = Tensor::randn(&[1, 3, 32, 32], 13).unwrap();
    let game = SurrogateGame::new(&surrogate, image, 8, Link::LogSoftmax, 1024).unwrap();
    assert_eq!((game.players(), game.outputs()), (16, 10));
    let sub = RestrictedGame {
        inner: &game,
        free: vec![0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14],
        base: vec![1.0; 16],
    };
    check_resnet_game(&sub);
}

#[test]
#[ignore = "2^16 ResNet evaluations: ~45 s on lavapipe"]
fn tiny_resnet_surrogate_game_all_16_players() {
    let net = tiny_resnet(12);
    let surrogate = |x: &Tensor| net.forward(x, false);
    let image = Tensor::randn(&[1, 3, 32, 32], 13).unwrap();
    let mut game = SurrogateGame::new(&surrogate, image, 8, Link::LogSoftmax, 1024).unwrap();
    check_resnet_game(&game);
    // Throughput by batch size.
    let masks = UniformSizeSampler::new(16, 0).sample(4096);
    for batch in [128, 512, 2048] {
        game.batch = batch;
        let t = Instant::now();
        game.eval(&masks).unwrap();
        eprintln!(
            "batch {batch}: {:.0} evaluations/s",
            4096.0 / t.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn kernelshap_host_cost_at_256_players() {
    // The paper's 2×2 superpixels: P = 256, K = 10. The game is free, so this times the
    // host-side regression; it is also exact on a linear game at this size.
    let g = LinearGame::random(256, 10, 21);
    let cfg = KernelShapConfig {
        batch_pairs: 1024,
        threshold: 0.0,
        max_evals: 8_194,
        seed: 2,
        target: None,
        relative_se: 0.0,
    };
    let t = Instant::now();
    let r = kernel_shap(&g, &cfg).unwrap();
    eprintln!(
        "KernelSHAP host cost, P = 256, K = 10: {} evaluations in {:.2?}",
        r.evaluations,
        t.elapsed()
    );
    assert!(!r.converged && r.evaluations == 8_194);
    assert_close(&r.phi, &g.shapley(), 1e-4, "P = 256 linear game");
}

#[test]
fn kernelshap_checks_convergence_geometrically() {
    // 10,000 batches of one pair: a check after each would make the run quadratic in its pairs
    // (each check's residuals visit every pair); growth by CHECK_GROWTH keeps them logarithmic.
    let g = LinearGame::random(16, 3, 5);
    let cfg = KernelShapConfig {
        batch_pairs: 1,
        threshold: 0.0,
        max_evals: 20_002,
        seed: 3,
        target: None,
        relative_se: 0.0,
    };
    let r = kernel_shap(&g, &cfg).unwrap();
    assert_eq!((r.evaluations, r.converged), (20_002, false));
    let bound = (10_000f64.ln() / (1.0 + CHECK_GROWTH).ln()).ceil() as usize + 20;
    assert!(
        (10..=bound).contains(&r.checks),
        "{} checks for 10,000 batches (want 10 to {bound})",
        r.checks
    );
    assert_close(
        &r.phi,
        &g.shapley(),
        1e-4,
        "P = 16 linear game after sparse checks",
    );
}

/// RMS over 40 seeds of KernelSHAP's standardised errors (φ̂ − φ)/std on `g`, at a fixed
/// budget (no early stopping, which would bias the std of the stopped runs low).
fn standardised_error_rms(g: &TableGame, evals: usize) -> f64 {
    let exact = exact_shapley(g, 1024).unwrap();
    let (mut sq, mut n) = (0.0, 0.0);
    for seed in 0..40 {
        let cfg = KernelShapConfig {
            batch_pairs: 500,
            threshold: 0.0,
            max_evals: evals,
            seed,
            target: None,
            relative_se: 0.0,
        };
        let r = kernel_shap(g, &cfg).unwrap();
        for i in 0..r.phi.len() {
            let z = (r.phi[i] - exact.phi[i]) / r.std[i];
            sq += z * z;
            n += 1.0;
        }
    }
    (sq / n).sqrt()
}

#[test]
fn kernelshap_standard_errors_are_calibrated() {
    // An RMS near 1 means the reported std is the error's real size: on a random game, and on
    // a nearly additive one (weights plus a 5% random part), where the estimate that leaves out
    // Â's noise (Cov(b̄) alone, shapreg's) overstated the error 36× (RMS 0.028; 1.17 on the
    // random game).
    let random = TableGame::random(10, 2, 77);
    let weights = TableGame::random(10, 2, 78);
    let additive = TableGame::from_fn(10, 2, |s, k| {
        (0..10)
            .filter(|i| (s >> i) & 1 == 1)
            .map(|i| weights.values[(1 << i) * 2 + k])
            .sum()
    });
    let nearly_additive = additive.combine(1.0, &random, 0.05);
    for (name, g) in [("random", &random), ("nearly additive", &nearly_additive)] {
        let rms = standardised_error_rms(g, 2_002);
        eprintln!("RMS of standardised KernelSHAP errors, {name} game: {rms:.3}");
        assert!((0.8..1.25).contains(&rms), "{name}: RMS z = {rms}");
    }
}

// --- permutation sampling and the fidelity metrics ------------------------------------------

use fastshap::fastshap::fidelity::{
    self, BudgetCurve, BudgetPoint, Interval, Stat, budget_curve, budget_errors,
    evaluations_to_match, match_stat,
};
use fastshap::shap::baselines::{additivity_exact, additivity_sampled, baselines};
use fastshap::shap::permutation::{PermutationConfig, permutation_shapley};

#[test]
fn permutation_sampling_is_exact_on_a_linear_game_and_converges_on_a_random_one() {
    // Every marginal contribution of a linear game is its weight: one order suffices.
    let g = LinearGame::random(9, 3, 2);
    let cfg = PermutationConfig {
        max_evals: 2 + 2 * 8,
        batch_orders: 4,
        seed: 1,
    };
    let r = permutation_shapley(&g, &cfg).unwrap();
    assert_eq!((r.orders, r.evaluations), (2, 18));
    assert_close(&r.phi, &g.shapley(), 1e-5, "permutation on a linear game");
    // A random game: the error falls with the budget, and is small at a large one.
    let t = TableGame::random(8, 2, 5);
    let exact = exact_shapley(&t, 256).unwrap();
    let err = |evals: usize| {
        let r = permutation_shapley(
            &t,
            &PermutationConfig {
                max_evals: evals,
                batch_orders: 32,
                seed: 3,
            },
        )
        .unwrap();
        // Efficiency holds exactly for every order, so for the average too.
        for o in 0..2 {
            let sum: f64 = (0..8).map(|i| r.phi[i * 2 + o]).sum();
            let (v0, v1) = (t.values[o], t.values[255 * 2 + o]);
            assert!((sum - (v1 - v0)).abs() < 1e-6);
        }
        metrics::l2(&r.phi, &exact.phi)
    };
    let (small, large) = (err(16), err(20_000));
    eprintln!("permutation L2: {small:.4} at 16 evaluations, {large:.4} at 20,000");
    assert!(large < 0.1 * small && large < 0.1, "{small} → {large}");
    let too_small = PermutationConfig {
        max_evals: 10,
        batch_orders: 4,
        seed: 0,
    };
    let e = permutation_shapley(&t, &too_small).unwrap_err().to_string();
    assert!(e.contains("less than one order"), "{e}");
}

#[test]
fn fidelity_scores_judge_each_class_on_its_own() {
    // 3 images, P = 4, K = 2. Truth columns vary; the estimates are the truth plus a per-class
    // offset (Pearson 1, L2 = offset·2), its negation (Pearson −1), and noise-free but flat.
    let (p, k) = (4, 2);
    let truth: Vec<Vec<f64>> = (0..3)
        .map(|j| (0..p * k).map(|i| (i as f64 + j as f64).sin()).collect())
        .collect();
    let shifted: Vec<Vec<f64>> = truth
        .iter()
        .map(|t| {
            t.iter()
                .enumerate()
                .map(|(i, v)| v + 0.5 * (i % k) as f64 + 0.5)
                .collect()
        })
        .collect();
    let negated: Vec<Vec<f64>> = truth
        .iter()
        .map(|t| t.iter().map(|v| -v).collect())
        .collect();
    let target = [0, 1, 1];
    let s = fidelity::score("shifted", &shifted, &truth, &target, p, k, 2, 200, 1);
    assert!((s.predicted.pearson.mean - 1.0).abs() < 1e-12);
    assert!((s.all_classes.pearson.mean - 1.0).abs() < 1e-12);
    // Image 0's class 0 is shifted by 0.5, the others (class 1) by 1.0: L2 = shift · √P.
    let want = (0.5 * 2.0 + 1.0 * 2.0 + 1.0 * 2.0) / 3.0;
    assert!(
        (s.predicted.l2.mean - want).abs() < 1e-12,
        "{:?}",
        s.predicted.l2
    );
    assert!(s.predicted.l2.lo <= s.predicted.l2.mean && s.predicted.l2.mean <= s.predicted.l2.hi);
    let n = fidelity::score("negated", &negated, &truth, &target, p, k, 2, 200, 1);
    assert!((n.predicted.pearson.mean + 1.0).abs() < 1e-12);
    assert!((n.predicted.sign_agreement.mean).abs() < 1e-12);
    // NaN Pearsons (a constant estimate) are dropped from the mean, not propagated; two values
    // get a Student-t interval (t₁ = 12.706: mean ± 12.706 · s/√2), never a bootstrap one.
    let st = Stat::of(&[f64::NAN, 0.5, 0.7], 100, 0);
    assert!((st.mean - 0.6).abs() < 1e-12, "{st:?}");
    assert_eq!((st.n, st.interval), (2, Interval::T));
    let half = 12.706 * (0.02f64).sqrt() / 2f64.sqrt();
    assert!(
        (st.hi - 0.6 - half).abs() < 1e-9 && (0.6 - st.lo - half).abs() < 1e-9,
        "{st:?}"
    );
    assert!(st.fmt().contains("(t, n = 2)"), "{}", st.fmt());
}

#[test]
fn budget_curves_fall_with_evaluations_and_find_the_matching_budget() {
    let t = TableGame::random(10, 3, 8);
    let exact = exact_shapley(&t, 1024).unwrap();
    let budgets = [64, 256, 1024, 4096];
    let (ks, perm) = budget_errors(&t, &exact.phi, 1, &budgets, 7).unwrap();
    for (name, rows) in [("kernelshap", &ks), ("permutation", &perm)] {
        let l2: Vec<f64> = rows.iter().map(|r| r.2).collect();
        eprintln!("{name}: L2 {l2:?}");
        assert!(l2[3] < 0.5 * l2[0], "{name}: {l2:?}");
        assert!(rows.iter().all(|r| r.0 <= 4096.0 + 1.0 && r.0 >= 32.0));
    }
    let curve = budget_curve("kernelshap", &budgets, &[ks.clone(), ks], 50, 0);
    assert_eq!(curve.points.len(), 4);
    // A constructed curve: L2 1.0 at 100, 0.5 at 1,000 → 0.75 is met at √(100·1000) ≈ 316.
    let point = |e: f64, l2: f64| BudgetPoint {
        budget: e as usize,
        evaluations: e,
        pearson: Stat {
            mean: 0.0,
            lo: 0.0,
            hi: 0.0,
            n: 1,
            interval: Interval::None,
        },
        l2: Stat {
            mean: l2,
            lo: l2,
            hi: l2,
            n: 1,
            interval: Interval::None,
        },
    };
    let c = BudgetCurve {
        method: "k".into(),
        points: vec![point(100.0, 1.0), point(1000.0, 0.5)],
    };
    let m = evaluations_to_match(&c, 0.75).unwrap();
    assert!(
        (m.evaluations - 316.227766).abs() < 1e-3 && !m.at_most,
        "{m:?}"
    );
    assert_eq!(evaluations_to_match(&c, 0.1), None);
    // Already better at the smallest budget: a ceiling, printed "≤ 100", not a measurement.
    let first = evaluations_to_match(&c, 2.0).unwrap();
    assert_eq!((first.evaluations, first.at_most), (100.0, true));
    assert_eq!(first.fmt(), "≤ 100");
    assert!((fidelity::l2_at(&c, 316.227766).unwrap() - 0.75).abs() < 1e-6);
}

#[test]
fn match_stat_brackets_the_point_and_says_when_it_cannot() {
    // 20 images whose L2 halves from 64 to 1,024 evaluations around a target of ~0.5.
    let budgets = [64, 256, 1024];
    let rows: Vec<fidelity::ImageBudget> = (0..20)
        .map(|j| {
            let w = 1.0 + 0.05 * (j as f64 - 10.0);
            vec![
                (64.0, 0.9, w),
                (256.0, 0.9, 0.5 * w),
                (1024.0, 0.9, 0.25 * w),
            ]
        })
        .collect();
    let target = vec![0.5; 20];
    let m = match_stat(&budgets, &rows, &target, 200, 3);
    let p = m.point.unwrap();
    assert!((p.evaluations - 256.0).abs() < 20.0 && !p.at_most, "{m:?}");
    let (lo, hi) = (m.lo.unwrap(), m.hi.unwrap());
    assert!(
        lo <= p.evaluations && p.evaluations <= hi && hi > lo,
        "{m:?}"
    );
    // Below 10 images: the point only, marked indicative.
    let few = match_stat(&budgets, &rows[..5], &target[..5], 200, 3);
    assert!(
        few.lo.is_none() && few.fmt(1024.0).contains("indicative"),
        "{few:?}"
    );
    // A target no budget reaches.
    let never = match_stat(&budgets, &rows, &[0.01; 20], 200, 3);
    assert!(
        never.point.is_none() && never.fmt(1024.0).starts_with("> 1024"),
        "{never:?}"
    );
}

#[test]
fn baselines_are_exact_where_theory_says_and_additivity_measures_interaction() {
    let (p, k) = (7, 2);
    // An additive game: every baseline but the uniform split is exact, additivity is 1.
    let lin = LinearGame::random(p, k, 4);
    let table = TableGame::from_fn(p, k, |s, o| {
        let mut m = vec![0f32; p];
        coalition_mask(s, p, &mut m);
        lin.eval(&m).unwrap()[o] as f64
    });
    let exact = exact_shapley(&table, 128).unwrap();
    for b in baselines(&table).unwrap() {
        if b.name != "uniform" {
            assert_close(&b.phi, &exact.phi, 1e-5, b.name);
        }
        // Efficiency: every baseline is normalised to the gap.
        for o in 0..k {
            let sum: f64 = (0..p).map(|i| b.phi[i * k + o]).sum();
            assert!(
                (sum - (exact.grand[o] - exact.null[o])).abs() < 1e-6,
                "{}",
                b.name
            );
        }
    }
    assert!((additivity_exact(&table, 0) - 1.0).abs() < 1e-6);
    // Pairwise interactions: leave-one-out and singletons are biased, their mean is exact.
    let mut rng = StdRng::seed_from_u64(9);
    let a: Vec<f64> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let bij: Vec<f64> = (0..p * p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let pair = TableGame::from_fn(p, 1, |s, _| {
        let has = |i: usize| (s >> i) & 1 == 1;
        let mut v = 0.0;
        for i in 0..p {
            if has(i) {
                v += a[i];
                for j in i + 1..p {
                    if has(j) {
                        v += bij[i * p + j];
                    }
                }
            }
        }
        v
    });
    let ex = exact_shapley(&pair, 128).unwrap();
    let bs = baselines(&pair).unwrap();
    assert_eq!(bs[2].name, "leave-one-out + singletons");
    // Game values pass through f32 (`Game::eval`), hence 1e-5 rather than f64 precision.
    assert_close(
        &bs[2].phi,
        &ex.phi,
        1e-5,
        "mean of leave-one-out and singletons",
    );
    assert!(
        metrics::l2(&bs[0].phi, &ex.phi) > 0.1,
        "leave-one-out should be biased here"
    );
    assert_eq!(
        (bs[0].evaluations, bs[2].evaluations, bs[3].evaluations),
        (p + 2, 2 * p + 2, 2)
    );
    let r2 = additivity_exact(&pair, 0);
    assert!(r2 < 0.95 && r2 > 0.0, "pairwise game additivity {r2}");
    // A pure-noise game is far from additive.
    let noise = additivity_exact(&TableGame::random(p, 1, 3), 0);
    assert!(noise < 0.5 && noise < r2, "noise additivity {noise}");
    // The sampled estimate agrees with the exact one.
    let sampled = additivity_sampled(&pair, 0, 4000, 5).unwrap();
    assert!(
        (sampled - r2).abs() < 0.05,
        "sampled {sampled} vs exact {r2}"
    );
}

// --- the ViT surrogate's coalition path -------------------------------------------------------

/// max |a − b| / max(1, max |b|).
fn rel_diff(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(1f64, |m, &v| m.max((v as f64).abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    diff / scale
}

#[test]
fn vit_coalitions_equal_the_masked_image_forward() {
    // The coalition path folds masking into the patch embedding and runs the last block for the
    // CLS token only; its logits must be the plain forward's on masked images. Superpixels equal
    // to, larger than and smaller than the patches; one and two blocks; binary and fractional
    // masks; trained-looking weights (random, with non-trivial LayerNorm parameters).
    let _ng = no_grad();
    for (patch, s, depth, dim, heads, seed) in [
        (8, 8, 1, 32, 2, 1u64),
        (4, 8, 2, 16, 2, 2),
        (8, 4, 1, 24, 3, 3),
        (4, 4, 0, 16, 1, 4),
        // P = 256 > the patch's inputs: the masked embedding is kept, the last block folded.
        (4, 2, 1, 16, 2, 5),
    ] {
        let cfg = VitConfig {
            in_channels: 4,
            classes: 10,
            image: 32,
            patch,
            dim,
            mlp: 2 * dim,
            heads,
            depth,
        };
        let vit = Vit::new(cfg, &mut init_rng(seed)).unwrap();
        // LayerNorm γ, β away from 1, 0 (the fold must not rely on the initial values).
        use fastshap::nn::{Kind, Module};
        vit.visit("", &mut |name, t, _k: Kind| {
            if name.contains("norm") {
                let v = Tensor::rand(t.shape(), 0.5, 1.5, seed + name.len() as u64).unwrap();
                t.assign(&v).unwrap();
            }
        });
        let image = Tensor::randn(&[1, 3, 32, 32], seed + 10).unwrap();
        let p = (32 / s) * (32 / s);
        let mut masks = UniformSizeSampler::new(p, seed).sample(37);
        for m in masks.iter_mut().step_by(7) {
            *m *= 0.375; // fractional values scale a superpixel
        }
        let fast = vit.coalitions(&image, s).unwrap().logits(&masks).unwrap();
        let mt = Tensor::from_slice(&masks, &[37, p]).unwrap();
        let masked = fastshap::ops::masking::apply_player_mask(&image, &mt, s).unwrap();
        let plain = vit.forward(&masked, false).unwrap();
        assert_eq!(fast.shape(), plain.shape());
        let err = rel_diff(&fast.to_vec().unwrap(), &plain.to_vec().unwrap());
        assert!(
            err <= 1e-4,
            "patch {patch}, s {s}, depth {depth}: coalition logits differ by {err:.2e}"
        );
        // The same tail on a batch of arbitrary inputs (what a surrogate's inference runs).
        let cls = vit.cls_logits(&masked).unwrap();
        let err = rel_diff(&cls.to_vec().unwrap(), &plain.to_vec().unwrap());
        assert!(
            err <= 1e-4,
            "patch {patch}, s {s}, depth {depth}: CLS-only logits differ by {err:.2e}"
        );
    }
}

#[test]
fn vit_surrogate_game_takes_the_coalition_path() {
    // SurrogateModel::game of a ViT surrogate gives the values of the masked-image game.
    use fastshap::fastshap::{Surrogate, SurrogateModel};
    use fastshap::train::Model;
    let cfg = fastshap::reproduce::FidelityPlan::new().surrogate;
    let surrogate = Surrogate {
        model: Model::Vit(Vit::new(cfg, &mut init_rng(7)).unwrap()),
        superpixel: 8,
        classes: (0..10).map(|i| i.to_string()).collect(),
        original: None,
        original_arch: None,
    };
    let image = Tensor::randn(&[1, 3, 32, 32], 8).unwrap();
    let masks = UniformSizeSampler::new(16, 9).sample(300);
    let fast = surrogate
        .game(image.clone(), Link::LogSoftmax, 128)
        .unwrap();
    let logits = |x: &Tensor| surrogate.logits(x);
    let plain = SurrogateGame::new(&logits, image, 8, Link::LogSoftmax, 128).unwrap();
    assert_eq!((fast.players(), fast.outputs()), (16, 10));
    let (a, b) = (fast.eval(&masks).unwrap(), plain.eval(&masks).unwrap());
    assert!(
        rel_diff(&a, &b) <= 1e-4,
        "values differ by {:.2e}",
        rel_diff(&a, &b)
    );
}

#[test]
fn resnet_coalitions_equal_the_masked_image_forward() {
    // BatchNorm folded into the convs (with running statistics away from 0 / 1), the stem as
    // [m, 1]·G: the logits must be the plain eval-mode forward's on masked images, for
    // superpixels of 8, 4 and 2 and binary and fractional masks.
    let _ng = no_grad();
    // s = 2 (P = 256) takes the masked, folded stem instead of [m, 1]·G.
    for (s, seed) in [(8, 1u64), (4, 2), (2, 3)] {
        let net = ResNet::new(
            ResNetConfig {
                widths: [8, 16, 16, 24],
                blocks: [1, 1, 1, 1],
                ..ResNetConfig::resnet18(4, 10)
            },
            &mut init_rng(seed),
        )
        .unwrap();
        use fastshap::nn::{Kind, Module};
        net.visit("", &mut |name, t, _k: Kind| {
            let (lo, hi) = if name.ends_with("running_mean") || name.ends_with("bn1.bias") {
                (-0.5, 0.5)
            } else if name.contains("bn") || name.contains("shortcut.1") {
                (0.5, 1.5)
            } else {
                return;
            };
            let v = Tensor::rand(t.shape(), lo, hi, seed + name.len() as u64).unwrap();
            t.assign(&v).unwrap();
        });
        let image = Tensor::randn(&[1, 3, 32, 32], seed + 10).unwrap();
        let p = (32 / s) * (32 / s);
        let mut masks = UniformSizeSampler::new(p, seed).sample(19);
        for m in masks.iter_mut().step_by(5) {
            *m *= 0.625;
        }
        let fast = net.coalitions(&image, s).unwrap().logits(&masks).unwrap();
        let mt = Tensor::from_slice(&masks, &[19, p]).unwrap();
        let plain = net
            .forward(
                &fastshap::ops::masking::apply_player_mask(&image, &mt, s).unwrap(),
                false,
            )
            .unwrap();
        let err = rel_diff(&fast.to_vec().unwrap(), &plain.to_vec().unwrap());
        assert!(err <= 1e-4, "s {s}: coalition logits differ by {err:.2e}");
    }
}

/// With `relative_se`, KernelSHAP keeps sampling until its own standard error is that small
/// relative to ‖φ‖ on the target output — more evaluations for a tighter tolerance — and the
/// result it calls converged meets it.
#[test]
fn kernelshap_runs_to_a_relative_standard_error() {
    let g = TableGame::random(12, 3, 5);
    let run = |tol: f64| {
        kernel_shap(
            &g,
            &KernelShapConfig {
                batch_pairs: 32,
                threshold: 1.0,
                max_evals: 400_000,
                seed: 3,
                target: Some(1),
                relative_se: tol,
            },
        )
        .unwrap()
    };
    let norm = |r: &fastshap::shap::kernelshap::KernelShapResult, v: &[f64]| {
        (0..r.players)
            .map(|i| v[i * r.outputs + 1].powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (loose, tight) = (run(0.3), run(0.03));
    for (r, tol) in [(&loose, 0.3), (&tight, 0.03)] {
        assert!(
            r.converged,
            "tolerance {tol} not reached in {} evaluations",
            r.evaluations
        );
        assert!(norm(r, &r.std) <= tol * norm(r, &r.phi), "tolerance {tol}");
    }
    assert!(
        tight.evaluations > 4 * loose.evaluations,
        "a 10× tighter tolerance took {} evaluations against {}",
        tight.evaluations,
        loose.evaluations
    );
}
