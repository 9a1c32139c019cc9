//! How right are explanations? Scores of any estimator against exact Shapley values, with
//! bootstrap intervals over images, and the error of the sampling estimators (KernelSHAP,
//! permutation sampling) as a function of their budget of game evaluations, so one explainer
//! pass can be placed on the same axis: "KernelSHAP needs N evaluations to be this good".
//!
//! The budget curves run on the image's full table of 2^P values (computed once for the exact
//! values), so they cost host time only; their GPU cost is the budget × the measured time of one
//! evaluation.

use crate::shap::curves::bootstrap_ci;
use crate::shap::game::TableGame;
use crate::shap::kernelshap::{KernelShapConfig, kernel_shap};
use crate::shap::metrics;
use crate::shap::permutation::{PermutationConfig, evaluations_per_order, permutation_shapley};
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// A mean over images with its 95% percentile-bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Stat {
    /// Mean and interval of `values` (NaNs, e.g. the Pearson of a constant φ, are dropped).
    pub fn of(values: &[f64], resamples: usize, seed: u64) -> Stat {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat {
                mean: f64::NAN,
                lo: f64::NAN,
                hi: f64::NAN,
            };
        }
        let (lo, hi) = bootstrap_ci(&v, resamples, 0.95, seed);
        Stat {
            mean: v.iter().sum::<f64>() / v.len() as f64,
            lo,
            hi,
        }
    }

    pub fn fmt(&self) -> String {
        format!("{:.3} [{:.3}, {:.3}]", self.mean, self.lo, self.hi)
    }
}

/// The four agreement metrics, each a [`Stat`] over images.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub pearson: Stat,
    pub spearman: Stat,
    /// ‖φ − φ*‖₂ over the P players of a class.
    pub l2: Stat,
    pub sign_agreement: Stat,
}

/// One estimator's agreement with the ground truth: on the class each image is explained for
/// (the prediction) and averaged over all classes per image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimatorScores {
    pub name: String,
    pub predicted: Scores,
    pub all_classes: Scores,
}

fn column(phi: &[f64], p: usize, k: usize, c: usize) -> Vec<f64> {
    (0..p).map(|i| phi[i * k + c]).collect()
}

/// Per image: (Pearson, Spearman, L2, sign agreement) of class `c`.
fn class_metrics(
    est: &[f64],
    truth: &[f64],
    p: usize,
    k: usize,
    c: usize,
    top_k: usize,
) -> [f64; 4] {
    let (a, b) = (column(est, p, k, c), column(truth, p, k, c));
    [
        metrics::pearson(&a, &b),
        metrics::spearman(&a, &b),
        metrics::l2(&a, &b),
        metrics::sign_agreement(&a, &b, top_k),
    ]
}

/// Scores `est` against `truth` (both per image, P×K player-major); `target[j]` is image j's
/// explained class. Each (image, class) is judged on its own column, so per-class offsets
/// (which additive normalisation gets right for free) earn nothing.
#[allow(clippy::too_many_arguments)]
pub fn score(
    name: &str,
    est: &[Vec<f64>],
    truth: &[Vec<f64>],
    target: &[usize],
    p: usize,
    k: usize,
    top_k: usize,
    resamples: usize,
    seed: u64,
) -> EstimatorScores {
    let n = est.len();
    let mut pred: Vec<Vec<f64>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    let mut all: Vec<Vec<f64>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    for j in 0..n {
        let m = class_metrics(&est[j], &truth[j], p, k, target[j], top_k);
        let mut sums = [0.0; 4];
        let mut counts = [0usize; 4];
        for c in 0..k {
            for (i, v) in class_metrics(&est[j], &truth[j], p, k, c, top_k)
                .into_iter()
                .enumerate()
            {
                if v.is_finite() {
                    sums[i] += v;
                    counts[i] += 1;
                }
            }
        }
        for i in 0..4 {
            pred[i].push(m[i]);
            all[i].push(if counts[i] > 0 {
                sums[i] / counts[i] as f64
            } else {
                f64::NAN
            });
        }
    }
    let scores = |v: &[Vec<f64>], s: u64| Scores {
        pearson: Stat::of(&v[0], resamples, s),
        spearman: Stat::of(&v[1], resamples, s + 1),
        l2: Stat::of(&v[2], resamples, s + 2),
        sign_agreement: Stat::of(&v[3], resamples, s + 3),
    };
    EstimatorScores {
        name: name.into(),
        predicted: scores(&pred, seed),
        all_classes: scores(&all, seed.wrapping_add(10)),
    }
}

/// A sampling estimator's error at one budget, over images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetPoint {
    /// The budget asked for, and the mean evaluations actually used.
    pub budget: usize,
    pub evaluations: f64,
    /// On the explained class.
    pub pearson: Stat,
    pub l2: Stat,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetCurve {
    pub method: String,
    pub points: Vec<BudgetPoint>,
}

/// Per image and budget: (evaluations used, Pearson, L2) on the explained class.
pub type ImageBudget = Vec<(f64, f64, f64)>;

/// KernelSHAP (run to its budget, no early stop) and permutation sampling (antithetic) on one
/// image's table, at each budget. Budgets too small for an estimator give NaN rows.
pub fn budget_errors(
    table: &TableGame,
    exact: &[f64],
    target: usize,
    budgets: &[usize],
    seed: u64,
) -> Result<(ImageBudget, ImageBudget)> {
    let (p, k) = (table.players, table.outputs);
    let truth = column(exact, p, k, target);
    let judge = |phi: &[f64], evals: usize| {
        let a = column(phi, p, k, target);
        (
            evals as f64,
            metrics::pearson(&a, &truth),
            metrics::l2(&a, &truth),
        )
    };
    let nan = (f64::NAN, f64::NAN, f64::NAN);
    let (mut ks, mut perm) = (Vec::new(), Vec::new());
    for (b, &budget) in budgets.iter().enumerate() {
        // KernelSHAP needs its A matrix non-singular: a few more pairs than players.
        ks.push(if budget >= 2 + 2 * (p + 2) {
            let r = kernel_shap(
                table,
                &KernelShapConfig {
                    batch_pairs: (budget / 8).clamp(p + 2, 512),
                    threshold: 0.0,
                    max_evals: budget,
                    seed: seed.wrapping_add(b as u64),
                    target: Some(target),
                },
            )?;
            judge(&r.phi, r.evaluations)
        } else {
            nan
        });
        perm.push(if budget >= 2 + 2 * evaluations_per_order(p) {
            let r = permutation_shapley(
                table,
                &PermutationConfig {
                    max_evals: budget,
                    batch_orders: 64,
                    seed: seed.wrapping_add(1000 + b as u64),
                },
            )?;
            judge(&r.phi, r.evaluations)
        } else {
            nan
        });
    }
    Ok((ks, perm))
}

/// Summarises per-image budget rows (`rows[j][b]`) into a curve.
pub fn budget_curve(
    method: &str,
    budgets: &[usize],
    rows: &[ImageBudget],
    resamples: usize,
    seed: u64,
) -> BudgetCurve {
    let points = budgets
        .iter()
        .enumerate()
        .filter_map(|(b, &budget)| {
            let evals: Vec<f64> = rows
                .iter()
                .map(|r| r[b].0)
                .filter(|v| v.is_finite())
                .collect();
            if evals.is_empty() {
                return None;
            }
            let pick =
                |f: fn(&(f64, f64, f64)) -> f64| rows.iter().map(|r| f(&r[b])).collect::<Vec<_>>();
            Some(BudgetPoint {
                budget,
                evaluations: evals.iter().sum::<f64>() / evals.len() as f64,
                pearson: Stat::of(&pick(|r| r.1), resamples, seed + 2 * b as u64),
                l2: Stat::of(&pick(|r| r.2), resamples, seed + 2 * b as u64 + 1),
            })
        })
        .collect();
    BudgetCurve {
        method: method.into(),
        points,
    }
}

/// The evaluations at which `curve`'s mean L2 first falls to `l2` (log-linear interpolation
/// between budgets), or `None` when it never does within the budgets tried.
pub fn evaluations_to_match(curve: &BudgetCurve, l2: f64) -> Option<f64> {
    let pts = &curve.points;
    for (i, pt) in pts.iter().enumerate() {
        if pt.l2.mean <= l2 {
            if i == 0 {
                return Some(pt.evaluations);
            }
            let a = &pts[i - 1];
            let (x0, x1) = (a.evaluations.ln(), pt.evaluations.ln());
            let t = (a.l2.mean - l2) / (a.l2.mean - pt.l2.mean);
            return Some((x0 + t * (x1 - x0)).exp());
        }
    }
    None
}

/// The curve's mean L2 at `evaluations` (log-linear interpolation; `None` outside its range).
pub fn l2_at(curve: &BudgetCurve, evaluations: f64) -> Option<f64> {
    let pts = &curve.points;
    let x = evaluations.ln();
    pts.windows(2).find_map(|w| {
        let (x0, x1) = (w[0].evaluations.ln(), w[1].evaluations.ln());
        (x0 <= x && x <= x1).then(|| {
            let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.0 };
            w[0].l2.mean + t * (w[1].l2.mean - w[0].l2.mean)
        })
    })
}
