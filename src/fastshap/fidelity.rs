//! How right are explanations? Scores of any estimator against exact Shapley values, with
//! bootstrap intervals over images, and the error of the sampling estimators (KernelSHAP,
//! permutation sampling) as a function of their budget of game evaluations, so one explainer
//! pass can be placed on the same axis: "KernelSHAP needs N evaluations to be this good".
//!
//! The budget curves run on the image's full table of 2^P values (computed once for the exact
//! values), so they cost host time only; their GPU cost is the budget × the measured time of one
//! evaluation.

use crate::shap::Game;
use crate::shap::inclusion_exclusion::bootstrap_ci;
use crate::shap::kernelshap::{KernelShapConfig, Singular, kernel_shap};
use crate::shap::metrics;
use crate::shap::permutation::{PermutationConfig, evaluations_per_order, permutation_shapley};
use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Below this many images a percentile bootstrap covers far less than its nominal 95% (it
/// cannot see the tails of what it resamples): smaller samples get Student-t intervals instead.
pub const MIN_BOOTSTRAP_N: usize = 10;

/// Two-sided 95% quantiles of Student's t for 1…9 degrees of freedom (the standard table; only
/// used below [`MIN_BOOTSTRAP_N`] images, so nine values are all that is ever needed).
const T95: [f64; 9] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
];

/// How a [`Stat`]'s interval was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// 95% percentile bootstrap over images (n ≥ 10).
    #[default]
    Bootstrap,
    /// 95% Student-t interval of the mean (2 ≤ n < 10): only as good as normality allows.
    T,
    /// One value: no interval at all.
    None,
}

/// A mean over images with its 95% interval (percentile bootstrap from 10 images, Student t
/// below) and the number of images it rests on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Finite values the mean is over.
    #[serde(default)]
    pub n: usize,
    #[serde(default)]
    pub interval: Interval,
}

impl Stat {
    /// A Stat that rests on nothing.
    pub fn none() -> Stat {
        Stat {
            mean: f64::NAN,
            lo: f64::NAN,
            hi: f64::NAN,
            n: 0,
            interval: Interval::None,
        }
    }

    /// Mean and interval of `values` (NaNs, e.g. the Pearson of a constant φ, are dropped).
    pub fn of(values: &[f64], resamples: usize, seed: u64) -> Stat {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return Stat::none();
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let (lo, hi, interval) = if n == 1 {
            (f64::NAN, f64::NAN, Interval::None)
        } else if n < MIN_BOOTSTRAP_N {
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
            let half = T95[n - 2] * (var / n as f64).sqrt();
            (mean - half, mean + half, Interval::T)
        } else {
            let (lo, hi) = bootstrap_ci(&v, resamples, 0.95, seed);
            (lo, hi, Interval::Bootstrap)
        };
        Stat {
            mean,
            lo,
            hi,
            n,
            interval,
        }
    }

    /// The per-image difference a − b over images where both are finite (paired), as a Stat.
    pub fn paired_difference(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> Stat {
        let d: Vec<f64> = a
            .iter()
            .zip(b)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| x - y)
            .collect();
        Stat::of(&d, resamples, seed)
    }

    /// Whether the interval lies wholly above (1), below (−1) or across (0) zero.
    pub fn sign(&self) -> i8 {
        if self.lo > 0.0 {
            1
        } else if self.hi < 0.0 {
            -1
        } else {
            0
        }
    }

    /// "0.733 [0.680, 0.850]"; a t interval says so with its n, one value is "indicative".
    pub fn fmt(&self) -> String {
        match self.interval {
            _ if self.n == 0 => "–".into(),
            Interval::Bootstrap => format!("{:.3} [{:.3}, {:.3}]", self.mean, self.lo, self.hi),
            Interval::T => format!(
                "{:.3} [{:.3}, {:.3}] (t, n = {})",
                self.mean, self.lo, self.hi, self.n
            ),
            Interval::None => format!("{:.3} (indicative, n = 1)", self.mean),
        }
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
    /// Game evaluations per image it spends (`None`: an explainer pass).
    #[serde(default)]
    pub evaluations: Option<f64>,
    pub predicted: Scores,
    pub all_classes: Scores,
}

/// Class `c`'s P values of a P×K player-major φ.
pub fn column(phi: &[f64], p: usize, k: usize, c: usize) -> Vec<f64> {
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

/// One estimator's four metrics per image: on the explained class and averaged over classes.
/// Index 0 Pearson, 1 Spearman, 2 L2, 3 sign agreement; `[metric][image]`.
pub struct PerImage {
    pub predicted: Vec<Vec<f64>>,
    pub all_classes: Vec<Vec<f64>>,
}

/// Metric indices of [`PerImage`].
pub const PEARSON: usize = 0;
pub const L2: usize = 2;

/// The metrics of `est` against `truth` per image (both P×K player-major); `target[j]` is
/// image j's explained class. Each (image, class) is judged on its own column, so per-class
/// offsets (which additive normalisation gets right for free) earn nothing.
pub fn per_image(
    est: &[Vec<f64>],
    truth: &[Vec<f64>],
    target: &[usize],
    p: usize,
    k: usize,
    top_k: usize,
) -> PerImage {
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
    PerImage {
        predicted: pred,
        all_classes: all,
    }
}

/// Scores `est` against `truth` (see [`per_image`]) as means over images with intervals.
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
    scores_of(
        name,
        &per_image(est, truth, target, p, k, top_k),
        resamples,
        seed,
    )
}

/// [`EstimatorScores`] from metrics already computed per image.
pub fn scores_of(name: &str, m: &PerImage, resamples: usize, seed: u64) -> EstimatorScores {
    let scores = |v: &[Vec<f64>], s: u64| Scores {
        pearson: Stat::of(&v[0], resamples, s),
        spearman: Stat::of(&v[1], resamples, s + 1),
        l2: Stat::of(&v[2], resamples, s + 2),
        sign_agreement: Stat::of(&v[3], resamples, s + 3),
    };
    EstimatorScores {
        name: name.into(),
        evaluations: None,
        predicted: scores(&m.predicted, seed),
        all_classes: scores(&m.all_classes, seed.wrapping_add(10)),
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

/// Per image and budget: (evaluations used, Pearson, L2) on the explained class; NaN where the
/// budget is too small for the estimator.
pub type ImageBudget = Vec<(f64, f64, f64)>;

/// Smallest budget permutation sampling can spend: one order and its reverse.
pub fn permutation_min_budget(p: usize) -> usize {
    2 + 2 * evaluations_per_order(p)
}

/// Smallest budget KernelSHAP is tried at: A = E[z zᵀ] gains rank ≤ 2 per pair, so fewer than
/// P/2 pairs leave it singular for certain. Above that it may still be singular for an unlucky
/// draw; such (image, budget) cells are NaN and the point's `n` says how many images it has.
pub fn kernelshap_min_budget(p: usize) -> usize {
    2 + 2 * p.div_ceil(2)
}

/// KernelSHAP (run to its budget, no early stop) and permutation sampling (antithetic) on one
/// image's game, at each budget, judged against `exact` on class `target`.
pub fn budget_errors(
    game: &dyn Game,
    exact: &[f64],
    target: usize,
    budgets: &[usize],
    seed: u64,
) -> Result<(ImageBudget, ImageBudget)> {
    let (p, k) = (game.players(), game.outputs());
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
        ks.push(if budget >= kernelshap_min_budget(p) {
            let r = kernel_shap(
                game,
                &KernelShapConfig {
                    batch_pairs: (budget / 8).clamp(p / 2 + 1, 512),
                    threshold: 0.0,
                    max_evals: budget,
                    seed: seed.wrapping_add(b as u64),
                    target: Some(target),
                    relative_se: 0.0,
                },
            );
            match r {
                Ok(r) => judge(&r.phi, r.evaluations),
                Err(e) if e.downcast_ref::<Singular>().is_some() => nan,
                Err(e) => return Err(e),
            }
        } else {
            nan
        });
        perm.push(if budget >= permutation_min_budget(p) {
            let r = permutation_shapley(
                game,
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

/// Summarises per-image budget rows (`rows[j][b]`) into a curve; budgets no image could run
/// are left out.
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

/// Where a sampling estimator's mean error first reaches a target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub evaluations: f64,
    /// Already at the smallest budget tried: the true figure is this many or fewer.
    pub at_most: bool,
}

impl Match {
    /// "≤ 38" at the smallest budget, else the interpolated count.
    pub fn fmt(&self) -> String {
        if self.at_most {
            format!("≤ {:.0}", self.evaluations)
        } else {
            format!("{:.0}", self.evaluations)
        }
    }
}

/// The evaluations at which the mean L2 over budgets (`(evaluations, mean L2)` points) first
/// falls to `l2` (log-linear interpolation between budgets), or `None` when it never does
/// within the budgets tried.
fn match_on(pts: &[(f64, f64)], l2: f64) -> Option<Match> {
    for (i, &(e, m)) in pts.iter().enumerate() {
        if m <= l2 {
            if i == 0 {
                return Some(Match {
                    evaluations: e,
                    at_most: true,
                });
            }
            let (e0, m0) = pts[i - 1];
            let (x0, x1) = (e0.ln(), e.ln());
            let t = (m0 - l2) / (m0 - m);
            return Some(Match {
                evaluations: (x0 + t * (x1 - x0)).exp(),
                at_most: false,
            });
        }
    }
    None
}

/// The evaluations at which `curve`'s mean L2 first falls to `l2`.
pub fn evaluations_to_match(curve: &BudgetCurve, l2: f64) -> Option<Match> {
    let pts: Vec<(f64, f64)> = curve
        .points
        .iter()
        .map(|p| (p.evaluations, p.l2.mean))
        .collect();
    match_on(&pts, l2)
}

/// Evaluations-to-match with a 95% bootstrap interval over images: each resample recomputes
/// the estimator's mean L2 per budget and FastSHAP's mean L2 on the same images (paired).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchStat {
    /// On all images; `None`: not within the budgets tried.
    pub point: Option<Match>,
    /// Percentiles of the resampled match; `None` where more than 2.5% of resamples never
    /// matched (the bound lies beyond the largest budget) — or where images are too few for a
    /// bootstrap (n < 10: the point is indicative only).
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub n: usize,
}

impl MatchStat {
    pub fn fmt(&self, largest: f64) -> String {
        let Some(m) = self.point else {
            return format!("> {largest:.0} (never within the budgets tried)");
        };
        if self.n < MIN_BOOTSTRAP_N {
            return format!("{} (indicative, n = {})", m.fmt(), self.n);
        }
        let b = |v: Option<f64>| v.map_or(format!("> {largest:.0}"), |v| format!("{v:.0}"));
        format!("{} [{}, {}]", m.fmt(), b(self.lo), b(self.hi))
    }
}

/// [`MatchStat`] of an estimator whose per-image rows are `rows[j][b]` against FastSHAP's
/// per-image L2 `target[j]`.
pub fn match_stat(
    budgets: &[usize],
    rows: &[ImageBudget],
    target: &[f64],
    resamples: usize,
    seed: u64,
) -> MatchStat {
    let n = rows.len();
    let curve_of = |sample: &[usize]| -> (Vec<(f64, f64)>, f64) {
        let pts = (0..budgets.len())
            .filter_map(|b| {
                let cells: Vec<(f64, f64)> = sample
                    .iter()
                    .map(|&j| (rows[j][b].0, rows[j][b].2))
                    .filter(|c| c.0.is_finite() && c.1.is_finite())
                    .collect();
                (!cells.is_empty()).then(|| {
                    let m = cells.len() as f64;
                    (
                        cells.iter().map(|c| c.0).sum::<f64>() / m,
                        cells.iter().map(|c| c.1).sum::<f64>() / m,
                    )
                })
            })
            .collect();
        let t: Vec<f64> = sample
            .iter()
            .map(|&j| target[j])
            .filter(|v| v.is_finite())
            .collect();
        (pts, t.iter().sum::<f64>() / t.len().max(1) as f64)
    };
    let all: Vec<usize> = (0..n).collect();
    let (pts, t) = curve_of(&all);
    let point = match_on(&pts, t);
    let (mut lo, mut hi) = (None, None);
    if n >= MIN_BOOTSTRAP_N && resamples > 0 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut got: Vec<f64> = (0..resamples)
            .map(|_| {
                let s: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                let (pts, t) = curve_of(&s);
                match_on(&pts, t).map_or(f64::INFINITY, |m| m.evaluations)
            })
            .collect();
        got.sort_by(f64::total_cmp);
        let q = |f: f64| got[((f * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
        let fin = |v: f64| v.is_finite().then_some(v);
        lo = fin(q(0.025));
        hi = fin(q(0.975));
    }
    MatchStat { point, lo, hi, n }
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
