//! The HTML report of `fastshap reproduce` on a synthetic run directory: every expected id is
//! there, every inline PNG decodes, nothing points at the network, missing pieces are notes.
//!
//! `FASTSHAP_REPORT_KEEP=/tmp/report-demo cargo test --release --test report` writes the
//! finished synthetic run (and its report.html) there, for `tools/check_report.sh`.

use base64::Engine;
use fastshap::report::{expected_ids, markdown, parse_csv, write_report};
use fastshap::viz::{PlotOptions, Series, line_plot};
use image::{Rgb, RgbImage};
use serde_json::json;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn png(path: &Path, w: u32, h: u32, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y + seed * 40) % 256) as u8,
        ])
    });
    img.save(path).unwrap();
}

const STAGES: [(&str, &str, &str); 12] = [
    ("original resnet", "originals/resnet", "original"),
    ("original vit", "originals/vit", "original"),
    (
        "original mae-pretrain",
        "originals/mae-pretrain",
        "original",
    ),
    (
        "surrogate resnet-by-resnet",
        "surrogates/resnet-by-resnet",
        "surrogate",
    ),
    (
        "surrogate vit-by-resnet",
        "surrogates/vit-by-resnet",
        "surrogate",
    ),
    (
        "explainer resnet-by-resnet",
        "explainers/resnet-by-resnet",
        "explainer",
    ),
    (
        "explainer vit-by-resnet",
        "explainers/vit-by-resnet",
        "explainer",
    ),
    ("tables", "tables", "tables"),
    ("figures", "figures", "figures"),
    (
        "evaluate resnet-by-resnet",
        "evaluation/resnet-by-resnet",
        "evaluation",
    ),
    (
        "evaluate vit-by-resnet",
        "evaluation/vit-by-resnet",
        "evaluation",
    ),
    ("report", "report", "report"),
];

/// Inline SVGs the synthetic run yields: timings 1; originals 2 + 2 + 1 (mae-pretrain has no
/// accuracy); surrogates 3 + 3; explainers 1 + 1; evaluation curves 2 + 4.
const SVGS: usize = 20;
/// Inline PNGs: task 1 ×2, task 2 ×3 (one subset empty), task 3 ×2, rollout 1, phi maps 2 + 2.
const PNGS: usize = 12;

fn metrics(kind: &str, epochs: usize) -> String {
    (1..=epochs)
        .map(|e| {
            let l = 2.0 / e as f64;
            let v = match kind {
                "original" => json!({"epoch": e, "step": e * 10, "train_loss": l, "train_acc": 0.2 * e as f64,
                    "val_loss": l * 1.1, "val_acc": 0.18 * e as f64, "lr": 0.1, "images_per_s": 900.0, "seconds": 3.0}),
                "pretrain" => json!({"epoch": e, "step": e * 10, "train_loss": l, "train_acc": null,
                    "val_loss": l * 1.2, "val_acc": null, "lr": 0.1, "images_per_s": 700.0, "seconds": 3.0}),
                "surrogate" => json!({"epoch": e, "step": e * 10, "train_loss": l, "val_masked_loss": l * 1.1,
                    "val_ce": l * 0.9, "val_acc": 0.25 * e as f64, "val_kl": l * 0.3, "lr": 0.01,
                    "images_per_s": 500.0, "seconds": 4.0}),
                _ => json!({"epoch": e, "step": e * 10, "train_loss": l * 0.01, "val_loss": l * 0.012,
                    "lr": 0.001, "images_per_s": 300.0, "seconds": 5.0}),
            };
            v.to_string() + "\n"
        })
        .collect()
}

fn build(dir: &Path) {
    let stages: Vec<_> = STAGES
        .iter()
        .map(|(n, d, k)| json!({"name": n, "dir": d, "kind": k}))
        .collect();
    let meta = json!({"preset": "tiny", "data": "embedded",
        "device": {"name": "llvmpipe (LLVM 15.0.6, 256 bits)", "backend": "Vulkan", "device_type": "Cpu"},
        "started": "1767225600", "version": "0.1.0",
        "settings": {"seed": 0, "originals": {"resnet": {"epochs": 3, "batch": 64}}, "players": 16},
        "stages": stages});
    write(&dir.join("reproduce.json"), &meta.to_string());
    for (i, (name, d, kind)) in STAGES.iter().enumerate() {
        if *kind == "report" {
            continue;
        }
        let sj = json!({"name": name, "index": i + 1, "of": STAGES.len(), "seconds": 3.5 * (i + 1) as f64,
            "finished": "2026-01-01T00:10:00Z", "summary": {"best_epoch": 1, "note": "<ok>"}});
        write(&dir.join(d).join("stage.json"), &sj.to_string());
    }
    let epochs = |d: &str| if d.contains("vit") { 1 } else { 3 };
    for (_, d, kind) in STAGES {
        let m = match (kind, d) {
            (_, "originals/mae-pretrain") => metrics("pretrain", 2),
            ("original" | "surrogate" | "explainer", _) => metrics(kind, epochs(d)),
            _ => continue,
        };
        write(&dir.join(d).join("metrics.jsonl"), &m);
    }
    // Tables: CSV with RFC 4180 quoting, Markdown twins with a title and notes.
    let t = dir.join("tables");
    write(
        &t.join("table1.csv"),
        "original by surrogate,val CE,val accuracy,KL,paper val accuracy\n\
         resnet-by-resnet,0.4120,0.8812,0.0310,0.9420\n\"vit-by-resnet, \"\"short\"\"\",0.5,0.8,0.04,0.93\n",
    );
    write(
        &t.join("table1.md"),
        "# Table 1: surrogates\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nPaper numbers from \
         [the paper](https://arxiv.org/abs/2107.07436); **bold** note with a \\| bar.\n",
    );
    write(
        &t.join("table2.csv"),
        "model,val loss,val accuracy\nresnet,0.3,0.9\n",
    );
    write(
        &t.join("table2.md"),
        "# Table 2: originals\n\n| a |\n|---|\n| 1 |\n",
    );
    write(&t.join("table3.csv"), "pair,agreement\nresnet/vit,0.61\n");
    write(
        &t.join("table3.md"),
        "# Table 3\n\n| a |\n|---|\n| 1 |\n\nSubsets in subsets.json.\n",
    );
    // Figures: one task 2 subset is empty, one task 3 figure is not listed in figures.json.
    let f = dir.join("figures");
    png(&f.join("task1-resnet-by-resnet.png"), 2400, 320, 1);
    png(&f.join("task1-vit-by-resnet.png"), 600, 200, 2);
    for (i, s) in [
        "a-wrong-b-correct",
        "a-correct-b-wrong",
        "a-correct-b-correct",
    ]
    .iter()
    .enumerate()
    {
        png(&f.join(format!("task2-{s}.png")), 800, 150, 3 + i as u32);
    }
    png(&f.join("task3-resnet-vs-vit.png"), 900, 240, 7);
    png(&f.join("task3-extra.png"), 300, 100, 8);
    let fj = json!({
        "task1": [{"file": "task1-resnet-by-resnet.png", "caption": "Task 1 <resnet> & friends"}],
        "task2": [{"file": "task2-a-correct-b-correct.png", "caption": "both right"}],
        "task3": [{"file": "task3-resnet-vs-vit.png", "caption": "ResNet vs ViT surrogates"}],
        "notes": ["A = original resnet, B = original vit", "Subset a-wrong-b-wrong is empty"]});
    write(&f.join("figures.json"), &fj.to_string());
    // Evaluations: resnet-by-resnet without rollout (2 curve SVGs), vit-by-resnet with (4).
    for (slug, n_svg) in [("resnet-by-resnet", 2), ("vit-by-resnet", 4)] {
        let e = dir.join("evaluation").join(slug);
        write(
            &e.join("errors.md"),
            "## Explainer error against exact Shapley values\n\nP = 16 players.\n\n\
             | image | label | estimator | L2 |\n|---|---|---|---|\n| #1 | cat | fastshap | 0.01 |\n\
             | **mean** |  | fastshap | 0.01 |\n",
        );
        write(
            &e.join("auc.md"),
            "## Inclusion / exclusion AUC\n\n| method | mode | top-1 AUC |\n|---|---|---|\n\
             | fastshap | exclusion | 0.2 (0.1, 0.3) |\n",
        );
        write(
            &e.join("timing.md"),
            "## Explanation time per image\n\n| method | ms / image |\n|---|---|\n| exact | – |\n",
        );
        write(
            &e.join("report.md"),
            "# FastSHAP evaluation\n\n2 images, P = 16 players.\n\n## Explainer error\n",
        );
        let opts = PlotOptions {
            title: "exclusion".into(),
            ..PlotOptions::default()
        };
        for k in 0..n_svg {
            let s = Series::new("fastshap", vec![0.0, 50.0, 100.0], vec![1.0, 0.5, 0.1]);
            write(&e.join(format!("curves_{k}.svg")), &line_plot(&[s], &opts));
        }
        png(&e.join("phi_fastshap.png"), 400, 120, 9);
        png(&e.join("phi_exact.png"), 400, 120, 10);
        if slug.starts_with("vit") {
            png(&e.join("rollout.png"), 500, 300, 11);
        }
    }
    let log: String = (1..=100).map(|i| format!("line {i} <log>\n")).collect();
    write(&dir.join("run.log"), &log);
}

/// A run directory: `FASTSHAP_REPORT_KEEP` when set (emptied first), else a temp dir.
fn run_dir(keep: bool) -> (Option<tempfile::TempDir>, std::path::PathBuf) {
    match std::env::var_os("FASTSHAP_REPORT_KEEP").filter(|_| keep) {
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            (None, p)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// The values of every `attr="..."` in `html`.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let pat = format!("{attr}=\"");
    html.match_indices(&pat)
        .map(|(i, _)| {
            let rest = &html[i + pat.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// The HTML of the element with `id`, up to the end of its `</tag>`.
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).expect(id);
    let end = html[start..].find(&format!("</{tag}>")).unwrap();
    &html[start..start + end]
}

fn check_ids(html: &str, ids: &[String]) {
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !html.contains(&format!("id=\"{id}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "ids missing from report.html: {missing:?}"
    );
}

#[test]
fn finished_run_renders_everything_inline() {
    let (_t, dir) = run_dir(true);
    build(&dir);
    let path = write_report(&dir).unwrap();
    assert_eq!(path, dir.join("report.html"));
    let html = std::fs::read_to_string(&path).unwrap();

    let ids = expected_ids(&dir).unwrap();
    for id in [
        "table1",
        "table2",
        "table3",
        "curves-originals-resnet",
        "curves-surrogates-vit-by-resnet",
        "curves-explainers-resnet-by-resnet",
        "task1-resnet-by-resnet",
        "task2-a-wrong-b-wrong",
        "task3-resnet-vs-vit",
        "task3-extra",
        "eval-resnet-by-resnet",
        "eval-vit-by-resnet",
        "rollout-vit-by-resnet",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} not in expected_ids");
    }
    assert!(!ids.iter().any(|i| i == "rollout-resnet-by-resnet"));
    check_ids(&html, &ids);
    // Every id is unique.
    let all = attr_values(&html, "id");
    let mut dedup = all.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(all.len(), dedup.len(), "duplicate ids");

    // Inline PNGs decode; nothing is fetched.
    let srcs = attr_values(&html, "src");
    assert_eq!(srcs.len(), PNGS, "one src per PNG");
    for s in &srcs {
        let b64 = s.strip_prefix("data:image/png;base64,").expect(s);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
        assert!(img.width() > 0);
    }
    assert_eq!(html.matches("data:image/png;base64,").count(), PNGS);
    for v in attr_values(&html, "src")
        .into_iter()
        .chain(attr_values(&html, "href"))
    {
        assert!(
            !v.starts_with("http://") && !v.starts_with("https://") && !v.starts_with("//"),
            "network reference {v}"
        );
    }
    for v in attr_values(&html, "href") {
        assert!(v.starts_with('#'), "href {v} is not an in-page anchor");
    }
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("@import"));
    assert_eq!(html.matches("<svg").count(), SVGS);

    // A missing piece is a note in its figure; captions come from figures.json, escaped.
    let empty = element(&html, "task2-a-wrong-b-wrong", "figure");
    assert!(
        empty.contains("class=\"note\"") && empty.contains("not produced"),
        "{empty}"
    );
    assert!(!empty.contains("<img"));
    assert!(element(&html, "task2-a-correct-b-correct", "figure").contains("both right"));
    assert!(html.contains("Task 1 &lt;resnet&gt; &amp; friends"));
    assert!(!html.contains("<resnet>") && !html.contains("<log>"));
    // A finished run has no unfinished note; the report stage does not count.
    assert!(
        !html.contains("Unfinished run"),
        "finished run flagged unfinished"
    );
    assert!(html.contains("11 of 11"));

    // Tables: the CSV's quoted cell, the .md title and notes (the link became text).
    let t1 = element(&html, "table1", "section");
    assert!(
        t1.contains("<td>vit-by-resnet, &quot;short&quot;</td>"),
        "{t1}"
    );
    assert!(t1.contains("Table 1: surrogates"));
    assert!(t1.contains("the paper") && t1.contains("<strong>bold</strong>"));
    assert!(t1.contains("<td class=\"num\">0.8812</td>"));
    // Timings: total of the finished stages, 3.5 × (1 + … + 11) = 231 s.
    assert!(element(&html, "timings", "section").contains("231.0"));
    // Curves: a one-epoch run renders its single point as a marker.
    let vit = element(&html, "curves-originals-vit", "section");
    assert_eq!(vit.matches("<svg").count(), 2);
    assert!(vit.contains("<circle"));
    assert_eq!(
        element(&html, "curves-originals-mae-pretrain", "section")
            .matches("<svg")
            .count(),
        1
    );
    // Evaluation: Markdown tables became HTML tables; the log shows its last 60 lines.
    let ev = element(&html, "eval-resnet-by-resnet", "section");
    assert!(ev.contains("<strong>mean</strong>") && ev.matches("<table>").count() == 3);
    assert!(html.contains("line 100 &lt;log&gt;") && !html.contains("line 40 &lt;log&gt;"));
    assert!(html.contains("line 41 &lt;log&gt;"));
    assert!(html.contains("2026-01-01 00:00:00 UTC"));
}

#[test]
fn unfinished_run_renders_with_notes() {
    let (_t, dir) = run_dir(false);
    build(&dir);
    for d in [
        "explainers/vit-by-resnet",
        "tables",
        "evaluation/vit-by-resnet",
    ] {
        std::fs::remove_dir_all(dir.join(d)).unwrap();
    }
    std::fs::remove_file(dir.join("run.log")).unwrap();
    std::fs::remove_file(dir.join("figures/figures.json")).unwrap();
    let html = std::fs::read_to_string(write_report(&dir).unwrap()).unwrap();
    assert!(
        html.contains("Unfinished run: 3 of 11 stages have not finished"),
        "header"
    );
    check_ids(&html, &expected_ids(&dir).unwrap());
    assert!(element(&html, "curves-explainers-vit-by-resnet", "section").contains("not started"));
    assert!(element(&html, "table1", "section").contains("was not produced"));
    assert!(element(&html, "eval-vit-by-resnet", "section").contains("Not evaluated yet"));
    assert!(element(&html, "rollout-vit-by-resnet", "figure").contains("not produced"));
    assert!(element(&html, "log", "section").contains("run.log was not found"));
    // Without figures.json the PNGs on disk still show, with default captions.
    assert!(element(&html, "task3-extra", "figure").contains("<img"));
    assert!(element(&html, "timings", "section").contains("not finished"));
}

#[test]
fn report_rewrites_the_summary_of_a_finished_run_only() {
    let (_t, dir) = run_dir(false);
    build(&dir);
    let summary = dir.join(fastshap::reproduce::SUMMARY_FILE);
    let _ = std::fs::remove_file(&summary);
    std::fs::remove_file(dir.join("tables/stage.json")).unwrap();
    assert!(!fastshap::reproduce::rewrite_summary(&dir).unwrap());
    assert!(!summary.exists(), "an unfinished run gets no summary");
    write(&dir.join("tables/stage.json"), r#"{"summary": {}}"#);
    assert!(fastshap::reproduce::rewrite_summary(&dir).unwrap());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(v["preset"], "tiny");
    let t = tempfile::tempdir().unwrap();
    assert!(!fastshap::reproduce::rewrite_summary(t.path()).unwrap());
}

#[test]
fn missing_reproduce_json_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let e = write_report(t.path()).unwrap_err();
    assert!(format!("{e:#}").contains("reproduce.json"), "{e:#}");
    let e = expected_ids(t.path()).unwrap_err();
    assert!(format!("{e:#}").contains("reproduce.json"), "{e:#}");
    assert!(!t.path().join("report.html").exists());
    write(&t.path().join("reproduce.json"), "{not json");
    assert!(format!("{:#}", write_report(t.path()).unwrap_err()).contains("not valid JSON"));
}

#[test]
fn csv_and_markdown() {
    let rows = parse_csv("a,\"b,c\",\"d \"\"e\"\"\"\r\n1,\"two\nlines\",3\n\n");
    assert_eq!(
        rows,
        vec![vec!["a", "b,c", "d \"e\""], vec!["1", "two\nlines", "3"]]
    );
    let html = markdown(
        "# Title\n\nSome *text* `x<y`.\n\n| a | b \\| c |\n|---|:--:|\n| 1 | <2> |\n\n- one\n- two\n",
        1,
    );
    assert!(html.contains("<h2>Title</h2>"), "{html}");
    assert!(html.contains("<code>x&lt;y</code>"));
    assert!(html.contains("<th>b | c</th>"));
    assert!(html.contains("<td>&lt;2&gt;</td>"));
    assert!(html.contains("<li>two</li>"));
}
