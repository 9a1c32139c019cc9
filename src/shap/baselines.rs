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
//! [`additivity`] measures that: the share of v's Shapley-kernel-weighted variance over
//! coalitions that the additive model v(∅) + Σ_{i∈S} φ_i explains. With the exact φ that model
//! is the best additive fit under the same weights and the efficiency constraint (the Shapley
//! values solve exactly that weighted least-squares problem: Charnes et al. 1988, Lundberg & Lee
//! 2017), so R² = 1 means an additive game and lower means interactions that only a real
//! Shapley estimate can see.

use super::game::{Game, TableGame};
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

/// Weighted R² of an additive fit over coalitions given as (value, weight, fitted value).
fn weighted_r2(rows: impl Iterator<Item = (f64, f64, f64)>) -> f64 {
    let (mut sw, mut swv, mut swv2, mut sres) = (0.0, 0.0, 0.0, 0.0);
    for (v, w, fit) in rows {
        sw += w;
        swv += w * v;
        swv2 += w * v * v;
        sres += w * (v - fit) * (v - fit);
    }
    let var = swv2 - swv * swv / sw;
    if var <= 0.0 {
        f64::NAN
    } else {
        1.0 - sres / var
    }
}

/// Additivity of class `c` from a full table (all coalitions but ∅ and N, Shapley-kernel
/// weights) and that class's exact φ (P values).
pub fn additivity_exact(table: &TableGame, phi: &[f64], c: usize) -> f64 {
    let (p, k) = (table.players, table.outputs);
    let null = table.values[c];
    let weights: Vec<f64> = (0..=p)
        .map(|s| {
            if s == 0 || s == p {
                0.0
            } else {
                kernel_weight(p, s)
            }
        })
        .collect();
    let rows = (1..(1usize << p) - 1).map(|s| {
        let fit = null
            + (0..p)
                .filter(|i| (s >> i) & 1 == 1)
                .map(|i| phi[i])
                .sum::<f64>();
        (
            table.values[s * k + c],
            weights[s.count_ones() as usize],
            fit,
        )
    });
    weighted_r2(rows)
}

/// Additivity of class `c` estimated from `pairs` Shapley-kernel samples of `game` (paired, so
/// plain averages are the kernel-weighted sums), for games too large to enumerate; `phi` is the
/// class's ground-truth φ (P values) and `null` v(∅) of that class.
pub fn additivity_sampled(
    game: &dyn Game,
    phi: &[f64],
    null: f64,
    c: usize,
    pairs: usize,
    seed: u64,
) -> Result<f64> {
    let (p, k) = (game.players(), game.outputs());
    let masks = ShapleySampler::new(p, seed).sample_paired(pairs);
    let v = game.eval(&masks)?;
    let rows = masks.chunks(p).enumerate().map(|(r, s)| {
        let fit = null
            + s.iter()
                .zip(phi)
                .filter(|(m, _)| **m > 0.5)
                .map(|(_, f)| f)
                .sum::<f64>();
        (v[r * k + c] as f64, 1.0, fit)
    });
    Ok(weighted_r2(rows))
}
