//! The figure sections (tasks 1–3, attention rollout), the per-explainer evaluations and the
//! run log.

use super::text::{details_pre, file_name, id_of, markdown, note, png_figure};
use super::{Run, SUBSETS, Section, has_attention};
use crate::viz::svg::escape;
use serde_json::Value;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn figures_dir(run: &Run) -> PathBuf {
    run.dir_of("figures", "figures")
}

fn figures_json(run: &Run) -> Option<Value> {
    let text = std::fs::read_to_string(figures_dir(run).join("figures.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// `(file, caption)` entries of one task in figures.json.
fn entries(json: &Option<Value>, task: &str) -> Vec<(String, String)> {
    json.as_ref()
        .and_then(|j| j.get(task))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let file = e.get("file")?.as_str()?.to_string();
            let cap = e.get("caption").and_then(Value::as_str).unwrap_or("");
            Some((file, cap.to_string()))
        })
        .collect()
}

fn stem(file: &str) -> &str {
    file.strip_suffix(".png").unwrap_or(file)
}

fn figures_done(run: &Run) -> bool {
    run.of_kind("figures").any(|s| s.done.is_some())
}

/// The note for a figure that is not there.
fn missing(run: &Run, file: &str, why_if_done: &str) -> String {
    if figures_done(run) {
        note(&format!("{file} was not produced: {why_if_done}."))
    } else {
        note(&format!("{file}: the figures stage has not finished."))
    }
}

fn figure(run: &Run, id: &str, file: &str, caption: &str, why: &str) -> String {
    let path = figures_dir(run).join(file);
    if path.exists() {
        png_figure(id, &path, caption, caption)
    } else {
        format!(
            "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>\n",
            escape(id),
            missing(run, file, why),
            escape(caption)
        )
    }
}

pub fn task1(run: &Run) -> Section {
    let json = figures_json(run);
    let listed = entries(&json, "task1");
    let mut body = String::new();
    let notes: Vec<&str> = json
        .as_ref()
        .and_then(|j| j.get("notes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !notes.is_empty() {
        body += "<ul class=\"meta\">\n";
        for n in notes {
            let _ = writeln!(body, "<li>{}</li>", super::text::inline(n));
        }
        body += "</ul>\n";
    }
    let mut files: Vec<String> = run
        .of_kind("explainer")
        .map(|s| format!("task1-{}.png", s.slug()))
        .collect();
    for (f, _) in &listed {
        if !files.contains(f) {
            files.push(f.clone());
        }
    }
    let mut sub = Vec::new();
    for f in &files {
        let slug = stem(f).trim_start_matches("task1-");
        let cap = listed
            .iter()
            .find(|(l, _)| l == f)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| {
                format!("Per-class FastSHAP maps of random test images, explainer {slug}.")
            });
        let id = format!("task1-{}", id_of(slug));
        body += &figure(run, &id, f, &cap, "the explainer did not finish");
        body += &super::honesty::note_for(run, slug);
        sub.push((id, slug.to_string()));
    }
    if files.is_empty() {
        body += &note("The run trains no explainer.");
    }
    Section {
        id: "task1".into(),
        title: "Task 1: FastSHAP maps per class".into(),
        body,
        sub,
    }
}

pub fn task2(run: &Run) -> Section {
    let json = figures_json(run);
    let listed = entries(&json, "task2");
    let mut body = String::new();
    for slug in super::honesty::explainers_of_task(&json, "task2") {
        body += &super::honesty::note_for(run, &slug);
    }
    let mut sub = Vec::new();
    for s in SUBSETS {
        let file = format!("task2-{s}.png");
        // "a-wrong-b-correct" → "A wrong, B correct".
        let parts: Vec<&str> = s.split('-').collect();
        let label = format!("A {}, B {}", parts[1], parts[3]);
        let cap = listed
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| format!("Agreement subset: {label}."));
        let id = format!("task2-{s}");
        let _ = writeln!(body, "<h3>{}</h3>", escape(&label));
        body += &figure(run, &id, &file, &cap, "no test image falls in this subset");
        sub.push((id, label));
    }
    Section {
        id: "task2".into(),
        title: "Task 2: agreement-subset galleries".into(),
        body,
        sub,
    }
}

/// Task 3 figures `(stem without "task3-", file, caption)`: figures.json's entries, then any
/// other `task3-*.png` on disk.
pub fn task3_list(run: &Run) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = entries(&figures_json(run), "task3")
        .into_iter()
        .map(|(f, c)| {
            let name = stem(&f).trim_start_matches("task3-").to_string();
            (name, f, c)
        })
        .collect();
    let mut extra: Vec<String> = std::fs::read_dir(figures_dir(run))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("task3-") && n.ends_with(".png"))
        .filter(|n| !out.iter().any(|(_, f, _)| f == n))
        .collect();
    extra.sort();
    for f in extra {
        let name = stem(&f).trim_start_matches("task3-").to_string();
        let cap = format!("The same originals explained through two surrogates ({name}).");
        out.push((name, f, cap));
    }
    out
}

pub fn task3(run: &Run) -> Section {
    let mut body = String::new();
    let mut sub = Vec::new();
    let json = figures_json(run);
    for (name, file, cap) in task3_list(run) {
        let id = format!("task3-{}", id_of(&name));
        body += &figure(run, &id, &file, &cap, "missing");
        for slug in super::honesty::explainers_of(&json, "task3", &file) {
            body += &super::honesty::note_for(run, &slug);
        }
        sub.push((id, name));
    }
    if sub.is_empty() {
        body += &if figures_done(run) {
            note("The figures stage produced no task 3 figure.")
        } else {
            note("The figures stage has not finished.")
        };
    }
    Section {
        id: "task3".into(),
        title: "Task 3: one original through two surrogates".into(),
        body,
        sub,
    }
}

pub fn rollout(run: &Run) -> Section {
    let mut body = String::new();
    let mut sub = Vec::new();
    let mut skipped = Vec::new();
    for (slug, dir) in run.eval_slugs() {
        let path = dir.join("rollout.png");
        let id = format!("rollout-{}", id_of(&slug));
        if path.exists() {
            let cap =
                format!("Attention rollout of the original beside the Shapley maps ({slug}).");
            body += &png_figure(&id, &path, &cap, &cap);
        } else if has_attention(&slug) {
            let _ = writeln!(
                body,
                "<figure id=\"{}\">{}</figure>",
                escape(&id),
                note(&format!(
                    "{slug}: rollout.png was not produced (evaluation not finished)."
                ))
            );
        } else {
            skipped.push(slug);
            continue;
        }
        sub.push((id, slug));
    }
    if !skipped.is_empty() {
        body += &note(&format!(
            "No rollout for {}: a ResNet original has no attention.",
            skipped.join(", ")
        ));
    }
    if body.is_empty() {
        body += &note("No evaluation has run yet.");
    }
    Section {
        id: "rollout".into(),
        title: "Attention rollout".into(),
        body,
        sub,
    }
}

/// The paragraphs of `report.md` between its `# ` title and its first `## ` section.
fn intro(report_md: &str) -> String {
    report_md
        .lines()
        .skip_while(|l| l.starts_with("# ") || l.trim().is_empty())
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The files in `dir` named `<prefix>…<suffix>`, sorted.
fn files_like(dir: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = file_name(p);
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect();
    v.sort();
    v
}

fn one_evaluation(slug: &str, dir: &Path) -> String {
    let id = format!("eval-{}", id_of(slug));
    let mut o = format!("<section id=\"{id}\">\n<h3>{}</h3>\n", escape(slug));
    if !dir.is_dir() {
        return o + &note("Not evaluated yet.") + "</section>\n";
    }
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).ok();
    if let Some(r) = read("report.md") {
        o += &markdown(&intro(&r), 2);
    }
    // How right the explainer is (scores with intervals, error vs evaluations, speed).
    if let Some(md) = read("fidelity.md") {
        o += &markdown(&md, 2);
    }
    if let Some(svg) = read("budget.svg") {
        o += "<div class=\"plots\">\n";
        o += &inline_svg(&svg);
        o += "\n</div>\n";
    }
    o += &learning_curve(dir);
    for (file, what) in [("errors.md", "explainer errors"), ("auc.md", "AUC table")] {
        match read(file) {
            Some(md) => o += &markdown(&md, 2),
            None => o += &note(&format!("{file} ({what}) was not produced.")),
        }
    }
    let svgs = files_like(dir, "curves_", ".svg");
    if svgs.is_empty() {
        o += &note("No inclusion/exclusion curves were produced.");
    } else {
        o += "<div class=\"plots\">\n";
        for p in &svgs {
            if let Ok(svg) = std::fs::read_to_string(p) {
                o += &inline_svg(&svg);
                o.push('\n');
            }
        }
        o += "</div>\n";
    }
    match read("timing.md") {
        Some(md) => o += &markdown(&md, 2),
        None => o += &note("timing.md was not produced."),
    }
    let maps = files_like(dir, "phi_", ".png");
    if !maps.is_empty() {
        o += "<details><summary>Shapley maps of the evaluated images</summary>\n";
        for p in &maps {
            let n = file_name(p);
            let which = n.trim_start_matches("phi_").trim_end_matches(".png");
            let cap = format!("{which} Shapley values, every class ({slug}).");
            o += &png_figure(&format!("{id}-{}", id_of(stem(&n))), p, &cap, &cap);
        }
        o += "</details>\n";
    }
    o + "</section>\n"
}

/// Fidelity against the explainer's training steps, when its snapshots were scored: the table,
/// whether it was still improving, and both plots.
fn learning_curve(dir: &Path) -> String {
    use crate::fastshap::evaluate::curve::{CURVE_L2_SVG, CURVE_MD, CURVE_SVG};
    let Ok(md) = std::fs::read_to_string(dir.join(CURVE_MD)) else {
        return String::new();
    };
    let mut o = markdown(&md, 2);
    o += "<div class=\"plots\">\n";
    for f in [CURVE_SVG, CURVE_L2_SVG] {
        if let Ok(svg) = std::fs::read_to_string(dir.join(f)) {
            o += &inline_svg(&svg);
            o.push('\n');
        }
    }
    o + "</div>\n"
}

/// An SVG file's `<svg>` element, without any XML declaration or doctype before it.
fn inline_svg(text: &str) -> String {
    match text.find("<svg") {
        Some(i) => text[i..].trim_end().to_string(),
        None => note("An SVG file without an <svg> element was skipped."),
    }
}

pub fn evaluation(run: &Run) -> Section {
    let mut body = String::new();
    let mut sub = Vec::new();
    for (slug, dir) in run.eval_slugs() {
        body += &one_evaluation(&slug, &dir);
        sub.push((format!("eval-{}", id_of(&slug)), slug));
    }
    if sub.is_empty() {
        body += &note("No explainer has been evaluated yet.");
    }
    Section {
        id: "evaluation".into(),
        title: "Evaluation against KernelSHAP / exact Shapley values".into(),
        body,
        sub,
    }
}

pub fn log(run: &Run) -> Section {
    const LINES: usize = 60;
    let body = match std::fs::read(run.dir.join("run.log")) {
        Err(_) => note("run.log was not found."),
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LINES)..];
            details_pre(
                &format!("Last {} of {} lines of run.log", tail.len(), lines.len()),
                &tail.join("\n"),
            )
        }
    };
    Section {
        id: "log".into(),
        title: "Run log".into(),
        body,
        sub: vec![],
    }
}
