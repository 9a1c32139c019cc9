//! Exact Shapley values by enumerating all 2^P coalitions (P ≤ 20):
//! φ_i = Σ_{S ∌ i} |S|!(P−|S|−1)!/P! · [v(S ∪ i) − v(S)], every output at once.

use super::game::{Game, coalition_mask};
use anyhow::{Result, bail};

/// Shapley values with the game's ends, all laid out player-major (P×K) / per output (K).
#[derive(Clone, Debug)]
pub struct Shapley {
    pub players: usize,
    pub outputs: usize,
    /// P×K.
    pub phi: Vec<f64>,
    /// v(∅), K.
    pub null: Vec<f64>,
    /// v(all players), K.
    pub grand: Vec<f64>,
}

impl Shapley {
    /// φ of output k for every player.
    pub fn column(&self, k: usize) -> Vec<f64> {
        (0..self.players)
            .map(|i| self.phi[i * self.outputs + k])
            .collect()
    }
}

/// All 2^P values of `game`, coalition-index-major (2^P × K), evaluated `batch` masks at a time.
pub fn all_values(game: &dyn Game, batch: usize) -> Result<Vec<f64>> {
    let (p, k) = (game.players(), game.outputs());
    if p > 20 {
        bail!("exact Shapley enumerates 2^P coalitions; P = {p} exceeds 20");
    }
    let n = 1usize << p;
    let batch = batch.max(1);
    let mut values = Vec::with_capacity(n * k);
    let mut masks = vec![0f32; batch.min(n) * p];
    for start in (0..n).step_by(batch) {
        let m = batch.min(n - start);
        for (r, row) in masks.chunks_mut(p).take(m).enumerate() {
            coalition_mask(start + r, p, row);
        }
        let v = game.eval(&masks[..m * p])?;
        if v.len() != m * k {
            bail!(
                "game returned {} values for {m} masks × {k} outputs",
                v.len()
            );
        }
        values.extend(v.iter().map(|&x| x as f64));
    }
    Ok(values)
}

/// Exact Shapley values of every player for every output.
pub fn exact_shapley(game: &dyn Game, batch: usize) -> Result<Shapley> {
    let (p, k) = (game.players(), game.outputs());
    Ok(from_values(&all_values(game, batch)?, p, k))
}

/// Exact Shapley values from a game's full table of values (2^P × K, as [`all_values`] lays
/// them out), so a caller that keeps the table for other uses evaluates the game only once.
pub fn from_values(values: &[f64], p: usize, k: usize) -> Shapley {
    assert_eq!(values.len(), (1usize << p) * k, "a table of 2^P × K values");
    // w(s) = s!(P−s−1)!/P! = 1 / (P · C(P−1, s)), built multiplicatively to stay in range.
    let mut w = vec![0f64; p];
    let mut binom = 1f64;
    for (s, ws) in w.iter_mut().enumerate() {
        *ws = 1.0 / (p as f64 * binom);
        binom = binom * (p - 1 - s) as f64 / (s + 1) as f64;
    }
    let mut phi = vec![0f64; p * k];
    for s in 0..(1usize << p) {
        let size = s.count_ones() as usize;
        for i in 0..p {
            if (s >> i) & 1 == 1 {
                continue;
            }
            let with = s | (1 << i);
            for o in 0..k {
                phi[i * k + o] += w[size] * (values[with * k + o] - values[s * k + o]);
            }
        }
    }
    let full = ((1usize << p) - 1) * k;
    Shapley {
        players: p,
        outputs: k,
        phi,
        null: values[..k].to_vec(),
        grand: values[full..full + k].to_vec(),
    }
}
