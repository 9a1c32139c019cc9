//! The cheap estimators every explainer must beat, and how additive a game is.
//!
//! Baselines (all P×K, additively normalised like FastSHAP so Σφ = v(N) − v(∅) per class):
//! - **leave-one-out** v(N) − v(N∖i): P + 2 evaluations (the ends give the gap);
//! - **singletons** v({i}) − v(∅): P + 2;
//! - **their mean**: both sets, 2P + 2 — exact for every game whose interactions are at most
//!   pairwise (v(S) = v(∅) + Σ a_i + Σ b_ij over pairs in S: leave-one-out gives a_i + Σ_j b_ij,
//!   singletons a_i, the Shapley value is the mean of the two);
//! - **uniform** (v(N) − v(∅)) / P for every player: 2 evaluations, no ranking at all.
//!
//! For an additive game v(S) = v(∅) + Σ_{i∈S} a_i all four but the uniform split are exact,
//! so a game that is nearly additive cannot tell a good explainer from a cheap one.
//! [`additivity_exact`] measures that: the share of v's Shapley-kernel-weighted variance over
//! coalitions (∅ and N left out) that the best additive model b₀ + Σ_{i∈S} β_i explains, a
//! weighted R² with a free intercept (so it lies in [0, 1]: the constant model is nested).
//! R² = 1 means an additive game; lower means interactions that only a real Shapley estimate
//! can see. (Fixing the intercept at v(∅), as KernelSHAP's constrained regression does, is not
//! a variance share: v(∅) of a masked image can lie far from every other coalition's value.)

use super::game::{Game, TableGame};
use super::linalg::{cholesky, cholesky_solve};
use super::sampler::ShapleySampler;
use anyhow::{Result, ensure};

/// A baseline's name and φ (P×K).
pub struct Baseline {
    pub name: &'static str,
    /// Game evaluations it spends per image.
    pub evaluations: usize,
    pub phi: Vec<f64>,
}

/// Names of the baselines in the order [`baselines`] returns them.
pub const NAMES: [&str; 4] = [
    "leave-one-out",
    "singletons",
    "leave-one-out + singletons",
    "uniform",
];

/// Adds (gap − Σφ)/P to every player of each class: the efficiency fix FastSHAP applies.
pub fn normalize_additive(phi: &mut [f64], gap: &[f64], p: usize, k: usize) {
    for c in 0..k {
        let sum: f64 = (0..p).map(|i| phi[i * k + c]).sum();
        let shift = (gap[c] - sum) / p as f64;
        for i in 0..p {
            phi[i * k + c] += shift;
        }
    }
}

/// The four baselines of `game` from one call of 2P + 2 coalitions (N∖i, {i}, ∅, N).
pub fn baselines(game: &dyn Game) -> Result<Vec<Baseline>> {
    let (p, k) = (game.players(), game.outputs());
    ensure!(p >= 2, "baselines need at least 2 players, got {p}");
    let mut masks = vec![0f32; (2 * p + 2) * p];
    for i in 0..p {
        masks[i * p..(i + 1) * p].fill(1.0);
        masks[i * p + i] = 0.0;
        masks[(p + i) * p + i] = 1.0;
    }
    masks[(2 * p + 1) * p..].fill(1.0);
    let v: Vec<f64> = game.eval(&masks)?.iter().map(|&x| x as f64).collect();
    ensure!(
        v.len() == (2 * p + 2) * k,
        "game returned {} values for {} masks × {k} outputs",
        v.len(),
        2 * p + 2
    );
    let at = |row: usize, c: usize| v[row * k + c];
    let (null, grand) = (2 * p, 2 * p + 1);
    let gap: Vec<f64> = (0..k).map(|c| at(grand, c) - at(null, c)).collect();
    let build = |f: &dyn Fn(usize, usize) -> f64| {
        let mut phi: Vec<f64> = (0..p * k).map(|ik| f(ik / k, ik % k)).collect();
        normalize_additive(&mut phi, &gap, p, k);
        phi
    };
    let loo = |i: usize, c: usize| at(grand, c) - at(i, c);
    let single = |i: usize, c: usize| at(p + i, c) - at(null, c);
    Ok(vec![
        Baseline {
            name: NAMES[0],
            evaluations: p + 2,
            phi: build(&loo),
        },
        Baseline {
            name: NAMES[1],
            evaluations: p + 2,
            phi: build(&single),
        },
        Baseline {
            name: NAMES[2],
            evaluations: 2 * p + 2,
            phi: build(&|i, c| 0.5 * (loo(i, c) + single(i, c))),
        },
        Baseline {
            name: NAMES[3],
            evaluations: 2,
            phi: build(&|_, _| 0.0),
        },
    ])
}

/// Shapley-kernel weight of a coalition of `s` of `p` players (0 < s < p), up to a constant:
/// (P − 1) / (C(P, s) · s · (P − s)).
fn kernel_weight(p: usize, s: usize) -> f64 {
    let mut ln_binom = 0.0;
    for j in 0..s {
        ln_binom += ((p - j) as f64).ln() - ((j + 1) as f64).ln();
    }
    (p - 1) as f64 / (ln_binom.exp() * s as f64 * (p - s) as f64)
}

/// Weighted least squares of v(S) on [1, z_S] (a free intercept and one coefficient per
/// player) over coalitions, accumulated one at a time; R² of that fit.
struct AdditiveFit {
    p: usize,
    /// XᵀWX and XᵀWv, with x = [1, z].
    xx: Vec<f64>,
    xv: Vec<f64>,
    sw: f64,
    swv: f64,
    swv2: f64,
}

impl AdditiveFit {
    fn new(p: usize) -> AdditiveFit {
        AdditiveFit {
            p,
            xx: vec![0.0; (p + 1) * (p + 1)],
            xv: vec![0.0; p + 1],
            sw: 0.0,
            swv: 0.0,
            swv2: 0.0,
        }
    }

    /// Adds coalition `members` (the present players) with value `v` and weight `w`.
    fn add(&mut self, members: &[usize], v: f64, w: f64) {
        let n = self.p + 1;
        self.sw += w;
        self.swv += w * v;
        self.swv2 += w * v * v;
        self.xx[0] += w;
        self.xv[0] += w * v;
        for &i in members {
            self.xx[i + 1] += w;
            self.xx[(i + 1) * n] += w;
            self.xv[i + 1] += w * v;
            for &j in members {
                self.xx[(i + 1) * n + j + 1] += w;
            }
        }
    }

    /// 1 − SS_res / SS_tot (weighted); NaN for a constant game.
    fn r2(&self) -> f64 {
        let n = self.p + 1;
        let ss_tot = self.swv2 - self.swv * self.swv / self.sw;
        if ss_tot <= 1e-300 {
            return f64::NAN;
        }
        // A tiny ridge keeps a sample that misses a player solvable (that player's
        // coefficient then stays ≈ 0, which only lowers the fit).
        let mut a = self.xx.clone();
        let ridge = 1e-10 * self.sw;
        for i in 0..n {
            a[i * n + i] += ridge;
        }
        let Some(l) = cholesky(&a, n) else {
            return f64::NAN;
        };
        let mut beta = self.xv.clone();
        cholesky_solve(&l, n, &mut beta);
        // At the optimum SS_res = Σ w v² − βᵀ Xᵀ W v.
        let ss_res = self.swv2 - beta.iter().zip(&self.xv).map(|(b, x)| b * x).sum::<f64>();
        (1.0 - ss_res / ss_tot).clamp(0.0, 1.0)
    }
}

/// Additivity of class `c` from a full table: the Shapley-kernel-weighted R² of the best
/// additive model over all coalitions but ∅ and N.
pub fn additivity_exact(table: &TableGame, c: usize) -> f64 {
    let (p, k) = (table.players, table.outputs);
    let weights: Vec<f64> = (0..=p)
        .map(|s| {
            if s == 0 || s == p {
                0.0
            } else {
                kernel_weight(p, s)
            }
        })
        .collect();
    let mut fit = AdditiveFit::new(p);
    let mut members = Vec::with_capacity(p);
    for s in 1..(1usize << p) - 1 {
        members.clear();
        members.extend((0..p).filter(|i| (s >> i) & 1 == 1));
        fit.add(&members, table.values[s * k + c], weights[members.len()]);
    }
    fit.r2()
}

/// Additivity of class `c` estimated from `pairs` Shapley-kernel samples of `game` (paired, so
/// plain averages are the kernel-weighted sums), for games too large to enumerate.
pub fn additivity_sampled(game: &dyn Game, c: usize, pairs: usize, seed: u64) -> Result<f64> {
    let (p, k) = (game.players(), game.outputs());
    let masks = ShapleySampler::new(p, seed).sample_paired(pairs);
    let v = game.eval(&masks)?;
    let mut fit = AdditiveFit::new(p);
    let mut members = Vec::with_capacity(p);
    for (r, row) in masks.chunks(p).enumerate() {
        members.clear();
        members.extend((0..p).filter(|&i| row[i] > 0.5));
        fit.add(&members, v[r * k + c] as f64, 1.0);
    }
    Ok(fit.r2())
}
