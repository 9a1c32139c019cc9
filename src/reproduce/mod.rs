//! `fastshap reproduce`: the paper's whole experiment as one resumable pipeline of named stages.
//!
//! 1. originals: ResNet18, ViT, MAE pre-training, MAE classifier (Table 2);
//! 2. surrogates: the seven pairings of Table 1;
//! 3. explainers for the pairings the figures need;
//! 4. Tables 1, 2 and 3;
//! 5. figures: tasks 1–3 (attention rollout comes with the evaluation of ViT/MAE explainers);
//! 6. evaluation against ground truth (exact or KernelSHAP), inclusion/exclusion AUCs, timing;
//!
//! and then the self-contained `report.html`, rewritten at the end of every run.
//!
//! Every stage writes into its own directory under `--out` and, last, a `stage.json` (name,
//! seconds, summary). A stage whose `stage.json` exists is skipped, so killing the run at any
//! point and starting it again redoes only the unfinished stage: an interrupted original,
//! surrogate or explainer continues from its last epoch checkpoint (said in `run.log`), any
//! other interrupted stage starts over.
//! `reproduce.json` holds the preset, data, device and every setting; `run.log` the events.

mod calibrate;
pub mod plan;
mod stages;
mod summary;

pub use plan::{FidelityPlan, Plan, ReproPreset};
pub use stages::{FIDELITY_TABLE, fidelity_slug};
pub use summary::SUMMARY_FILE;

use crate::data::Dataset;
use crate::time::utc;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// The file each finished stage leaves in its directory.
pub const STAGE_DONE: &str = "stage.json";
/// The run's settings, at the top of `--out`.
pub const RUN_FILE: &str = "reproduce.json";
pub const LOG_FILE: &str = "run.log";
pub const REPORT_FILE: &str = "report.html";

/// One step of the pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    /// Output directory, relative to `--out`.
    pub dir: String,
    /// original, surrogate, explainer, tables, figures or evaluation.
    pub kind: String,
    #[serde(skip)]
    job: stages::Job,
}

/// What a finished stage records in its `stage.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageDone {
    pub name: String,
    pub index: usize,
    pub of: usize,
    pub seconds: f64,
    pub finished: String,
    pub summary: Value,
}

/// How a reproduction runs, beyond its plan.
#[derive(Clone, Debug, Default)]
pub struct ReproOptions {
    /// Print only stage lines (no recipes, no progress bars).
    pub quiet: bool,
    /// Seconds of stages a measured preset (`demo`, `cpu`) is sized for (`None`: the
    /// preset's own, [`Plan::default_seconds`]).
    pub target_seconds: Option<f64>,
}

/// The stages of the paper's reproduction (presets smoke, tiny, short, paper), in order.
pub fn stage_list() -> Vec<Stage> {
    stages::all()
}

/// The stages `plan` runs, in order (the fidelity experiment for `cpu` and `demo`).
pub fn stages_of(plan: &Plan) -> Vec<Stage> {
    stages::for_plan(plan)
}

/// Appends timestamped lines to `run.log` and echoes them to stdout.
pub(crate) struct Log {
    file: std::fs::File,
    path: PathBuf,
}

impl Log {
    fn open(path: &Path) -> Result<Log> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the run log {}", path.display()))?;
        Ok(Log {
            file,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn line(&mut self, msg: &str) -> Result<()> {
        println!("{msg}");
        writeln!(self.file, "[{}] {msg}", utc(SystemTime::now()))
            .and_then(|_| self.file.flush())
            .with_context(|| format!("cannot write the run log {}", self.path.display()))
    }
}

/// Everything a stage needs.
pub(crate) struct Run {
    pub dir: PathBuf,
    pub data: String,
    pub plan: Plan,
    /// The training split without its held-out part: what trainers learn from.
    pub fit: Dataset,
    /// The held-out part of the training split: what every trainer validates on.
    pub val: Dataset,
    /// The test split: tables, figures and the evaluated images, never used for selection.
    pub test: Dataset,
    pub opts: ReproOptions,
}

impl Run {
    pub fn new(
        dir: PathBuf,
        data: String,
        plan: Plan,
        train: &Dataset,
        test: Dataset,
        opts: ReproOptions,
    ) -> Run {
        let (fit, val) = crate::data::holdout(train);
        Run {
            dir,
            data,
            plan,
            fit,
            val,
            test,
            opts,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

/// The plan saved in `dir`'s `reproduce.json`, if it has a readable one.
fn saved_plan(dir: &Path) -> Option<Plan> {
    let text = std::fs::read_to_string(dir.join(RUN_FILE)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v["settings"]["plan"].clone()).ok()
}

/// `dir`'s `reproduce.json` as JSON: `None` where there is none, an error naming the file where
/// it cannot be read or parsed.
fn read_run_file(dir: &Path) -> Result<Option<Value>> {
    let path = dir.join(RUN_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Reads `reproduce.json` of `dir`, if any, and refuses a run of another preset or data.
fn check_previous(dir: &Path, plan: &Plan, data: &str) -> Result<Option<Value>> {
    let path = dir.join(RUN_FILE);
    let Some(prev) = read_run_file(dir)? else {
        return Ok(None);
    };
    let prev_plan: Plan = serde_json::from_value(prev["settings"]["plan"].clone())
        .with_context(|| format!("{} holds no readable plan", path.display()))?;
    let prev_data = prev["data"].as_str().unwrap_or_default();
    if prev_plan != *plan || prev_data != data {
        bail!(
            "{} already holds a reproduction with other settings (preset {:?}, data {prev_data:?}): \
             rerun with the same --preset and --data to resume it, or choose another --out",
            dir.display(),
            prev_plan.preset
        );
    }
    Ok(Some(prev))
}

/// Rewrites `DIR/summary.json` from the stages a finished run left, so `fastshap report` on a run
/// finished by an older binary shows what the current summary holds (the converged-truth line,
/// 2026-12-04). Returns false, writing nothing, where DIR has no `reproduce.json` or some stage
/// has not finished: the summary is the answer of a whole run, never of part of one.
pub fn rewrite_summary(dir: &Path) -> Result<bool> {
    let path = dir.join(RUN_FILE);
    let Some(info) = read_run_file(dir)? else {
        return Ok(false);
    };
    let stages: Vec<Stage> = serde_json::from_value(info["stages"].clone())
        .with_context(|| format!("{} has no valid stage list", path.display()))?;
    // A "report" entry (older runs listed one) leaves no stage.json.
    let mut work = stages.iter().filter(|s| s.kind != "report").peekable();
    if work.peek().is_none() || work.any(|s| !dir.join(&s.dir).join(STAGE_DONE).exists()) {
        return Ok(false);
    }
    summary::write_summary(dir, &info, &stages).context("writing summary.json")?;
    Ok(true)
}

/// Runs (or resumes) the reproduction `plan` on `data` into `dir`.
pub fn reproduce(plan: &Plan, data: &str, dir: &Path, opts: &ReproOptions) -> Result<PathBuf> {
    let t0 = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Absolute, so checkpoints record paths that work from any directory.
    let dir = std::fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
    // Bad data fails before anything is written, so a corrected rerun is not refused.
    let (train, test) = crate::data::load_source(data)?;
    // Trainers see the training split less its held-out part.
    let fit = train.len() - crate::data::holdout_indices(train.len()).len();
    // Sized to this adapter once; a resumed run keeps the budgets it started with.
    let plan = &if !plan.sized_by_measurement() {
        plan.clone()
    } else {
        match saved_plan(&dir) {
            Some(p) if p.preset == plan.preset => p,
            _ => {
                println!("measuring this adapter to size the run's budgets…");
                let target = opts.target_seconds.unwrap_or(plan.default_seconds());
                calibrate::size_by_measurement(plan, target, fit)?
            }
        }
    };
    if plan.sized_by_measurement() {
        println!("{}", calibrate::plan_line(plan, fit));
    }
    let prev = check_previous(&dir, plan, data)?;
    let ctx = crate::gpu::ctx();
    let device = json!({
        "name": ctx.info.name,
        "backend": format!("{:?}", ctx.info.backend),
        "device_type": format!("{:?}", ctx.info.device_type),
        "kernels": format!("{:?}", ctx.kernel_class()),
    });
    let list = stages_of(plan);
    let now = format!("{} UTC", utc(SystemTime::now()));
    let info = match prev {
        Some(mut prev) => {
            let sessions = prev["sessions"].as_array_mut();
            if let Some(s) = sessions {
                s.push(json!({"started": now, "device": device}));
            }
            prev
        }
        None => json!({
            "preset": plan.preset,
            "data": data,
            "device": device,
            "started": now,
            "version": env!("CARGO_PKG_VERSION"),
            "settings": stages::settings(plan, data, &dir),
            "stages": list,
            "sessions": [{"started": now, "device": device}],
        }),
    };
    crate::io::write_atomic(
        &dir.join(RUN_FILE),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )?;
    let mut log = Log::open(&dir.join(LOG_FILE))?;
    log.line(&format!(
        "reproduce --preset {} --data {data} → {} on {} ({:?})",
        format!("{:?}", plan.preset).to_lowercase(),
        dir.display(),
        ctx.info.name,
        ctx.info.backend
    ))?;

    let run = Run::new(
        dir.clone(),
        data.to_string(),
        plan.clone(),
        &train,
        test,
        opts.clone(),
    );
    let n = list.len();
    for (i, stage) in list.iter().enumerate() {
        let k = i + 1;
        let out = dir.join(&stage.dir);
        let done = out.join(STAGE_DONE);
        if done.exists() {
            log.line(&format!(
                "stage {k}/{n} {}: done in an earlier run, skipped",
                stage.name
            ))?;
            continue;
        }
        log.line(&format!("stage {k}/{n} {}: started", stage.name))?;
        let ts = Instant::now();
        let summary = stages::run(&run, stage, &mut log)
            .with_context(|| format!("stage {k}/{n} ({})", stage.name))
            .inspect_err(|e| {
                let _ = log.line(&format!("stage {k}/{n} {} failed: {e:#}", stage.name));
            })?;
        let seconds = ts.elapsed().as_secs_f64();
        let rec = StageDone {
            name: stage.name.clone(),
            index: k,
            of: n,
            seconds,
            finished: utc(SystemTime::now()),
            summary,
        };
        std::fs::create_dir_all(&out)?;
        crate::io::write_atomic(&done, serde_json::to_string_pretty(&rec)?.as_bytes())?;
        log.line(&format!(
            "stage {k}/{n} {}: finished in {seconds:.1} s ({:.1} s since start)",
            stage.name,
            t0.elapsed().as_secs_f64()
        ))?;
    }
    // Always rewritten: cheap, and they should show the latest state of every stage.
    summary::write_summary(&dir, &info, &list).context("writing summary.json")?;
    let report = crate::report::write_report(&dir).context("writing the report")?;
    log.line(&format!(
        "all {n} stages done in {:.1} s this session; report: {}",
        t0.elapsed().as_secs_f64(),
        report.display()
    ))?;
    Ok(report)
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use crate::fastshap::evaluate::choose_images;
    use std::collections::HashSet;

    /// Clean splits: every trainer of a reproduction validates on images held out of the
    /// training split, and no image any evaluation explains (the test split, for every preset's
    /// seed and image count) is among them — compared by content, so a duplicate across splits
    /// would be caught too.
    #[test]
    fn evaluated_images_never_take_part_in_validation() {
        let (train, test) = crate::data::embedded().unwrap();
        for preset in [
            ReproPreset::Smoke,
            ReproPreset::Tiny,
            ReproPreset::Cpu,
            ReproPreset::Demo,
        ] {
            let plan = Plan::new(preset);
            let run = Run::new(
                PathBuf::new(),
                "embedded".into(),
                plan.clone(),
                &train,
                test.clone(),
                ReproOptions {
                    quiet: true,
                    ..ReproOptions::default()
                },
            );
            assert_eq!(run.fit.len() + run.val.len(), train.len());
            assert_eq!(run.val.len(), train.len() / crate::data::HOLDOUT_EVERY);
            let val: HashSet<&[u8]> = (0..run.val.len()).map(|i| run.val.image(i)).collect();
            let fit: HashSet<&[u8]> = (0..run.fit.len()).map(|i| run.fit.image(i)).collect();
            assert!(
                val.is_disjoint(&fit),
                "{preset:?}: fit and validation overlap"
            );
            let evaluated = choose_images(run.test.len(), plan.eval_images, plan.seed);
            for &i in &evaluated {
                assert!(
                    !val.contains(run.test.image(i)),
                    "{preset:?}: evaluated test image {i} is a validation image"
                );
            }
            // Every class keeps validation images (the held-out part is stratified).
            assert!(run.val.class_counts().iter().all(|&c| c > 0), "{preset:?}");
        }
    }
}
