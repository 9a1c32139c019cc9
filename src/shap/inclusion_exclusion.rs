//! Inclusion/exclusion curves (FastSHAP's evaluation): rank the players by φ of the explained
//! class, keep only (inclusion) or remove (exclusion) the top k% of them, and score the masked
//! input with a game whose outputs are class probabilities (a `SurrogateGame` with
//! `Link::Softmax`): top-1 agreement with the class and its log-odds log p − log(1 − p).
//!
//! Choices: the number of players for k% is round(k/100 · P); ties in φ are ranked by player
//! index; the AUC is the trapezoid rule over k/100 and, by default, includes the endpoints
//! k = 0 and k = 100 (the empty and full coalitions, evaluated like the other points), so
//! that it is the area over the whole [0, 1] range.

use super::game::Game;
use anyhow::{Result, bail};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// FastSHAP's percentages.
pub const PERCENTAGES: [f64; 11] = [1., 5., 10., 15., 25., 50., 75., 85., 90., 95., 99.];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only the top k% players present.
    Inclusion,
    /// The top k% players removed.
    Exclusion,
}

#[derive(Clone, Debug, Default)]
pub struct Curve {
    /// The k/100 values the curve was evaluated at (endpoints included when asked).
    pub x: Vec<f64>,
    /// 1 where the game's argmax equals the class.
    pub top1: Vec<f64>,
    /// log p − log(1 − p) of the class, p clamped to [1e-7, 1 − 1e-7].
    pub log_odds: Vec<f64>,
}

impl Curve {
    pub fn top1_auc(&self) -> f64 {
        trapezoid(&self.x, &self.top1)
    }
    pub fn log_odds_auc(&self) -> f64 {
        trapezoid(&self.x, &self.log_odds)
    }
}

pub fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(x, y)| 0.5 * (x[1] - x[0]) * (y[0] + y[1]))
        .sum()
}

/// Players sorted by φ descending, ties by index.
pub fn ranking(phi: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..phi.len()).collect();
    order.sort_by(|&a, &b| phi[b].total_cmp(&phi[a]).then(a.cmp(&b)));
    order
}

/// The curve for one image: `phi` is P values for `class`, `percentages` in 0…100.
pub fn curve(
    game: &dyn Game,
    phi: &[f64],
    class: usize,
    percentages: &[f64],
    mode: Mode,
    endpoints: bool,
) -> Result<Curve> {
    let (p, k) = (game.players(), game.outputs());
    if phi.len() != p || class >= k {
        bail!(
            "curve: φ has {} values for {p} players, class {class} of {k}",
            phi.len()
        );
    }
    let mut x: Vec<f64> = percentages.iter().map(|q| q / 100.0).collect();
    if endpoints {
        x.insert(0, 0.0);
        x.push(1.0);
    }
    let order = ranking(phi);
    let mut masks = vec![0f32; x.len() * p];
    for (row, &q) in masks.chunks_mut(p).zip(&x) {
        let top = ((q * p as f64).round() as usize).min(p);
        let (inside, outside) = match mode {
            Mode::Inclusion => (1.0, 0.0),
            Mode::Exclusion => (0.0, 1.0),
        };
        row.fill(outside);
        for &i in &order[..top] {
            row[i] = inside;
        }
    }
    let probs = game.eval(&masks)?;
    let mut c = Curve {
        x,
        ..Curve::default()
    };
    for row in probs.chunks(k) {
        let arg = (0..k)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        c.top1.push((arg == class) as u8 as f64);
        let pc = (row[class] as f64).clamp(1e-7, 1.0 - 1e-7);
        c.log_odds.push(pc.ln() - (1.0 - pc).ln());
    }
    Ok(c)
}

/// Percentile bootstrap interval of the mean of `values` (`level` e.g. 0.95), seeded.
pub fn bootstrap_ci(values: &[f64], resamples: usize, level: f64, seed: u64) -> (f64, f64) {
    let n = values.len();
    if n == 0 || resamples == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |f: f64| {
        let pos = f * (resamples - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        means[lo] + (means[hi] - means[lo]) * (pos - lo as f64)
    };
    let tail = (1.0 - level) / 2.0;
    (q(tail), q(1.0 - tail))
}

/// Mean AUC over images with its bootstrap interval.
#[derive(Clone, Debug)]
pub struct AucSummary {
    pub per_image: Vec<f64>,
    pub mean: f64,
    pub ci: (f64, f64),
}

impl AucSummary {
    pub fn new(per_image: Vec<f64>, resamples: usize, level: f64, seed: u64) -> AucSummary {
        let mean = per_image.iter().sum::<f64>() / per_image.len().max(1) as f64;
        let ci = bootstrap_ci(&per_image, resamples, level, seed);
        AucSummary {
            per_image,
            mean,
            ci,
        }
    }
}

/// Curves for many images (one game, φ and class each) summarised as top-1 and log-odds AUCs.
pub struct CurveReport {
    pub curves: Vec<Curve>,
    pub top1: AucSummary,
    pub log_odds: AucSummary,
}

pub fn evaluate(
    items: &[(&dyn Game, &[f64], usize)],
    mode: Mode,
    endpoints: bool,
    resamples: usize,
    seed: u64,
) -> Result<CurveReport> {
    let curves = items
        .iter()
        .map(|&(g, phi, class)| curve(g, phi, class, &PERCENTAGES, mode, endpoints))
        .collect::<Result<Vec<_>>>()?;
    let top1 = curves.iter().map(Curve::top1_auc).collect();
    let lo = curves.iter().map(Curve::log_odds_auc).collect();
    Ok(CurveReport {
        top1: AucSummary::new(top1, resamples, 0.95, seed),
        log_odds: AucSummary::new(lo, resamples, 0.95, seed.wrapping_add(1)),
        curves,
    })
}
