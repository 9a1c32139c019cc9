//! The paper's Tables 1 and 2 from our runs, with the paper's numbers beside ours: Table 2 is
//! each original classifier's loss and accuracy on the test set; Table 1 is each
//! original-by-surrogate pair's unmasked validation cross-entropy, accuracy and KL, read from
//! the surrogate run's best epoch in `metrics.jsonl`. Also the small [`Table`] type every
//! table here (and Table 3 in [`super::compare`]) is written with, as Markdown and CSV.

use super::surrogate::SurrogateMetrics;
use crate::train::eval::Evaluation;
use crate::train::state::{BEST, METRICS};
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};

/// Table 2 of the paper (REFERENCE.md): (model, val loss, val accuracy).
pub const PAPER_TABLE2: [(&str, f64, f64); 3] = [
    ("ResNet18", 0.4417, 0.9325),
    ("ViT", 0.3758, 0.9060),
    ("MAE-pretrained ViT", 0.5287, 0.9091),
];

/// Table 1 of the paper (REFERENCE.md): (original by surrogate, val CE, val accuracy, KL).
pub const PAPER_TABLE1: [(&str, f64, f64, f64); 7] = [
    ("ResNet by ResNet", 0.4414, 0.8860, 0.4045),
    ("ResNet by ViT", 1.685, 0.7744, 1.6529),
    ("ViT by ViT", 0.7980, 0.7531, 0.4993),
    ("ViT by ResNet", 0.3364, 0.9195, 0.1973),
    ("MAE by ViT(384/384)", 0.8457, 0.7289, 0.7324),
    ("MAE by ViT(192/768)", 0.8048, 0.7251, 0.6972),
    ("MAE by ResNet", 0.5526, 0.8912, 0.7124),
];

/// A header and rows of cells, written as a Markdown pipe table or as CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn markdown(&self) -> String {
        // A `|` inside a cell would end it early.
        let cell = |c: &String| c.replace('|', "\\|");
        let line = |cells: &[String]| {
            format!(
                "| {} |\n",
                cells.iter().map(cell).collect::<Vec<_>>().join(" | ")
            )
        };
        let mut s = line(&self.headers);
        s += &format!("|{}\n", "---|".repeat(self.headers.len()));
        for r in &self.rows {
            s += &line(r);
        }
        s
    }

    /// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled.
    pub fn csv(&self) -> String {
        let field = |c: &String| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        };
        let line = |cells: &[String]| cells.iter().map(field).collect::<Vec<_>>().join(",") + "\n";
        let mut s = line(&self.headers);
        for r in &self.rows {
            s += &line(r);
        }
        s
    }

    /// Writes `<stem>.md` (under a `# title` heading, with `notes` below the table) and
    /// `<stem>.csv` into `dir`; returns both paths.
    pub fn write(
        &self,
        dir: &Path,
        stem: &str,
        title: &str,
        notes: &str,
    ) -> Result<(PathBuf, PathBuf)> {
        let md = dir.join(format!("{stem}.md"));
        let csv = dir.join(format!("{stem}.csv"));
        let mut text = format!("# {title}\n\n{}", self.markdown());
        if !notes.is_empty() {
            text += &format!("\n{notes}\n");
        }
        crate::io::write_atomic(&md, text.as_bytes())?;
        crate::io::write_atomic(&csv, self.csv().as_bytes())?;
        Ok((md, csv))
    }
}

/// Parses `name=PATH`.
pub fn parse_named(spec: &str, flag: &str) -> Result<(String, PathBuf)> {
    match spec.split_once('=') {
        Some((n, p)) if !n.trim().is_empty() && !p.is_empty() => {
            Ok((n.trim().to_string(), PathBuf::from(p)))
        }
        _ => bail!("{flag}: expected NAME=RUN (e.g. \"ResNet by ViT=runs/sur-rv\"), got {spec:?}"),
    }
}

/// Lower-case letters and digits only, with "resnet18" read as "resnet", so "ResNet18",
/// "resnet" and "RESNET-18" name the same paper row.
fn normalize(name: &str) -> String {
    let s: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    s.replace("resnet18", "resnet")
}

/// The index of the paper row `name` refers to: the row with the same normalised name, else
/// the only row whose normalised name starts with it ("MAE" → "MAE-pretrained ViT"; "MAE by
/// ViT" matches two rows, hence none).
pub fn paper_row<'a>(name: &str, rows: impl Iterator<Item = &'a str> + Clone) -> Option<usize> {
    let n = normalize(name);
    if n.is_empty() {
        return None;
    }
    if let Some(i) = rows.clone().position(|r| normalize(r) == n) {
        return Some(i);
    }
    let hits: Vec<usize> = rows
        .enumerate()
        .filter(|(_, r)| normalize(r).starts_with(&n))
        .map(|(i, _)| i)
        .collect();
    (hits.len() == 1).then(|| hits[0])
}

fn f4(v: f64) -> String {
    format!("{v:.4}")
}

fn opt4(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), f4)
}

/// Table 2: one row per original, `(name, test images, evaluation)`.
pub fn table2(rows: &[(String, usize, Evaluation)]) -> Table {
    let mut t = Table::new(&[
        "model",
        "test images",
        "val loss",
        "val loss (paper)",
        "val accuracy",
        "val accuracy (paper)",
    ]);
    for (name, n, e) in rows {
        let paper = paper_row(name, PAPER_TABLE2.iter().map(|r| r.0)).map(|i| PAPER_TABLE2[i]);
        t.rows.push(vec![
            name.clone(),
            n.to_string(),
            f4(e.loss),
            opt4(paper.map(|p| p.1)),
            f4(e.accuracy),
            opt4(paper.map(|p| p.2)),
        ]);
    }
    t
}

/// A surrogate run's best epoch: the line of `metrics.jsonl` whose epoch `best.safetensors`
/// records, else the first line with the lowest masked validation loss (how training picks it).
pub fn best_surrogate_epoch(run: &Path) -> Result<SurrogateMetrics> {
    let dir = if run.is_dir() {
        run.to_path_buf()
    } else if run.is_file() {
        run.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        bail!("surrogate run {} does not exist", run.display())
    };
    let path = dir.join(METRICS);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (is it a surrogate run?)", path.display()))?;
    let mut lines = Vec::new();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let m: SurrogateMetrics = serde_json::from_str(l).with_context(|| {
            format!(
                "{} line {}: not a surrogate metrics line",
                path.display(),
                i + 1
            )
        })?;
        lines.push(m);
    }
    ensure!(!lines.is_empty(), "{} has no epochs", path.display());
    let recorded: Option<usize> = crate::checkpoint::read_metadata(&dir.join(BEST))
        .ok()
        .and_then(|m| m.get("fastshap.epoch").and_then(|e| e.parse().ok()));
    // A resumed run appends; the last line of an epoch is the one that run kept.
    if let Some(m) = recorded.and_then(|e| lines.iter().rev().find(|m| m.epoch == e)) {
        return Ok(m.clone());
    }
    let mut best = &lines[0];
    for m in &lines {
        if m.val_masked_loss < best.val_masked_loss {
            best = m;
        }
    }
    Ok(best.clone())
}

/// Table 1: one row per original-by-surrogate pair, `(name, best epoch's metrics)`.
pub fn table1(rows: &[(String, SurrogateMetrics)]) -> Table {
    let mut t = Table::new(&[
        "original by surrogate",
        "best epoch",
        "val loss (CE)",
        "val loss (paper)",
        "val accuracy",
        "val accuracy (paper)",
        "val KL",
        "train KL (masked)",
        "KL (paper)",
    ]);
    for (name, m) in rows {
        let paper = paper_row(name, PAPER_TABLE1.iter().map(|r| r.0)).map(|i| PAPER_TABLE1[i]);
        t.rows.push(vec![
            name.clone(),
            m.epoch.to_string(),
            f4(m.val_ce),
            opt4(paper.map(|p| p.1)),
            f4(m.val_acc),
            opt4(paper.map(|p| p.2)),
            f4(m.val_kl),
            f4(m.train_loss),
            opt4(paper.map(|p| p.3)),
        ]);
    }
    t
}

/// What Table 1's columns mean, below the table.
pub const TABLE1_NOTES: &str = "val loss, val accuracy and val KL are on the unmasked \
validation images (CE against the true labels; KL(p_original ‖ p_surrogate)); train KL is the \
training loss on masked images at that epoch (the reverse KL for runs trained with it). The \
paper's KL column is labelled \"KL div (training)\".";
