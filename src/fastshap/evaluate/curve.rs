//! The learning curve: the explainer's fidelity to the ground truth against its training steps,
//! from the snapshots its run kept ([`crate::train::snapshots`]). Each snapshot costs one
//! explainer pass per image; the ground truth and the cheap baselines are the evaluation's own,
//! so every point is scored on the same images against the same truth. Where FastSHAP misses
//! its fidelity goal, this says whether more training would close the gap: the last snapshot
//! against the one before, paired over images.

use super::record::{ImageRecord, RunMeta};
use super::verdict::Verdict;
use crate::Tensor;
use crate::fastshap::SurrogateModel;
use crate::fastshap::explainer::{Explainer, Explanation, explain_batch};
use crate::fastshap::fidelity::{EstimatorScores, Stat, column};
use crate::fastshap::mix;
use crate::shap::metrics;
use crate::train::snapshots;
use crate::viz::{PlotOptions, Series, line_plot};
use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const CURVE_JSON: &str = "learning_curve.json";
pub const CURVE_MD: &str = "learning_curve.md";
pub const CURVE_SVG: &str = "learning_curve.svg";
pub const CURVE_L2_SVG: &str = "learning_curve_l2.svg";

/// The estimator whose scores stand for step 0.
const UNTRAINED: &str = "fastshap (untrained)";

/// The explainer's fidelity at one training step (explained class, over images).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Optimizer steps; 0 is the untrained explainer.
    pub step: u64,
    pub pearson: Stat,
    pub l2: Stat,
}

/// A reference line: the best cheap baseline by one metric.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reference {
    /// "pearson" or "l2".
    pub metric: String,
    pub name: String,
    pub evaluations: Option<f64>,
    pub value: Stat,
}

/// `learning_curve.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LearningCurve {
    /// The untrained explainer (step 0), then every snapshot by step.
    pub points: Vec<CurvePoint>,
    /// The best cheap baseline by Pearson and by L2.
    pub references: Vec<Reference>,
    /// Last snapshot − the one before, paired over images (none with one snapshot).
    pub last_pearson_change: Option<Stat>,
    pub last_l2_change: Option<Stat>,
    /// Whether fidelity was still improving at the last step, in one sentence.
    pub verdict: String,
}

/// The snapshots a run kept beside `explainer` (its run directory's `snapshots/`), by step.
pub fn snapshots_beside(explainer: &Path) -> Result<Vec<(u64, PathBuf)>> {
    match explainer.parent() {
        Some(dir) => snapshots::list(dir),
        None => Ok(Vec::new()),
    }
}

/// Snapshot checkpoints named one by one, by step (each step once).
pub fn snapshots_at(paths: &[PathBuf]) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = paths
        .iter()
        .map(|p| Ok((snapshots::step_of(p)?, p.clone())))
        .collect::<Result<Vec<_>>>()?;
    out.sort();
    for w in out.windows(2) {
        ensure!(
            w[0].0 != w[1].0,
            "{} and {} are both snapshots of step {}",
            w[0].1.display(),
            w[1].1.display(),
            w[0].0
        );
    }
    Ok(out)
}

/// Each snapshot's explanation of the images `x`: (step, explanation), one pass each. A
/// snapshot of another run (another explainer config) is refused: its curve would mean nothing.
pub(super) fn explain_snapshots(
    snaps: &[(u64, PathBuf)],
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    x: &Tensor,
) -> Result<Vec<(u64, Explanation)>> {
    let mut out = Vec::with_capacity(snaps.len());
    for (step, path) in snaps {
        let (e, _) =
            Explainer::load(path).with_context(|| format!("snapshot {}", path.display()))?;
        ensure!(
            e.config == explainer.config,
            "snapshot {} is from another run: its explainer config differs from the evaluated \
             explainer's",
            path.display()
        );
        out.push((*step, explain_batch(&e, surrogate, x)?));
    }
    Ok(out)
}

/// Per image, aligned with `records` (NaN where `phi_of` has none): Pearson and L2 with the
/// truth on the explained class.
fn per_image(
    meta: &RunMeta,
    records: &[ImageRecord],
    phi_of: impl Fn(&ImageRecord) -> Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let (p, k) = (meta.players, meta.classes.len());
    records
        .iter()
        .map(|r| match phi_of(r) {
            Some(phi) => {
                let (a, b) = (column(phi, p, k, r.class), column(&r.truth, p, k, r.class));
                (metrics::pearson(&a, &b), metrics::l2(&a, &b))
            }
            None => (f64::NAN, f64::NAN),
        })
        .unzip()
}

/// The curve from the records' snapshots; `None` when they have none. `scores` and `best_cheap`
/// are the evaluation's own (the reference lines).
pub fn learning_curve(
    meta: &RunMeta,
    records: &[ImageRecord],
    scores: &[EstimatorScores],
    best_cheap: &[Verdict],
    resamples: usize,
) -> Option<LearningCurve> {
    let mut steps: Vec<u64> = records
        .iter()
        .flat_map(|r| r.snapshots.iter().map(|s| s.step))
        .collect();
    steps.sort_unstable();
    steps.dedup();
    if steps.is_empty() {
        return None;
    }
    let seed = meta.seed;
    let point = |step: u64, (pearson, l2): &(Vec<f64>, Vec<f64>)| CurvePoint {
        step,
        pearson: Stat::of(pearson, resamples, mix(&[seed, 70, step])),
        l2: Stat::of(l2, resamples, mix(&[seed, 71, step])),
    };
    let untrained = per_image(meta, records, |r| {
        r.estimator(UNTRAINED).map(|e| e.phi.as_slice())
    });
    let per_step: Vec<(Vec<f64>, Vec<f64>)> = steps
        .iter()
        .map(|&s| {
            per_image(meta, records, |r| {
                r.snapshots
                    .iter()
                    .find(|x| x.step == s)
                    .map(|x| x.phi.as_slice())
            })
        })
        .collect();
    let mut points = vec![point(0, &untrained)];
    points.extend(steps.iter().zip(&per_step).map(|(&s, m)| point(s, m)));
    let change = |metric: usize, tag: u64| {
        let [.., before, last] = per_step.as_slice() else {
            return None;
        };
        let pick = |m: &(Vec<f64>, Vec<f64>)| {
            if metric == 0 {
                m.0.clone()
            } else {
                m.1.clone()
            }
        };
        Some(Stat::paired_difference(
            &pick(last),
            &pick(before),
            resamples,
            mix(&[seed, tag]),
        ))
    };
    let references = best_cheap
        .iter()
        .filter_map(|v| {
            let s = scores.iter().find(|s| s.name == v.best)?;
            Some(Reference {
                metric: v.metric.clone(),
                name: v.best.clone(),
                evaluations: v.evaluations,
                value: if v.metric == "pearson" {
                    s.predicted.pearson
                } else {
                    s.predicted.l2
                },
            })
        })
        .collect();
    let mut c = LearningCurve {
        points,
        references,
        last_pearson_change: change(0, 72),
        last_l2_change: change(1, 73),
        verdict: String::new(),
    };
    c.verdict = verdict(&c);
    Some(c)
}

impl LearningCurve {
    fn reference(&self, metric: &str) -> Option<&Reference> {
        self.references.iter().find(|r| r.metric == metric)
    }
}

/// "Fidelity was still improving at the last step: …", from the last two snapshots' paired
/// Pearson change, with where the last one stands against the best cheap baseline.
fn verdict(c: &LearningCurve) -> String {
    let last = c.points.last().expect("a curve has points");
    let before = &c.points[c.points.len() - 2];
    let mut o = match &c.last_pearson_change {
        None => format!(
            "Only one snapshot (step {}): no trend can be read from it.",
            last.step
        ),
        Some(d) => {
            let state = match d.sign() {
                1 => "still improving at the last step (more training would likely raise it)",
                -1 => "getting worse at the last step",
                _ => "no longer measurably improving at the last step",
            };
            let l2 = c
                .last_l2_change
                .map(|l| format!(", L2 by {}", l.fmt()))
                .unwrap_or_default();
            format!(
                "Fidelity was {state}: from step {} to step {} Pearson with the truth changed by \
                 {}{l2} (last − before, paired over images).",
                before.step,
                last.step,
                d.fmt()
            )
        }
    };
    // A noisy or falling curve: the last step alone would hide a better snapshot before it.
    let best = c
        .points
        .iter()
        .filter(|p| p.step > 0 && p.pearson.mean.is_finite())
        .max_by(|a, b| a.pearson.mean.total_cmp(&b.pearson.mean));
    if let Some(b) = best.filter(|b| b.step != last.step) {
        let _ = write!(
            o,
            " The best snapshot by Pearson was step {} ({}).",
            b.step,
            b.pearson.fmt()
        );
    }
    if let Some(r) = c.reference("pearson") {
        let gap = last.pearson.mean - r.value.mean;
        let _ = write!(
            o,
            " At step {} its Pearson {:.3} is {} the best cheap baseline's ({}, {:.3}).",
            last.step,
            last.pearson.mean,
            if gap >= 0.0 { "at or above" } else { "below" },
            r.name,
            r.value.mean
        );
    }
    o
}

/// The `## Learning curve` section of the evaluation's report.
pub fn markdown(c: &LearningCurve, truth: &str) -> String {
    let mut o = format!(
        "## Learning curve\n\nThe explainer's training snapshots scored against the {truth} \
         ground truth on the same images (explained class, mean with 95% interval); step 0 is \
         the untrained explainer, the best cheap baselines are the reference.\n\n\
         | step | Pearson | L2 |\n|---:|---|---|\n"
    );
    for p in &c.points {
        let step = if p.step == 0 {
            "0 (untrained)".to_string()
        } else {
            p.step.to_string()
        };
        let _ = writeln!(o, "| {step} | {} | {} |", p.pearson.fmt(), p.l2.fmt());
    }
    for r in &c.references {
        let evals = r
            .evaluations
            .map(|e| format!(", {e:.0} evaluations"))
            .unwrap_or_default();
        let (pe, l2) = if r.metric == "pearson" {
            (r.value.fmt(), "".into())
        } else {
            ("".into(), r.value.fmt())
        };
        let _ = writeln!(
            o,
            "| best cheap by {}: {}{evals} | {pe} | {l2} |",
            r.metric, r.name
        );
    }
    // The plots are linked from the report's list of plots (an HTML report inlines them).
    let _ = writeln!(o, "\n{}\n", c.verdict);
    o
}

/// One metric ("pearson" or "l2") against log₂ steps, the best cheap baseline dashed.
pub fn plot(c: &LearningCurve, metric: &str, images: usize) -> String {
    let value = |p: &CurvePoint| {
        if metric == "pearson" {
            p.pearson.mean
        } else {
            p.l2.mean
        }
    };
    let trained: Vec<&CurvePoint> = c.points.iter().filter(|p| p.step > 0).collect();
    let xs: Vec<f64> = trained.iter().map(|p| (p.step as f64).log2()).collect();
    let mut series = vec![Series::new(
        "fastshap",
        xs.clone(),
        trained.iter().map(|p| value(p)).collect(),
    )];
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    if let Some(r) = c.reference(metric) {
        let mut s = Series::new(&r.name, vec![lo, hi], vec![r.value.mean; 2]);
        s.dashed = true;
        series.push(s);
    }
    let (name, better) = if metric == "pearson" {
        ("Pearson", "higher")
    } else {
        ("L2", "lower")
    };
    line_plot(
        &series,
        &PlotOptions {
            title: format!("{name} with the truth against training steps ({images} images)"),
            x_label: "log₂ training steps".into(),
            y_label: format!("mean {name}, explained class ({better} is better)"),
            ..PlotOptions::default()
        },
    )
}

/// Writes `learning_curve.json`, `.md` and both plots through `write`.
pub(super) fn write_files(
    c: &LearningCurve,
    truth: &str,
    images: usize,
    write: &mut dyn FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    write(CURVE_JSON, serde_json::to_string_pretty(c)?.as_bytes())?;
    write(CURVE_MD, markdown(c, truth).as_bytes())?;
    write(CURVE_SVG, plot(c, "pearson", images).as_bytes())?;
    write(CURVE_L2_SVG, plot(c, "l2", images).as_bytes())
}
