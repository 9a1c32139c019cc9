//! The training-curve section: loss and accuracy per epoch of every original, surrogate and
//! explainer stage, from its `metrics.jsonl`, as inline SVG.

use super::text::{details_pre, fmt_seconds, id_of, note};
use super::{Run, Section, Stage};
use crate::viz::svg::{PlotOptions, Series, escape, line_plot};
use serde_json::Value;
use std::fmt::Write;

/// One plot: title, y label, and the (metrics key, legend name) of each series.
type PlotSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn plot_specs(kind: &str) -> &'static [PlotSpec] {
    match kind {
        "original" => &[
            (
                "loss",
                "loss",
                &[("train_loss", "train"), ("val_loss", "validation")],
            ),
            (
                "accuracy",
                "accuracy",
                &[("train_acc", "train"), ("val_acc", "validation")],
            ),
        ],
        "surrogate" => &[
            (
                "masked loss (KL to the original)",
                "loss",
                &[("train_loss", "train"), ("val_masked_loss", "validation")],
            ),
            (
                "full images (validation)",
                "nats",
                &[
                    ("val_ce", "cross-entropy"),
                    ("val_kl", "KL to the original"),
                ],
            ),
            (
                "accuracy (validation)",
                "accuracy",
                &[("val_acc", "validation")],
            ),
        ],
        "explainer" => &[(
            "loss",
            "loss",
            &[("train_loss", "train"), ("val_loss", "validation")],
        )],
        _ => &[],
    }
}

/// Reads `metrics.jsonl`: one JSON object per line; unreadable lines are counted, not fatal.
fn read_metrics(path: &std::path::Path) -> Option<(Vec<Value>, usize)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut bad = 0;
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let v = serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object);
            bad += usize::from(v.is_none());
            v
        })
        .collect();
    Some((rows, bad))
}

/// A y range with room around the values, so a single epoch's markers sit inside the frame.
fn padded(series: &[Series]) -> (f64, f64) {
    let ys = series
        .iter()
        .flat_map(|s| s.y.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.25)
        .max(hi.abs().max(lo.abs()) * 0.05)
        .max(1e-6);
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, hi + pad)
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

pub fn curves(run: &Run) -> Section {
    let mut body = String::new();
    let mut sub = Vec::new();
    for kind in ["original", "surrogate", "explainer"] {
        for s in run.of_kind(kind) {
            let id = format!("curves-{}", id_of(&s.dir));
            let _ = writeln!(
                body,
                "<section id=\"{id}\">\n<h3>{} <small class=\"meta\">({})</small></h3>",
                escape(&s.name),
                escape(&s.dir)
            );
            body += &stage_curves(run, s);
            body += "</section>\n";
            sub.push((id, s.name.clone()));
        }
    }
    if sub.is_empty() {
        body += &note("The run has no training stages.");
    }
    Section {
        id: "curves".into(),
        title: "Training curves".into(),
        body,
        sub,
    }
}

fn stage_curves(run: &Run, s: &Stage) -> String {
    let mut o = String::new();
    if s.done.is_none() {
        o += &note("This stage has not finished; curves show the epochs logged so far.");
    }
    let Some((rows, bad)) = read_metrics(&run.dir.join(&s.dir).join("metrics.jsonl")) else {
        return o + &note("No metrics.jsonl yet: the stage has not started.");
    };
    if bad > 0 {
        o += &note(&format!(
            "{bad} unreadable line(s) of metrics.jsonl were skipped."
        ));
    }
    if rows.is_empty() {
        return o + &note("metrics.jsonl has no epochs yet.");
    }
    let x: Vec<f64> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let e = num(r, "epoch");
            if e.is_finite() { e } else { (i + 1) as f64 }
        })
        .collect();
    let last = rows.last().unwrap();
    let mut facts = vec![format!("{} epoch(s)", rows.len())];
    for key in ["val_loss", "val_masked_loss", "val_acc", "images_per_s"] {
        let v = num(last, key);
        if v.is_finite() {
            facts.push(format!("last {key} {}", crate::viz::grid::format_value(v)));
        }
    }
    if let Some(t) = s.seconds() {
        facts.push(format!("stage time {}", fmt_seconds(t)));
    }
    let _ = writeln!(o, "<p class=\"meta\">{}</p>", escape(&facts.join(" · ")));
    o += "<div class=\"plots\">\n";
    for (title, y_label, keys) in plot_specs(&s.kind) {
        let series: Vec<Series> = keys
            .iter()
            .map(|(k, name)| Series::new(name, x.clone(), rows.iter().map(|r| num(r, k)).collect()))
            .filter(|sr| sr.y.iter().any(|v| v.is_finite()))
            .collect();
        if series.is_empty() {
            continue;
        }
        let opts = PlotOptions {
            title: format!("{}: {title}", s.slug()),
            y_range: (rows.len() == 1).then(|| padded(&series)),
            x_label: "epoch".into(),
            y_label: (*y_label).into(),
            width: 560,
            height: 330,
            ..PlotOptions::default()
        };
        o += &line_plot(&series, &opts);
        o.push('\n');
    }
    o += "</div>\n";
    if let Some(summary) = s.done.as_ref().and_then(|d| d.get("summary")) {
        o += &details_pre(
            "Stage summary (JSON)",
            &serde_json::to_string_pretty(summary).unwrap_or_default(),
        );
    }
    o
}
