//! Permutation sampling (Castro et al. 2009; shap's `PermutationExplainer`): draw a random order
//! of the players, add them one at a time, and credit each with the change it makes:
//! φ_i = E_π[v(pre_π(i) ∪ i) − v(pre_π(i))]. Each order is used forwards and backwards
//! (antithetic sampling, as shap does), which cancels much of the variance for nearly additive
//! games. One order costs P − 1 evaluations beyond the two ends (∅ and all players), which are
//! evaluated once.

use super::game::Game;
use anyhow::{Result, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

#[derive(Clone, Debug)]
pub struct PermutationConfig {
    /// Budget of game evaluations, the two ends included (at least 2 + 2(P − 1): one order and
    /// its reverse).
    pub max_evals: usize,
    /// Orders per game call (each contributes P − 1 masks).
    pub batch_orders: usize,
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub struct PermutationResult {
    /// P×K.
    pub phi: Vec<f64>,
    /// Orders used (forward and reverse counted separately).
    pub orders: usize,
    /// Game evaluations used, the two ends included.
    pub evaluations: usize,
}

/// Evaluations one order costs beyond the two ends.
pub fn evaluations_per_order(players: usize) -> usize {
    players.saturating_sub(1)
}

pub fn permutation_shapley(game: &dyn Game, cfg: &PermutationConfig) -> Result<PermutationResult> {
    let (p, k) = (game.players(), game.outputs());
    if p < 2 {
        bail!("permutation sampling needs at least 2 players, got {p}");
    }
    let per = evaluations_per_order(p);
    let pairs = cfg.max_evals.saturating_sub(2) / (2 * per);
    if pairs == 0 {
        bail!(
            "permutation sampling: a budget of {} evaluations is less than one order and its \
             reverse ({} for P = {p})",
            cfg.max_evals,
            2 + 2 * per
        );
    }
    let mut ends = vec![0f32; 2 * p];
    ends[p..].fill(1.0);
    let ends: Vec<f64> = game.eval(&ends)?.iter().map(|&v| v as f64).collect();
    let (null, grand) = (&ends[..k], &ends[k..]);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut phi = vec![0f64; p * k];
    let mut orders = 0usize;
    let mut done = 0usize;
    let batch = cfg.batch_orders.max(2) / 2 * 2;
    while done < pairs {
        // Orders of this call: each random one followed by its reverse.
        let n = (batch / 2).min(pairs - done);
        let mut perms = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let mut o: Vec<usize> = (0..p).collect();
            o.shuffle(&mut rng);
            let r: Vec<usize> = o.iter().rev().copied().collect();
            perms.push(o);
            perms.push(r);
        }
        // Prefixes of sizes 1..P−1 (∅ and all players are the ends).
        let mut masks = vec![0f32; perms.len() * per * p];
        for (q, o) in perms.iter().enumerate() {
            let mut m = vec![0f32; p];
            for (j, &player) in o[..per].iter().enumerate() {
                m[player] = 1.0;
                masks[(q * per + j) * p..(q * per + j + 1) * p].copy_from_slice(&m);
            }
        }
        let vals = game.eval(&masks)?;
        if vals.len() != perms.len() * per * k {
            bail!(
                "game returned {} values for {} masks × {k} outputs",
                vals.len(),
                perms.len() * per
            );
        }
        for (q, o) in perms.iter().enumerate() {
            let value = |j: usize, out: usize| -> f64 {
                // Value after the first j players of the order joined.
                if j == 0 {
                    null[out]
                } else if j == p {
                    grand[out]
                } else {
                    vals[(q * per + j - 1) * k + out] as f64
                }
            };
            for (j, &player) in o.iter().enumerate() {
                for out in 0..k {
                    phi[player * k + out] += value(j + 1, out) - value(j, out);
                }
            }
        }
        orders += perms.len();
        done += n;
    }
    for v in &mut phi {
        *v /= orders as f64;
    }
    Ok(PermutationResult {
        phi,
        orders,
        evaluations: 2 + orders * per,
    })
}
