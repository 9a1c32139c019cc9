//! The evaluation's files from records and the aggregated answer: `fidelity.md` (the answer
//! first), `errors.csv`/`errors.md`, `auc.md`, `curves.csv` and `curves_*.svg`, `timing.md`,
//! `budget.svg`, the Shapley maps and `report.md`. Every table states the n each row rests on.

use super::aggregate::Fidelity;
use super::record::{ImageRecord, RunMeta};
use super::verdict::Verdict;
use crate::fastshap::fidelity::column;
use crate::shap::metrics;
use crate::viz::{
    Direction, HeatmapOptions, HeatmapRow, PlotOptions, RolloutOptions, RolloutRow, Series,
    compose, heatmap_grid, line_plot, rollout_grid, save_png,
};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The FastSHAP paper's CIFAR-10 top-1 AUCs: (method, exclusion, inclusion).
pub const PAPER_AUC: [(&str, f64, f64); 2] = [("fastshap", 0.42, 0.78), ("kernelshap", 0.64, 0.78)];

fn evals(e: Option<f64>) -> String {
    e.map_or("1 explainer pass".into(), |e| format!("{e:.0}"))
}

fn verdict_sentence(v: &Verdict, what: &str) -> String {
    let metric = if v.metric == "pearson" {
        "Pearson"
    } else {
        "L2"
    };
    let outcome = if v.fastshap_beats {
        "FastSHAP **beats** it"
    } else if v.fastshap_loses {
        "FastSHAP **loses** to it"
    } else {
        "FastSHAP **does not beat** it (the interval includes 0)"
    };
    format!(
        "By {metric}, the best {what} is **{}** ({} evaluations per image; {metric} {:.3} against \
         FastSHAP's {:.3}): {outcome} — paired difference FastSHAP − it {}.",
        v.best,
        v.evaluations.map_or("–".into(), |e| format!("{e:.0}")),
        v.best_mean,
        v.fastshap_mean,
        v.difference.fmt()
    )
}

/// The answer first: verdicts, additivity, scores, paired comparisons, budgets, speed.
pub fn fidelity_md(f: &Fidelity) -> String {
    let mut o = format!(
        "## How right are the explanations?\n\n{} test images, P = {} players, K = {} classes, \
         against {} Shapley values of the surrogate game. Each figure is a mean over images with \
         a 95% interval: percentile bootstrap from 10 images, Student t below (marked \"t\"), none \
         for one image (\"indicative\"); n is the images it rests on. \"Explained class\" is the \
         prediction on the full image.\n\n",
        f.images, f.players, f.classes, f.ground_truth
    );
    o.push_str("**The answer.** ");
    let t = &f.timing;
    let _ = write!(
        o,
        "FastSHAP's cost is {:.3} ms per image{} = {:.1} game evaluations of {:.4} ms. ",
        t.fastshap_ms_per_image,
        batch_words(t),
        t.fastshap_cost_in_evaluations,
        t.ms_per_evaluation
    );
    if t.at_cost.is_empty() {
        o.push_str("No other estimator runs within that cost. ");
    }
    if !t.at_cost.is_empty() && !t.at_cost.iter().any(|v| v.metric == "pearson") {
        o.push_str(
            "No estimator with a ranking runs within that cost (the uniform split has none). ",
        );
    }
    for v in &t.at_cost {
        let _ = write!(o, "{} ", verdict_sentence(v, "estimator within that cost"));
    }
    for v in &f.best_cheap {
        let _ = write!(
            o,
            "{} ",
            verdict_sentence(
                v,
                &format!("cheap baseline (≤ {} evaluations)", 2 * f.players + 2)
            )
        );
    }
    o.push_str("\n\n");
    let _ = writeln!(
        o,
        "**Does this game discriminate?** Additivity (share of v's Shapley-kernel-weighted \
         variance over coalitions that the best additive model b₀ + Σ_{{i∈S}} β_i explains, \
         explained class; 1 = additive): {}.{}\n",
        f.additivity.fmt(),
        f.additivity_note
            .as_ref()
            .map_or(String::new(), |n| format!(" {n}"))
    );
    o.push_str(
        "| estimator | evaluations / image | n | Pearson (explained class) | Spearman | L2 | \
         sign agreement | Pearson (all classes) | L2 (all classes) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for e in &f.scores {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            e.name,
            evals(e.evaluations),
            e.predicted.l2.n,
            e.predicted.pearson.fmt(),
            e.predicted.spearman.fmt(),
            e.predicted.l2.fmt(),
            e.predicted.sign_agreement.fmt(),
            e.all_classes.pearson.fmt(),
            e.all_classes.l2.fmt()
        );
    }
    o.push_str(
        "\nThe uniform split (gap / P for every player) has no ranking: its Pearson is undefined.\n\n\
         ### FastSHAP against each estimator (paired over images, explained class)\n\n\
         | estimator | evaluations / image | n | Pearson: FastSHAP − it | L2: FastSHAP − it | \
         verdict (Pearson / L2) |\n|---|---|---|---|---|---|\n",
    );
    comparison_rows(&mut o, &f.comparisons);
    if !f.comparisons_converged.is_empty() {
        let _ = write!(
            o,
            "\n### The same on the images whose truth converged ({} of {})\n\n\
             Converged truths (‖σ‖ ≤ {}·‖φ‖) are the easier games: a verdict above that does not \
             hold here rests on the images whose truth ran out of budget.\n\n\
             | estimator | evaluations / image | n | Pearson: FastSHAP − it | L2: FastSHAP − it | \
             verdict (Pearson / L2) |\n|---|---|---|---|---|---|\n",
            f.truth_converged, f.images, f.truth_tolerance
        );
        comparison_rows(&mut o, &f.comparisons_converged);
    }
    if let Some(v) = &f.versus {
        let ours = f
            .score("fastshap")
            .map(|e| (&e.predicted.pearson, &e.predicted.l2));
        let _ = write!(o, "\n{}", super::versus::markdown(v, ours));
    }
    if !f.budget_curves.is_empty() {
        o.push_str(
            "\n### Error vs game evaluations (explained class)\n\n| method | evaluations / image | \
             n | Pearson | L2 |\n|---|---|---|---|---|\n",
        );
        for c in &f.budget_curves {
            for pt in &c.points {
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {} | {} | {} |",
                    c.method,
                    pt.evaluations,
                    pt.l2.n,
                    pt.pearson.fmt(),
                    pt.l2.fmt()
                );
            }
        }
        let fs = &f.scores[0].predicted;
        let _ = writeln!(
            o,
            "| **fastshap** | 1 explainer pass | {} | {} | {} |\n",
            fs.l2.n,
            fs.pearson.fmt(),
            fs.l2.fmt()
        );
        let largest = f
            .budget_curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.evaluations))
            .fold(0.0, f64::max);
        let _ = writeln!(
            o,
            "To match FastSHAP's mean L2 on the explained class, KernelSHAP needs {} evaluations \
             per image and permutation sampling {} (a 95% bootstrap interval over images from 10 \
             images up, else indicative; \"≤\": already at the smallest budget tried).",
            f.kernelshap_evaluations_to_match.fmt(largest),
            f.permutation_evaluations_to_match.fmt(largest)
        );
        if let Some(l2) = f.kernelshap_l2_at_1000 {
            let _ = writeln!(
                o,
                "KernelSHAP at 1,000 evaluations: mean L2 {l2:.4} (FastSHAP: {:.4}).",
                fs.l2.mean
            );
        }
    }
    let _ = write!(
        o,
        "\n**Time** ({}, medians of {} interleaved rounds): FastSHAP {:.3} ms per image{} \
         ({:.2} ms for a single image); one game evaluation {:.4} ms.",
        t.device,
        t.rounds,
        t.fastshap_ms_per_image,
        batch_words(t),
        t.fastshap_ms_single_image,
        t.ms_per_evaluation
    );
    if let (Some(ms), Some(x)) = (t.kernelshap_ms_at_equal_error, &t.speedup_at_equal_error) {
        let iv = if x.lo.is_finite() {
            format!(
                " [{:.0}, {}]",
                x.lo,
                if x.hi.is_finite() {
                    format!("{:.0}", x.hi)
                } else {
                    "∞".into()
                }
            )
        } else {
            " (indicative: too few images or rounds for an interval)".into()
        };
        let _ = write!(
            o,
            " KernelSHAP at equal error takes {ms:.1} ms per image: FastSHAP is {:.1}×{iv} faster.",
            x.mean
        );
    }
    match (t.training_seconds, t.images_to_break_even) {
        (Some(s), Some(b)) => {
            let _ = write!(
                o,
                " Counting the explainer's training ({s:.0} s), FastSHAP is cheaper than KernelSHAP \
                 at equal error after {b:.0} images."
            );
        }
        (Some(s), None) => {
            // No match: KernelSHAP's largest budget is still worse than FastSHAP, so its cost
            // at equal error is above that budget's and the break-even below this bound.
            let ks_largest = f
                .budget_curves
                .iter()
                .filter(|c| c.method == "kernelshap")
                .flat_map(|c| c.points.iter().map(|p| p.evaluations))
                .fold(f64::NAN, f64::max);
            let saved = ks_largest * t.ms_per_evaluation - t.fastshap_ms_per_image;
            if f.kernelshap_evaluations_to_match.point.is_none() && saved > 0.0 {
                let _ = write!(
                    o,
                    " KernelSHAP did not reach FastSHAP's error within {ks_largest:.0} evaluations \
                     per image ({:.1} ms): counting the explainer's training ({s:.0} s), FastSHAP \
                     is cheaper than KernelSHAP at equal error after at most {:.0} images.",
                    ks_largest * t.ms_per_evaluation,
                    (s * 1e3 / saved).ceil()
                );
            } else {
                let _ = write!(
                    o,
                    " The explainer's training took {s:.0} s; with no KernelSHAP match (or no \
                     saving per image) it never breaks even at this error."
                );
            }
        }
        _ => o.push_str(" The explainer's training time is unknown (no metrics.jsonl beside it)."),
    }
    let _ = writeln!(
        o,
        " Ground truth: {:.0} ms per image.",
        t.truth_ms_per_image
    );
    o
}

fn budget_plot(f: &Fidelity) -> String {
    let mut series: Vec<Series> = f
        .budget_curves
        .iter()
        .map(|c| {
            Series::new(
                &c.method,
                c.points.iter().map(|p| p.evaluations.log2()).collect(),
                c.points.iter().map(|p| p.l2.mean).collect(),
            )
        })
        .collect();
    // The cheap estimators as points at their evaluation counts.
    for e in f
        .scores
        .iter()
        .filter(|e| e.evaluations.is_some() && e.predicted.l2.n > 0)
    {
        let x = e.evaluations.unwrap_or(1.0).max(1.0).log2();
        series.push(Series::new(&e.name, vec![x], vec![e.predicted.l2.mean]));
    }
    let xs: Vec<f64> = series.iter().flat_map(|s| s.x.iter().copied()).collect();
    let (lo, hi) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    for e in f.scores.iter().filter(|e| e.evaluations.is_none()) {
        let mut s = Series::new(&e.name, vec![lo, hi], vec![e.predicted.l2.mean; 2]);
        s.dashed = true;
        series.push(s);
    }
    line_plot(
        &series,
        &PlotOptions {
            title: format!(
                "error vs game evaluations ({} images, P = {}, {} ground truth)",
                f.images, f.players, f.ground_truth
            ),
            x_label: "log₂ evaluations per image".into(),
            y_label: "mean L2 to the truth (explained class)".into(),
            ..PlotOptions::default()
        },
    )
}

fn errors_csv(meta: &RunMeta, records: &[ImageRecord]) -> String {
    let (p, k) = (meta.players, meta.classes.len());
    let mut csv =
        String::from("image,index,label,estimator,class,l2,pearson,spearman,sign_agreement\n");
    for (j, r) in records.iter().enumerate() {
        for e in &r.estimators {
            for c in 0..k {
                let (a, b) = (column(&e.phi, p, k, c), column(&r.truth, p, k, c));
                let _ = writeln!(
                    csv,
                    "{j},{},{},{},{},{},{},{},{}",
                    r.index,
                    r.label,
                    e.name,
                    meta.classes[c],
                    metrics::l2(&a, &b),
                    metrics::pearson(&a, &b),
                    metrics::spearman(&a, &b),
                    metrics::sign_agreement(&a, &b, meta.top_k)
                );
            }
        }
    }
    csv
}

fn errors_md(meta: &RunMeta, records: &[ImageRecord]) -> String {
    let (p, k) = (meta.players, meta.classes.len());
    let mut o = format!(
        "## Per-image error on the explained class against {} Shapley values\n\nP = {p} players; \
         sign agreement over the ground truth's top {} players by |φ|.\n\n| image | label | \
         class | additivity | estimator | L2 | Pearson |\n|---|---|---|---|---|---|---|\n",
        meta.ground_truth, meta.top_k
    );
    for r in records {
        let truth = column(&r.truth, p, k, r.class);
        for e in r
            .estimators
            .iter()
            .filter(|e| e.name != "fastshap (untrained)")
        {
            let a = column(&e.phi, p, k, r.class);
            let _ = writeln!(
                o,
                "| #{} | {} | {} | {:.3} | {} | {:.4} | {:.3} |",
                r.index,
                r.label,
                meta.classes[r.class],
                r.additivity,
                e.name,
                metrics::l2(&a, &truth),
                metrics::pearson(&a, &truth)
            );
        }
    }
    o
}

fn auc_md(f: &Fidelity, reference: &str) -> String {
    let mut o = format!(
        "## Inclusion / exclusion AUC\n\nScored by the surrogate (softmax link); class: the \
         {reference}'s prediction on the full image. Mean top-1 and log-odds AUC (trapezoid over \
         k/100 ∈ [0, 1], endpoints included) with 95% intervals over the n images each row has. \
         Exclusion: lower is better; inclusion: higher is better. The paper's numbers are CIFAR-10 \
         top-1 AUCs of full-size models. The uniform split gives every player the same value: it has \
         no ranking and so no curve. Do not read differences between methods off these marginal \
         intervals: FastSHAP's paired comparisons are in `fidelity.md`.\n\n\
         | method | mode | n | top-1 AUC | log-odds AUC | paper (top-1) |\n|---|---|---|---|---|---|\n"
    );
    for r in &f.auc {
        let paper = PAPER_AUC
            .iter()
            .find(|(m, _, _)| r.method == *m || r.method.starts_with(&format!("{m} (")))
            .map(|&(_, e, i)| format!("{:.2}", if r.mode == "exclusion" { e } else { i }))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {paper} |",
            r.method,
            r.mode,
            r.top1.n,
            r.top1.fmt(),
            r.log_odds.fmt()
        );
    }
    o
}

/// A method's mean curve over images: (method, mode, x, top-1, log-odds).
struct MeanCurve {
    method: String,
    mode: String,
    x: Vec<f64>,
    top1: Vec<f64>,
    log_odds: Vec<f64>,
}

fn curves_files(
    records: &[ImageRecord],
    reference: &str,
    write: &mut dyn FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut csv = String::from("method,mode,image,x,top1,log_odds\n");
    let mut means: Vec<MeanCurve> = Vec::new();
    for (j, r) in records.iter().enumerate() {
        for c in &r.curves {
            for i in 0..c.x.len() {
                let _ = writeln!(
                    csv,
                    "{},{},{j},{},{},{}",
                    c.method, c.mode, c.x[i], c.top1[i], c.log_odds[i]
                );
            }
            match means
                .iter_mut()
                .find(|m| m.method == c.method && m.mode == c.mode)
            {
                Some(m) => {
                    for i in 0..c.x.len() {
                        m.top1[i] += c.top1[i];
                        m.log_odds[i] += c.log_odds[i];
                    }
                }
                None => means.push(MeanCurve {
                    method: c.method.clone(),
                    mode: c.mode.clone(),
                    x: c.x.clone(),
                    top1: c.top1.clone(),
                    log_odds: c.log_odds.clone(),
                }),
            }
        }
    }
    let count = |method: &str, mode: &str| {
        records
            .iter()
            .filter(|r| {
                r.curves
                    .iter()
                    .any(|c| c.method == method && c.mode == mode)
            })
            .count()
            .max(1) as f64
    };
    for m in &mut means {
        let c = count(&m.method, &m.mode);
        m.top1.iter_mut().for_each(|v| *v /= c);
        m.log_odds.iter_mut().for_each(|v| *v /= c);
        for i in 0..m.x.len() {
            let _ = writeln!(
                csv,
                "{},{},mean,{},{},{}",
                m.method, m.mode, m.x[i], m.top1[i], m.log_odds[i]
            );
        }
    }
    write("curves.csv", csv.as_bytes())?;
    for mode in ["exclusion", "inclusion"] {
        for (metric, label) in [("top1", "top-1 agreement"), ("log_odds", "log-odds")] {
            let series: Vec<Series> = means
                .iter()
                .filter(|m| m.mode == mode)
                .map(|m| {
                    let x = m.x.iter().map(|v| v * 100.0).collect();
                    let y = if metric == "top1" {
                        &m.top1
                    } else {
                        &m.log_odds
                    };
                    let mut s = Series::new(&m.method, x, y.clone());
                    s.dashed = m.method == "random";
                    s
                })
                .collect();
            let opts = PlotOptions {
                title: format!(
                    "{mode} curves ({} images, surrogate scores)",
                    records.iter().filter(|r| !r.curves.is_empty()).count()
                ),
                x_label: format!(
                    "% of superpixels {}",
                    if mode == "inclusion" {
                        "kept (top φ first)"
                    } else {
                        "removed (top φ first)"
                    }
                ),
                y_label: format!("{label} with the {reference}'s class"),
                y_range: (metric == "top1").then_some((0.0, 1.0)),
                ..PlotOptions::default()
            };
            write(
                &format!("curves_{mode}_{metric}.svg"),
                line_plot(&series, &opts).as_bytes(),
            )?;
        }
    }
    Ok(())
}

/// " in batches of N images" (throughput, as game evaluations are timed in large calls), or
/// " in a batch" where the records do not say how large.
fn batch_words(t: &super::aggregate::Timing) -> String {
    match t.fastshap_batch_images {
        0 => " in a batch".into(),
        n => format!(" in batches of {n} images"),
    }
}

fn timing_md(f: &Fidelity, meta: &RunMeta) -> String {
    let t = &f.timing;
    let mut o = format!(
        "## Explanation time per image\n\nDevice: {}. P = {} players, K = {} classes, up to {} \
         masks per surrogate call; medians of {} interleaved rounds (FastSHAP batch, FastSHAP \
         single image, one call of game evaluations, back to back).\n\n| method | ms / image | \
         evaluations / image | note |\n|---|---|---|---|\n",
        t.device, f.players, f.classes, meta.batch, t.rounds
    );
    let _ = writeln!(
        o,
        "| fastshap (batch{}) | {:.3} | – | explainer + surrogate on the full and empty image |",
        match t.fastshap_batch_images {
            0 => String::new(),
            n => format!(" of {n}"),
        },
        t.fastshap_ms_per_image
    );
    let _ = writeln!(
        o,
        "| fastshap (one image) | {:.3} | – | latency of a single call |",
        t.fastshap_ms_single_image
    );
    let _ = writeln!(
        o,
        "| one game evaluation | {:.4} | 1 | in calls of {} masks |",
        t.ms_per_evaluation, meta.batch
    );
    for e in f
        .scores
        .iter()
        .filter_map(|e| e.evaluations.map(|v| (e, v)))
    {
        let _ = writeln!(
            o,
            "| {} | {:.2} | {:.0} | evaluations × the time of one |",
            e.0.name,
            e.1 * t.ms_per_evaluation,
            e.1
        );
    }
    let _ = writeln!(
        o,
        "| ground truth ({}) | {:.1} | – | measured |",
        f.ground_truth, t.truth_ms_per_image
    );
    o
}

fn maps(
    meta: &RunMeta,
    records: &[ImageRecord],
    out: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<()> {
    let opts = HeatmapOptions::new(&meta.classes);
    for (name, pick) in [("fastshap", true), (meta.ground_truth.as_str(), false)] {
        let rows: Vec<HeatmapRow> = records
            .iter()
            .map(|r| HeatmapRow {
                image: &r.image,
                phi: if pick { &r.estimators[0].phi } else { &r.truth },
                probs: r.original_probs.as_deref(),
                surrogate_probs: Some(&r.surrogate_probs),
                title: format!("#{} {}", r.index, r.label),
            })
            .collect();
        let path = out.join(format!("phi_{name}.png"));
        save_png(&heatmap_grid(&rows, &opts)?, &path)?;
        files.push(path);
    }
    if records.iter().any(|r| r.rollout.is_none()) {
        return Ok(());
    }
    let mut parts = Vec::new();
    for r in records {
        let (g, map) = r.rollout.as_ref().expect("checked above");
        let _ = g;
        let roll = rollout_grid(
            &[RolloutRow {
                image: &r.image,
                maps: vec![map],
                title: format!("#{}", r.index),
            }],
            &RolloutOptions::new(&["rollout"]),
        )?;
        let mut ho = HeatmapOptions::new(&meta.classes);
        ho.class_subset = Some(vec![r.class]);
        let shap = |phi: &[f64]| {
            heatmap_grid(
                &[HeatmapRow {
                    image: &r.image,
                    phi,
                    probs: r.original_probs.as_deref(),
                    surrogate_probs: Some(&r.surrogate_probs),
                    title: String::new(),
                }],
                &ho,
            )
        };
        let (a, b) = (shap(&r.estimators[0].phi)?, shap(&r.truth)?);
        parts.push(compose(
            "",
            &[
                ("attention rollout", &roll),
                ("fastshap", &a),
                (meta.ground_truth.as_str(), &b),
            ],
            Direction::Horizontal,
        ));
    }
    let caps: Vec<String> = records
        .iter()
        .map(|r| format!("test #{}", r.index))
        .collect();
    let refs: Vec<(&str, &image::RgbImage)> =
        caps.iter().map(String::as_str).zip(parts.iter()).collect();
    let path = out.join("rollout.png");
    save_png(
        &compose(
            "attention rollout beside Shapley values (explained class)",
            &refs,
            Direction::Vertical,
        ),
        &path,
    )?;
    files.push(path);
    Ok(())
}

/// Writes every file of the evaluation into `out`; returns their paths.
pub fn render(
    meta: &RunMeta,
    records: &[ImageRecord],
    f: &Fidelity,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut write = |name: &str, body: &[u8]| -> Result<()> {
        let path = out.join(name);
        crate::io::write_atomic(&path, body)?;
        files.push(path);
        Ok(())
    };
    let fid = fidelity_md(f);
    let errs = errors_md(meta, records);
    let auc = auc_md(f, &meta.reference);
    let timing = timing_md(f, meta);
    write("fidelity.json", serde_json::to_string_pretty(f)?.as_bytes())?;
    write("fidelity.md", fid.as_bytes())?;
    if !f.budget_curves.is_empty() {
        write("budget.svg", budget_plot(f).as_bytes())?;
    }
    write("errors.csv", errors_csv(meta, records).as_bytes())?;
    write("errors.md", errs.as_bytes())?;
    write("auc.md", auc.as_bytes())?;
    write("timing.md", timing.as_bytes())?;
    let curve = match &f.learning_curve {
        Some(c) => {
            super::curve::write_files(c, &f.ground_truth, f.images, &mut write)?;
            super::curve::markdown(c, &f.ground_truth)
        }
        None => String::new(),
    };
    curves_files(records, &meta.reference, &mut write)?;
    maps(meta, records, out, &mut files)?;
    super::picture::side_by_side(meta, records, f, out, &mut files)?;
    let mut report = format!(
        "# FastSHAP evaluation\n\n{} images, P = {} players, K = {} classes; ground truth: {} \
         (largest efficiency gap |Σφ − (v(N) − v(∅))| = {:.2e}; converged on {} of {} images).\n\n",
        f.images,
        f.players,
        f.classes,
        f.ground_truth,
        f.truth_efficiency_gap,
        f.truth_converged,
        f.images
    );
    if let Some((med, max)) = f.truth_relative_se {
        let _ = writeln!(
            report,
            "The ground truth's own standard error relative to its size, ‖σ‖/‖φ‖ on the \
             explained class: median {med:.3}, largest {max:.3} (required ≤ {:.3}; images \
             that ran out of budget first count as not converged). Every score below is against \
             this noisy truth: an error near it is as good as can be measured.\n",
            f.truth_tolerance
        );
    }
    // The learning curve (when there are snapshots) right after the scores it extends.
    for part in [&fid, &curve, &auc, &timing, &errs] {
        if part.is_empty() {
            continue;
        }
        report.push_str(part);
        report.push('\n');
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    report.push_str("## Plots and maps\n\n");
    for n in &names {
        if n.ends_with(".svg") {
            let _ = writeln!(report, "[{n}]({n})");
        } else if n.ends_with(".png") {
            let _ = writeln!(report, "![{n}]({n})\n");
        }
    }
    match &meta.rollout_skipped {
        Some(why) => {
            let _ = writeln!(report, "\nAttention rollout skipped: {why}.");
        }
        None => report.push_str(
            "\n`rollout.png`: attention rollout of the original beside the Shapley maps.\n",
        ),
    }
    let path = out.join("report.md");
    crate::io::write_atomic(&path, report.as_bytes())?;
    files.push(path);
    Ok(files)
}

fn comparison_rows(o: &mut String, comparisons: &[super::verdict::Comparison]) {
    for c in comparisons {
        let (vp, vl) = c.verdicts();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {vp} / {vl} |",
            c.estimator,
            evals(c.evaluations),
            c.l2_difference.n,
            c.pearson_difference.fmt(),
            c.l2_difference.fmt()
        );
    }
}
