//! The header, configuration, timings and table sections.

use super::text::{self, details_pre, fmt_seconds, fmt_time, inline, markdown, note};
use super::{Run, Section, Stage};
use crate::viz::svg::{BarOptions, BarSeries, bar_plot, escape};
use serde_json::Value;
use std::fmt::Write;

/// Stages that are not expected to have finished when the report is written: the report
/// stage itself.
fn counts(s: &Stage) -> bool {
    s.kind != "report"
}

pub fn header(run: &Run) -> String {
    let dev = run.meta.get("device");
    let dev_field = |k: &str| {
        dev.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let device = match dev {
        Some(Value::Object(_)) => format!(
            "{} ({}, {})",
            dev_field("name"),
            dev_field("backend"),
            dev_field("device_type")
        ),
        Some(Value::String(s)) => s.clone(),
        _ => "–".into(),
    };
    let total: f64 = run.stages.iter().filter_map(Stage::seconds).sum();
    let relevant: Vec<&Stage> = run.stages.iter().filter(|s| counts(s)).collect();
    let unfinished: Vec<&Stage> = relevant
        .iter()
        .copied()
        .filter(|s| s.done.is_none())
        .collect();
    let rows = [
        ("Preset", run.str("preset")),
        ("Data", run.str("data")),
        ("Device", device),
        ("Version", run.str("version")),
        ("Started", fmt_time(&run.str("started"))),
        ("Total stage time", fmt_seconds(total)),
        (
            "Stages finished",
            format!(
                "{} of {}",
                relevant.len() - unfinished.len(),
                relevant.len()
            ),
        ),
    ];
    let mut o = format!(
        "<header id=\"summary\">\n<h1>FastSHAP reproduction report ({})</h1>\n<p class=\"meta\">\
         FastSHAP explanations of ResNet18, ViT and MAE classifiers on CIFAR-10, reproduced with \
         <code>fastshap reproduce</code>.</p>\n<table class=\"kv\"><tbody>\n",
        escape(&run.str("preset"))
    );
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    o.push_str("</tbody></table>\n");
    if !unfinished.is_empty() {
        let names: Vec<&str> = unfinished.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(
            o,
            "<p class=\"note warn\">Unfinished run: {} of {} stages have not finished ({}). \
             Their sections show notes instead of results.</p>",
            unfinished.len(),
            relevant.len(),
            escape(&names.join(", "))
        );
    }
    for p in &run.problems {
        o.push_str(&note(p));
    }
    o.push_str("</header>\n");
    o
}

pub fn configuration(run: &Run) -> Section {
    let mut body = String::new();
    let rows: Vec<Vec<String>> = run
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string(),
                s.name.clone(),
                s.kind.clone(),
                s.dir.clone(),
            ]
        })
        .collect();
    let headers = ["#", "stage", "kind", "directory"].map(String::from);
    body += &text::table(&headers, &rows, escape);
    body += &match run.meta.get("settings") {
        Some(v) => details_pre(
            "Preset settings (JSON)",
            &serde_json::to_string_pretty(v).unwrap_or_default(),
        ),
        None => note("reproduce.json has no settings."),
    };
    Section {
        id: "configuration".into(),
        title: "Configuration".into(),
        body,
        sub: vec![],
    }
}

pub fn timings(run: &Run) -> Section {
    let total: f64 = run.stages.iter().filter_map(Stage::seconds).sum();
    let mut o = String::from(
        "<div class=\"scroll\"><table>\n<thead><tr><th>#</th><th>stage</th><th>kind</th>\
         <th>time</th><th>seconds</th><th>share of total</th></tr></thead>\n<tbody>\n",
    );
    for (i, s) in run.stages.iter().enumerate() {
        let (time, secs, share) = match s.seconds() {
            Some(t) => {
                let pct = if total > 0.0 { 100.0 * t / total } else { 0.0 };
                (
                    fmt_seconds(t),
                    format!("{t:.1}"),
                    format!(
                        "<span class=\"bar\" style=\"width:{:.0}px\"></span>{pct:.1}%",
                        (pct * 2.0).max(1.0)
                    ),
                )
            }
            None if s.kind == "report" => ("this report".into(), "–".into(), "–".into()),
            None => ("not finished".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            o,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{secs}</td><td>{share}</td></tr>",
            i + 1,
            escape(&s.name),
            escape(&s.kind),
            escape(&time)
        );
    }
    let _ = writeln!(
        o,
        "<tr class=\"total\"><td></td><td>total</td><td></td><td>{}</td>\
         <td class=\"num\">{total:.1}</td><td>100%</td></tr>\n</tbody>\n</table></div>",
        fmt_seconds(total)
    );
    // Per kind, so the bar labels stay short and readable.
    let mut kinds: Vec<(String, f64)> = Vec::new();
    for s in &run.stages {
        let Some(t) = s.seconds() else { continue };
        match kinds.iter_mut().find(|(k, _)| *k == s.kind) {
            Some(e) => e.1 += t,
            None => kinds.push((s.kind.clone(), t)),
        }
    }
    if kinds.is_empty() {
        o += &note("No stage has finished yet.");
    } else {
        let cats: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
        let series = [BarSeries {
            name: "seconds".into(),
            values: kinds.iter().map(|k| k.1).collect(),
            intervals: None,
        }];
        let opts = BarOptions {
            title: "Time per kind of stage".into(),
            y_label: "seconds".into(),
            width: 760,
            height: 340,
            y_range: None,
        };
        o += &bar_plot(&cats, &series, &opts);
        o.push('\n');
    }
    Section {
        id: "timings".into(),
        title: "Timings".into(),
        body: o,
        sub: vec![],
    }
}

/// Table `stem` from `tables/<stem>.csv`, titled by the `.md` twin's `# title`, with the notes
/// from below the `.md` table.
pub fn table(run: &Run, stem: &str, title: &str) -> Section {
    let dir = run.dir_of("tables", "tables");
    let csv = std::fs::read_to_string(dir.join(format!("{stem}.csv")));
    let md = std::fs::read_to_string(dir.join(format!("{stem}.md"))).unwrap_or_default();
    let (md_title, notes) = super::text::title_and_notes(&md);
    let mut body = String::new();
    if let Some(t) = &md_title {
        let _ = writeln!(body, "<p class=\"meta\">{}</p>", inline(t));
    }
    match csv {
        Err(_) => {
            body += &note(&format!(
                "{stem}.csv was not produced (the tables stage has not run)."
            ))
        }
        Ok(text) => {
            let rows = super::text::parse_csv(&text);
            match rows.split_first() {
                None => body += &note(&format!("{stem}.csv is empty.")),
                Some((head, [])) => {
                    body += &table_html(head, &[]);
                    body += &note("The table has no rows yet.");
                }
                Some((head, rows)) => body += &table_html(head, rows),
            }
        }
    }
    if !notes.is_empty() {
        body += &markdown(&notes, 2);
    }
    Section {
        id: stem.into(),
        title: title.into(),
        body,
        sub: vec![],
    }
}

fn table_html(head: &[String], rows: &[Vec<String>]) -> String {
    text::table(head, rows, escape)
}
