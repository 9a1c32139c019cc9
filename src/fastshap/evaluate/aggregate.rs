//! From per-image records to the answer (`fidelity.json`): every estimator scored against the
//! ground truth with intervals that say how they were made and on how many images; FastSHAP
//! against each of them as a paired difference over images ("beats" only when that interval
//! excludes 0); the best estimator at or below FastSHAP's cost and the best cheap baseline;
//! how additive the games are; the sampling estimators' error against their budget with the
//! evaluations they need to match FastSHAP (bootstrap interval, "≤" at the smallest budget);
//! AUCs; and the timing, speed-up and training break-even from interleaved, repeated timings.

use super::record::{ImageRecord, RunMeta, ShardTiming};
use super::verdict::{Comparison, Verdict};
use super::versus::score_seed;
use crate::fastshap::fidelity::{
    self, BudgetCurve, EstimatorScores, ImageBudget, L2, MatchStat, PEARSON, PerImage, Stat,
    budget_curve, match_stat, per_image, scores_of,
};
use crate::fastshap::mix;
use crate::shap::inclusion_exclusion::trapezoid;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Above this mean additivity a game is called nearly additive in the report.
pub const NEARLY_ADDITIVE: f64 = 0.95;

/// Timing-dependent figures (they differ between runs of the same evaluation).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timing {
    pub device: String,
    /// Interleaved rounds the medians are over.
    pub rounds: usize,
    /// Medians: FastSHAP per image (batch of a shard's images), a single image, one game
    /// evaluation (in calls of `batch` masks).
    pub fastshap_ms_per_image: f64,
    pub fastshap_ms_single_image: f64,
    /// Images per timed FastSHAP batch (0: not recorded, a shard's images).
    #[serde(default)]
    pub fastshap_batch_images: usize,
    pub ms_per_evaluation: f64,
    /// FastSHAP's time per image in game evaluations: its cost on the evaluations axis.
    pub fastshap_cost_in_evaluations: f64,
    /// The best estimator at or below that cost, per metric.
    pub at_cost: Vec<Verdict>,
    pub kernelshap_ms_at_equal_error: Option<f64>,
    pub permutation_ms_at_equal_error: Option<f64>,
    /// KernelSHAP's time at equal error over FastSHAP's per image, with a bootstrap interval
    /// over images (evaluations to match) and rounds (the time ratio); `None` without a match.
    pub speedup_at_equal_error: Option<Stat>,
    /// The explainer's training time, and after how many images FastSHAP (training included)
    /// is cheaper than KernelSHAP at equal error.
    pub training_seconds: Option<f64>,
    pub images_to_break_even: Option<f64>,
    /// The ground truth's time per image (exact: 2^P evaluations).
    pub truth_ms_per_image: f64,
}

/// One method's inclusion/exclusion AUC over images.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AucEntry {
    pub method: String,
    pub mode: String,
    pub top1: Stat,
    pub log_odds: Stat,
}

/// How right the explanations are, in numbers (`fidelity.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fidelity {
    pub players: usize,
    pub classes: usize,
    pub images: usize,
    /// "exact" or "kernelshap".
    pub ground_truth: String,
    /// FastSHAP, its untrained self, the cheap baselines, KernelSHAP to convergence (beside
    /// exact values), each with the evaluations it spends.
    pub scores: Vec<EstimatorScores>,
    /// FastSHAP − each other estimator and each budget point, paired over images.
    pub comparisons: Vec<Comparison>,
    /// The same on the images whose KernelSHAP truth converged, when some but not all did.
    /// Squared errors against a noisy truth carry its noise alike for every estimator, but the
    /// converged images are the easier games, and a win can rest on the others (P = 64: a
    /// 122× tie over 100 images was a loss by L2 on the 68 converged, BENCHMARKS.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparisons_converged: Vec<Comparison>,
    /// The best cheap baseline (leave-one-out, singletons, their mean: ≤ 2P + 2 evaluations)
    /// per metric, and FastSHAP against it.
    pub best_cheap: Vec<Verdict>,
    /// Share of each game's kernel-weighted variance its additive part explains (explained
    /// class), mean over images.
    pub additivity: Stat,
    pub additivity_note: Option<String>,
    /// Error vs evaluations of KernelSHAP and permutation sampling.
    pub budget_curves: Vec<BudgetCurve>,
    pub kernelshap_evaluations_to_match: MatchStat,
    pub permutation_evaluations_to_match: MatchStat,
    pub kernelshap_l2_at_1000: Option<f64>,
    pub auc: Vec<AucEntry>,
    /// Largest |Σφ − (v(N) − v(∅))| of the ground truth.
    pub truth_efficiency_gap: f64,
    /// Images whose KernelSHAP ground truth converged (all, for exact values).
    pub truth_converged: usize,
    /// A KernelSHAP ground truth's ‖σ‖/‖φ‖ on the explained class: median and largest over
    /// images (`None` for exact values), and the tolerance it was run to.
    #[serde(default)]
    pub truth_relative_se: Option<(f64, f64)>,
    #[serde(default)]
    pub truth_tolerance: f64,
    pub timing: Timing,
    /// Fidelity against the explainer's training steps, when its snapshots were scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_curve: Option<super::curve::LearningCurve>,
    /// This explainer against another evaluation's on the same images (`--versus DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versus: Option<super::versus::Versus>,
}

impl Fidelity {
    pub fn score(&self, name: &str) -> Option<&EstimatorScores> {
        self.scores.iter().find(|s| s.name == name)
    }
}

/// Estimators present on some images: (name, evaluations, per-image metrics, positions).
struct Scored {
    name: String,
    evaluations: Option<f64>,
    metrics: PerImage,
    /// Indices into the records of the images it has.
    images: Vec<usize>,
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
}

fn scored_estimators(meta: &RunMeta, records: &[ImageRecord]) -> Vec<Scored> {
    let (p, k) = (meta.players, meta.classes.len());
    let mut names: Vec<String> = Vec::new();
    for r in records {
        for e in &r.estimators {
            if !names.contains(&e.name) {
                names.push(e.name.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let images: Vec<usize> = (0..records.len())
                .filter(|&j| records[j].estimator(&name).is_some())
                .collect();
            let est: Vec<Vec<f64>> = images
                .iter()
                .map(|&j| records[j].estimator(&name).expect("filtered").phi.clone())
                .collect();
            let truth: Vec<Vec<f64>> = images.iter().map(|&j| records[j].truth.clone()).collect();
            let target: Vec<usize> = images.iter().map(|&j| records[j].class).collect();
            let evals: Vec<f64> = images
                .iter()
                .filter_map(|&j| records[j].estimator(&name).and_then(|e| e.evaluations))
                .collect();
            Scored {
                evaluations: (!evals.is_empty())
                    .then(|| evals.iter().sum::<f64>() / evals.len() as f64),
                metrics: per_image(&est, &truth, &target, p, k, meta.top_k),
                images,
                name,
            }
        })
        .collect()
}

/// Per-image (Pearson, L2) at budget `b` of one method's rows (NaN where it could not run),
/// and the mean evaluations it spent there.
fn budget_metric(rows: &[ImageBudget], b: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let cell = |r: &ImageBudget| r.get(b).copied().unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    let evals: Vec<f64> = rows
        .iter()
        .map(|r| cell(r).0)
        .filter(|v| v.is_finite())
        .collect();
    (
        rows.iter().map(|r| cell(r).1).collect(),
        rows.iter().map(|r| cell(r).2).collect(),
        evals.iter().sum::<f64>() / evals.len().max(1) as f64,
    )
}

fn budget_rows(records: &[ImageRecord], method: &str) -> Vec<ImageBudget> {
    records
        .iter()
        .map(|r| {
            r.budgets
                .iter()
                .find(|(m, _)| m == method)
                .map(|(_, c)| c.iter().map(|c| (c.evaluations, c.pearson, c.l2)).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// A candidate FastSHAP is compared with: name, evaluations, per-image Pearson and L2 aligned
/// with the records (NaN where missing).
#[derive(Clone)]
struct Candidate {
    name: String,
    evaluations: Option<f64>,
    pearson: Vec<f64>,
    l2: Vec<f64>,
}

fn aligned(s: &Scored, n: usize, metric: usize) -> Vec<f64> {
    let mut v = vec![f64::NAN; n];
    for (i, &j) in s.images.iter().enumerate() {
        v[j] = s.metrics.predicted[metric][i];
    }
    v
}

fn mean_finite(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    f.iter().sum::<f64>() / f.len() as f64
}

/// The best candidate by `metric` ("pearson": highest mean, "l2": lowest) and FastSHAP
/// against it, paired.
/// FastSHAP − `c` on `metric` ("pearson" or "l2"), paired over images. Seeded by the pair's
/// names, so the comparisons table and the verdicts print the same interval for the same pair.
fn difference(fs: &Candidate, c: &Candidate, metric: &str, resamples: usize, seed: u64) -> Stat {
    // FNV-1a of the estimator's name: a stable seed per pair, whatever order candidates come in.
    let name = c.name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let (a, b, m) = if metric == "pearson" {
        (&fs.pearson, &c.pearson, 50)
    } else {
        (&fs.l2, &c.l2, 51)
    };
    Stat::paired_difference(a, b, resamples, mix(&[seed, m, name]))
}

/// FastSHAP − each candidate on both metrics, paired over the images where `keep` holds (a
/// NaN drops an image from a pair, so FastSHAP's metrics are blanked elsewhere).
fn compare_on(
    fs: &Candidate,
    cands: &[Candidate],
    keep: &[bool],
    resamples: usize,
    seed: u64,
) -> Vec<Comparison> {
    let only = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(keep)
            .map(|(&x, &k)| if k { x } else { f64::NAN })
            .collect()
    };
    let fs = Candidate {
        pearson: only(&fs.pearson),
        l2: only(&fs.l2),
        ..fs.clone()
    };
    cands
        .iter()
        .map(|c| Comparison {
            estimator: c.name.clone(),
            evaluations: c.evaluations,
            pearson_difference: difference(&fs, c, "pearson", resamples, seed),
            l2_difference: difference(&fs, c, "l2", resamples, seed),
        })
        .collect()
}

fn verdict(
    fs: &Candidate,
    cands: &[&Candidate],
    metric: &str,
    resamples: usize,
    seed: u64,
) -> Option<Verdict> {
    let pick = |c: &Candidate| {
        if metric == "pearson" {
            c.pearson.clone()
        } else {
            c.l2.clone()
        }
    };
    let best = cands
        .iter()
        .filter(|c| mean_finite(&pick(c)).is_finite())
        .max_by(|a, b| {
            let (x, y) = (mean_finite(&pick(a)), mean_finite(&pick(b)));
            if metric == "pearson" {
                x.total_cmp(&y)
            } else {
                y.total_cmp(&x)
            }
        })?;
    let d = difference(fs, best, metric, resamples, seed);
    let better = if metric == "pearson" {
        d.sign()
    } else {
        -d.sign()
    };
    Some(Verdict {
        metric: metric.into(),
        best: best.name.clone(),
        evaluations: best.evaluations,
        best_mean: mean_finite(&pick(best)),
        fastshap_mean: mean_finite(&pick(fs)),
        difference: d,
        fastshap_beats: better == 1,
        fastshap_loses: better == -1,
    })
}

fn auc_entries(records: &[ImageRecord], resamples: usize, seed: u64) -> Vec<AucEntry> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in records {
        for c in &r.curves {
            let key = (c.method.clone(), c.mode.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .enumerate()
        .map(|(i, (method, mode))| {
            let (mut top1, mut lo) = (Vec::new(), Vec::new());
            for r in records {
                if let Some(c) = r
                    .curves
                    .iter()
                    .find(|c| c.method == method && c.mode == mode)
                {
                    top1.push(trapezoid(&c.x, &c.top1));
                    lo.push(trapezoid(&c.x, &c.log_odds));
                }
            }
            let s = mix(&[seed, 40, i as u64]);
            AucEntry {
                top1: Stat::of(&top1, resamples, s),
                log_odds: Stat::of(&lo, resamples, s + 1),
                method,
                mode,
            }
        })
        .collect()
}

/// Speed-up at equal error with a bootstrap interval: images resampled for the evaluations to
/// match, interleaved rounds resampled for the ratio of one evaluation's time to FastSHAP's.
fn speedup(
    budgets: &[usize],
    rows: &[ImageBudget],
    fs_l2: &[f64],
    timing: &ShardTiming,
    point: Option<f64>,
    resamples: usize,
    seed: u64,
) -> Option<Stat> {
    let ratios: Vec<f64> = timing.rounds.iter().map(|(fs, ev)| ev / fs).collect();
    let point = point? * median(&ratios);
    let n = rows.len();
    let mut out = Stat {
        mean: point,
        lo: f64::NAN,
        hi: f64::NAN,
        n,
        interval: fidelity::Interval::None,
    };
    if n >= fidelity::MIN_BOOTSTRAP_N && ratios.len() >= 3 && resamples > 0 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut got: Vec<f64> = (0..resamples)
            .map(|_| {
                let imgs: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                let r: Vec<ImageBudget> = imgs.iter().map(|&j| rows[j].clone()).collect();
                let t: Vec<f64> = imgs.iter().map(|&j| fs_l2[j]).collect();
                let m = match_stat(budgets, &r, &t, 0, 0).point;
                let rr: Vec<f64> = (0..ratios.len())
                    .map(|_| ratios[rng.random_range(0..ratios.len())])
                    .collect();
                m.map_or(f64::INFINITY, |m| m.evaluations * median(&rr))
            })
            .collect();
        got.sort_by(f64::total_cmp);
        let q = |f: f64| got[((f * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
        out.lo = q(0.025);
        out.hi = q(0.975);
        out.interval = fidelity::Interval::Bootstrap;
    }
    Some(out)
}

/// The whole answer from the run's records.
pub fn aggregate(
    meta: &RunMeta,
    records: &[ImageRecord],
    timing: &ShardTiming,
    resamples: usize,
) -> Fidelity {
    let n = records.len();
    let (p, k) = (meta.players, meta.classes.len());
    let seed = meta.seed;
    let scored = scored_estimators(meta, records);
    let scores: Vec<EstimatorScores> = scored
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut e = scores_of(&s.name, &s.metrics, resamples, score_seed(seed, i));
            e.evaluations = s.evaluations;
            e
        })
        .collect();

    // Candidates: every other estimator and every budget point, aligned per image.
    let cand_of = |s: &Scored| Candidate {
        name: s.name.clone(),
        evaluations: s.evaluations,
        pearson: aligned(s, n, PEARSON),
        l2: aligned(s, n, L2),
    };
    let fs = cand_of(&scored[0]);
    let mut cands: Vec<Candidate> = scored.iter().skip(1).map(cand_of).collect();
    let (ks_rows, perm_rows) = (
        budget_rows(records, "kernelshap"),
        budget_rows(records, "permutation"),
    );
    for (method, rows) in [("kernelshap", &ks_rows), ("permutation", &perm_rows)] {
        for (b, &budget) in meta.budgets.iter().enumerate() {
            let (pearson, l2, evals) = budget_metric(rows, b);
            if l2.iter().any(|v| v.is_finite()) {
                cands.push(Candidate {
                    name: format!("{method} @ {budget}"),
                    evaluations: Some(evals),
                    pearson,
                    l2,
                });
            }
        }
    }
    let comparisons = compare_on(&fs, &cands, &vec![true; n], resamples, seed);
    let converged: Vec<bool> = records.iter().map(|r| r.truth_converged).collect();
    let comparisons_converged = match converged.iter().filter(|&&c| c).count() {
        c if c == 0 || c == n => Vec::new(),
        _ => compare_on(&fs, &cands, &converged, resamples, seed),
    };
    let cheap_names = &crate::shap::baselines::NAMES[..3];
    let cheap: Vec<&Candidate> = cands
        .iter()
        .filter(|c| cheap_names.contains(&c.name.as_str()))
        .collect();
    let best_cheap: Vec<Verdict> = ["pearson", "l2"]
        .iter()
        .filter_map(|m| verdict(&fs, &cheap, m, resamples, seed))
        .collect();

    let additivity = Stat::of(
        &records.iter().map(|r| r.additivity).collect::<Vec<_>>(),
        resamples,
        mix(&[seed, 60]),
    );
    let cheap_pearson = best_cheap
        .iter()
        .find(|v| v.metric == "pearson")
        .map_or(f64::NAN, |v| v.best_mean);
    let additivity_note = if additivity.mean >= NEARLY_ADDITIVE {
        Some(format!(
            "These games are nearly additive ({:.1}% of v's kernel-weighted variance is additive): \
             leave-one-out and singletons are then close to exact, so this game cannot separate a \
             good explainer from a cheap one.",
            100.0 * additivity.mean
        ))
    } else if cheap_pearson >= NEARLY_ADDITIVE {
        // The mean of leave-one-out and singletons is exact for games whose interactions are
        // at most pairwise: a low additivity with a near-exact cheap baseline means that.
        Some(format!(
            "The games are not additive, but their interactions are nearly all pairwise: the \
             best cheap baseline already reaches Pearson {cheap_pearson:.3} with the truth, so \
             this game can hardly separate a good explainer from a cheap one."
        ))
    } else {
        None
    };
    let budget_curves: Vec<BudgetCurve> = if meta.budgets.is_empty() {
        Vec::new()
    } else {
        vec![
            budget_curve(
                "kernelshap",
                &meta.budgets,
                &ks_rows,
                resamples,
                mix(&[seed, 24]),
            ),
            budget_curve(
                "permutation",
                &meta.budgets,
                &perm_rows,
                resamples,
                mix(&[seed, 25]),
            ),
        ]
    };
    let fs_l2 = &fs.l2;
    let (ks_match, perm_match) = (
        match_stat(&meta.budgets, &ks_rows, fs_l2, resamples, mix(&[seed, 26])),
        match_stat(
            &meta.budgets,
            &perm_rows,
            fs_l2,
            resamples,
            mix(&[seed, 27]),
        ),
    );

    // Timing: medians of interleaved rounds.
    let fs_s = median(&timing.rounds.iter().map(|r| r.0).collect::<Vec<_>>());
    let ev_s = median(&timing.rounds.iter().map(|r| r.1).collect::<Vec<_>>());
    let cost = fs_s / ev_s;
    let at_cost_cands: Vec<&Candidate> = cands
        .iter()
        .filter(|c| c.evaluations.is_some_and(|e| e <= cost))
        .collect();
    let at_cost: Vec<Verdict> = ["pearson", "l2"]
        .iter()
        .filter_map(|m| verdict(&fs, &at_cost_cands, m, resamples, seed))
        .collect();
    let ks_ms = ks_match.point.map(|m| m.evaluations * ev_s * 1e3);
    let training_seconds = meta.training_seconds;
    let images_to_break_even = ks_ms.zip(training_seconds).and_then(|(ks, train)| {
        let saved = ks - fs_s * 1e3;
        (saved > 0.0).then(|| train * 1e3 / saved)
    });
    let timing_out = Timing {
        device: timing.device.clone(),
        rounds: timing.rounds.len(),
        fastshap_ms_per_image: fs_s * 1e3,
        fastshap_ms_single_image: median(&timing.single) * 1e3,
        fastshap_batch_images: timing.batch_images,
        ms_per_evaluation: ev_s * 1e3,
        fastshap_cost_in_evaluations: cost,
        at_cost,
        kernelshap_ms_at_equal_error: ks_ms,
        permutation_ms_at_equal_error: perm_match.point.map(|m| m.evaluations * ev_s * 1e3),
        speedup_at_equal_error: speedup(
            &meta.budgets,
            &ks_rows,
            fs_l2,
            timing,
            ks_match.point.map(|m| m.evaluations),
            resamples,
            mix(&[seed, 28]),
        ),
        training_seconds,
        images_to_break_even,
        truth_ms_per_image: timing.truth_seconds / n.max(1) as f64 * 1e3,
    };
    let learning_curve =
        super::curve::learning_curve(meta, records, &scores, &best_cheap, resamples);
    Fidelity {
        players: p,
        classes: k,
        images: n,
        ground_truth: meta.ground_truth.clone(),
        scores,
        comparisons,
        comparisons_converged,
        best_cheap,
        additivity,
        additivity_note,
        kernelshap_l2_at_1000: budget_curves
            .first()
            .and_then(|c| fidelity::l2_at(c, 1000.0)),
        budget_curves,
        kernelshap_evaluations_to_match: ks_match,
        permutation_evaluations_to_match: perm_match,
        auc: auc_entries(records, resamples, seed),
        truth_efficiency_gap: records.iter().map(|r| r.efficiency_gap).fold(0.0, f64::max),
        truth_converged: records.iter().filter(|r| r.truth_converged).count(),
        truth_relative_se: {
            let se: Vec<f64> = records
                .iter()
                .filter_map(|r| r.truth_relative_se(p, k))
                .collect();
            (!se.is_empty()).then(|| (median(&se), se.iter().copied().fold(0.0, f64::max)))
        },
        truth_tolerance: meta.truth_tolerance,
        timing: timing_out,
        learning_curve,
        versus: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, pearson: &[f64], l2: &[f64]) -> Candidate {
        Candidate {
            name: name.into(),
            evaluations: Some(10.0),
            pearson: pearson.to_vec(),
            l2: l2.to_vec(),
        }
    }

    /// Restricted to the kept images, a comparison is the one on those images alone; a
    /// candidate missing an image (NaN) drops it there too.
    #[test]
    fn comparisons_on_a_subset_pair_only_its_images() {
        let fs = cand("fastshap", &[0.9, 0.8, 0.7, 0.6], &[0.1, 0.2, 0.3, 0.4]);
        let other = cand("other", &[0.5, 0.9, 0.7, f64::NAN], &[0.3, 0.1, 0.3, 0.2]);
        let keep = [true, false, true, true];
        let sub = compare_on(&fs, std::slice::from_ref(&other), &keep, 200, 1);
        let alone = compare_on(
            &cand("fastshap", &[0.9, 0.7, 0.6], &[0.1, 0.3, 0.4]),
            &[cand("other", &[0.5, 0.7, f64::NAN], &[0.3, 0.3, 0.2])],
            &[true; 3],
            200,
            1,
        );
        let (p, l) = (&sub[0].pearson_difference, &sub[0].l2_difference);
        assert_eq!((p.n, l.n), (2, 3));
        assert!((p.mean - 0.2).abs() < 1e-12, "{p:?}");
        assert!((l.mean - 0.0).abs() < 1e-12, "{l:?}");
        assert_eq!(*p, alone[0].pearson_difference);
        assert_eq!(*l, alone[0].l2_difference);
        // Everything kept: the full comparison, image 1's L2 difference (+0.1) included.
        let all = compare_on(&fs, &[other], &[true; 4], 200, 1);
        assert_eq!(all[0].l2_difference.n, 4);
        assert!((all[0].l2_difference.mean - 0.025).abs() < 1e-12);
    }
}
