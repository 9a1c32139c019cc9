//! The self-contained HTML report of `fastshap reproduce`: one `DIR/report.html` built from
//! what the pipeline left in DIR — images inline as `data:` PNGs, plots as inline SVG, CSS
//! inline, nothing fetched from anywhere.
//!
//! DIR holds `reproduce.json` (preset, data, device, settings and the ordered stage list), one
//! directory per stage with `stage.json` once the stage finished, and `run.log`. A stage that
//! has not run yet, or a figure that was not produced (an empty agreement subset), shows as a
//! short note in its section; only a missing or unreadable `reproduce.json` is an error.
//!
//! Ids: sections `summary`, `answer`, `configuration`, `timings`, `table2`, `table1`,
//! `table1-fidelity`, `table3`, `curves`,
//! `task1`, `task2`, `task3`, `rollout`, `evaluation`, `log`; training curves
//! `curves-<stage dir, / → ->`; figures `task1-<explainer slug>`, `task2-<subset>`,
//! `task3-<name>`; evaluations `eval-<slug>`, attention rollout `rollout-<slug>`.

mod answer;
mod figures;
mod honesty;
mod sections;
mod text;
mod training_curves;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use text::{id_of, markdown, parse_csv};

/// The agreement subsets of task 2, in display order.
pub const SUBSETS: [&str; 4] = [
    "a-wrong-b-wrong",
    "a-wrong-b-correct",
    "a-correct-b-wrong",
    "a-correct-b-correct",
];

/// One entry of `reproduce.json`'s stage list, with its `stage.json` when it finished.
#[derive(Clone, Debug)]
pub(crate) struct Stage {
    pub name: String,
    pub dir: String,
    pub kind: String,
    pub done: Option<Value>,
}

impl Stage {
    /// The last component of the stage dir (`surrogates/resnet-by-vit` → `resnet-by-vit`).
    pub fn slug(&self) -> &str {
        self.dir
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(&self.dir)
    }

    pub fn seconds(&self) -> Option<f64> {
        self.done.as_ref()?.get("seconds")?.as_f64()
    }
}

/// What `reproduce.json` says about the run, plus the stage states found on disk.
pub(crate) struct Run {
    pub dir: PathBuf,
    pub meta: Value,
    pub stages: Vec<Stage>,
    /// Problems met while reading (an unreadable `stage.json`), shown in the header.
    pub problems: Vec<String>,
}

impl Run {
    pub fn load(dir: &Path) -> Result<Run> {
        let path = dir.join("reproduce.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let meta: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let Some(list) = meta.get("stages").and_then(Value::as_array) else {
            bail!("{} has no \"stages\" list", path.display());
        };
        let mut problems = Vec::new();
        let mut stages = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let field = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_string);
            let Some(sdir) = field("dir") else {
                bail!("{}: stage {} has no \"dir\"", path.display(), i + 1);
            };
            let sj = dir.join(&sdir).join("stage.json");
            let done = match std::fs::read_to_string(&sj) {
                Err(_) => None,
                Ok(t) => match serde_json::from_str::<Value>(&t) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        problems.push(format!("{} is not valid JSON ({e})", sj.display()));
                        None
                    }
                },
            };
            stages.push(Stage {
                name: field("name").unwrap_or_else(|| sdir.clone()),
                kind: field("kind").unwrap_or_default(),
                dir: sdir,
                done,
            });
        }
        Ok(Run {
            dir: dir.to_path_buf(),
            meta,
            stages,
            problems,
        })
    }

    /// Whether this is the paper's pipeline (it has a tables stage) rather than the fidelity
    /// experiment.
    pub fn is_paper(&self) -> bool {
        self.of_kind("tables").next().is_some()
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Stage> + 'a {
        self.stages.iter().filter(move |s| s.kind == kind)
    }

    /// The directory of the first stage of `kind`, else `DIR/default`.
    pub fn dir_of(&self, kind: &str, default: &str) -> PathBuf {
        let d = self
            .of_kind(kind)
            .next()
            .map_or(default, |s| s.dir.as_str());
        self.dir.join(d)
    }

    pub fn str(&self, key: &str) -> String {
        match self.meta.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "–".into(),
            Some(v) => v.to_string(),
        }
    }

    /// The evaluated explainers `(slug, dir)`: a stage `evaluation/<slug>` is one; a stage
    /// whose dir is a single component holds one sub-directory per slug.
    pub fn eval_slugs(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for s in self.of_kind("evaluation") {
            let path = self.dir.join(&s.dir);
            let single = s.dir.trim_matches('/').contains('/')
                || path.join("errors.md").exists()
                || path.join("report.md").exists();
            if single {
                out.push((s.slug().to_string(), path));
                continue;
            }
            let mut subs: Vec<(String, PathBuf)> = std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect();
            subs.sort();
            out.extend(subs);
        }
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }
}

/// Whether an evaluated slug's original is a ViT or MAE (so attention rollout applies).
pub(crate) fn has_attention(slug: &str) -> bool {
    let original = slug.split("-by-").next().unwrap_or(slug);
    original.starts_with("vit") || original.starts_with("mae")
}

/// A top-level section: id, heading, body, and sub-entries `(id, title)` for the contents.
pub(crate) struct Section {
    pub id: String,
    pub title: String,
    pub body: String,
    pub sub: Vec<(String, String)>,
}

/// Writes DIR/report.html atomically (crate::io::write_atomic) from what the pipeline left in
/// DIR; returns its path. Missing pieces (a stage not run yet, an empty agreement subset)
/// appear as a short note in their section, never as an error — except when
/// DIR/reproduce.json is missing.
pub fn write_report(dir: &Path) -> Result<PathBuf> {
    let run = Run::load(dir)?;
    let html = render(&run);
    let path = dir.join("report.html");
    crate::io::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// The ids of the sections/figures/tables the report must contain for a finished run of DIR
/// (derived from reproduce.json's stage list), so a test can check every one is present.
pub fn expected_ids(dir: &Path) -> Result<Vec<String>> {
    let run = Run::load(dir)?;
    let paper = run.is_paper();
    let mut ids: Vec<String> = [
        "summary",
        "contents",
        "answer",
        "configuration",
        "timings",
        "table2",
        "table1",
        "table1-fidelity",
        "table3",
        "curves",
        "task1",
        "task2",
        "task3",
        "rollout",
        "evaluation",
        "log",
    ]
    .into_iter()
    .filter(|id| paper || !PAPER_ONLY.contains(id))
    .map(String::from)
    .collect();
    for s in &run.stages {
        if matches!(s.kind.as_str(), "original" | "surrogate" | "explainer") {
            ids.push(format!("curves-{}", id_of(&s.dir)));
        }
    }
    for s in run.of_kind("explainer").filter(|_| paper) {
        ids.push(format!("task1-{}", id_of(s.slug())));
    }
    if paper {
        ids.extend(SUBSETS.iter().map(|s| format!("task2-{s}")));
        for (stem, _, _) in figures::task3_list(&run) {
            ids.push(format!("task3-{}", id_of(&stem)));
        }
    }
    for (slug, path) in run.eval_slugs() {
        ids.push(format!("eval-{}", id_of(&slug)));
        if has_attention(&slug) || path.join("rollout.png").exists() {
            ids.push(format!("rollout-{}", id_of(&slug)));
        }
    }
    Ok(ids)
}

/// Sections only the paper's pipeline has (the fidelity experiment has no tables or tasks).
const PAPER_ONLY: [&str; 7] = [
    "table2",
    "table1",
    "table1-fidelity",
    "table3",
    "task1",
    "task2",
    "task3",
];

fn render(run: &Run) -> String {
    let paper = run.is_paper();
    let sections: Vec<Section> = [
        answer::answer(run),
        sections::configuration(run),
        sections::timings(run),
        sections::table(run, "table2", "Table 2: original models"),
        sections::table(run, "table1", "Table 1: surrogate models"),
        sections::table(
            run,
            "table1-fidelity",
            "Table 1b: how right each surrogate's explanations are",
        ),
        sections::table(run, "table3", "Table 3: agreement of explanations"),
        training_curves::curves(run),
        figures::task1(run),
        figures::task2(run),
        figures::task3(run),
        figures::rollout(run),
        figures::evaluation(run),
        figures::log(run),
    ]
    .into_iter()
    .filter(|s| paper || !PAPER_ONLY.contains(&s.id.as_str()))
    .collect();
    let mut o = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    o += &format!(
        "<title>FastSHAP reproduction — {}</title>\n<style>\n{}</style>\n</head>\n<body>\n<main>\n",
        crate::viz::svg::escape(&run.str("preset")),
        CSS
    );
    o += &sections::header(run);
    o += "<nav id=\"contents\"><h2>Contents</h2>\n<ol>\n";
    for s in &sections {
        o += &format!(
            "<li><a href=\"#{}\">{}</a>",
            s.id,
            crate::viz::svg::escape(&s.title)
        );
        if !s.sub.is_empty() {
            o += "<ul>";
            for (id, t) in &s.sub {
                o += &format!(
                    "<li><a href=\"#{}\">{}</a></li>",
                    crate::viz::svg::escape(id),
                    crate::viz::svg::escape(t)
                );
            }
            o += "</ul>";
        }
        o += "</li>\n";
    }
    o += "</ol>\n</nav>\n";
    for s in &sections {
        o += &format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n",
            s.id,
            crate::viz::svg::escape(&s.title),
            s.body
        );
    }
    o += "<footer>Generated by fastshap ";
    o += env!("CARGO_PKG_VERSION");
    o += ". Self-contained: every image and plot is inline.</footer>\n</main>\n</body>\n</html>\n";
    o
}

const CSS: &str = r#"
:root { --fg: #1b1f24; --muted: #59636e; --line: #c9d1d9; --head: #f0f3f6; --accent: #1f6feb; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.45em; margin: 1.8em 0 0.6em; padding-bottom: 0.2em;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 1.15em; margin: 1.4em 0 0.4em; }
h4, h5, h6 { font-size: 1em; margin: 1.1em 0 0.3em; }
section > section { margin-left: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
nav ol { columns: 2; column-gap: 40px; padding-left: 1.4em; }
nav li { break-inside: avoid; }
nav ul { padding-left: 1.1em; font-size: 0.92em; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.6em 0; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid #8c959f; }
table.kv th { width: 11em; }
.bar { display: inline-block; height: 10px; background: var(--accent); vertical-align: middle;
  margin-right: 6px; border-radius: 2px; }
.note { color: var(--muted); font-style: italic; background: #f6f8fa;
  border-left: 3px solid var(--line); padding: 4px 10px; margin: 0.5em 0; }
.warn { background: #fff8c5; border-left: 3px solid #d4a72c; padding: 6px 12px; }
figure { margin: 1em 0 1.6em; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
  image-rendering: auto; }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 0.4em; }
svg { max-width: 100%; height: auto; }
figure img.wide { max-width: none; width: 2000px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.plots > svg { width: calc(50% - 6px); height: auto; border: 1px solid #eaeef2; }
details { margin: 0.6em 0; }
summary { cursor: pointer; color: var(--accent); }
pre { background: #f6f8fa; border: 1px solid #eaeef2; padding: 10px; overflow-x: auto;
  font-size: 0.85em; line-height: 1.35; max-height: 40em; }
code { background: #f0f3f6; padding: 0 3px; border-radius: 3px; font-size: 0.92em; }
.meta { color: var(--muted); font-size: 0.92em; margin: 0.2em 0 0.6em; }
footer { margin-top: 3em; color: var(--muted); font-size: 0.85em;
  border-top: 1px solid var(--line); padding-top: 0.6em; }
"#;
