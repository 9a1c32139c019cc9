//! What the heatmap figures' notes say about how right the maps are. The figures stage runs
//! before the evaluations, so the note is made when the report is written: from the explainer's
//! `fidelity.json` once its evaluation stage finished, "not evaluated yet" before. An explainer
//! whose evaluation says its maps are not right at this budget (`Standing::shortcomings`) is
//! said to be so plainly, with the numbers, beside every figure that shows it.

use super::Run;
use super::text::note;
use crate::fastshap::standing::Standing;
use crate::viz::svg::escape;
use serde_json::Value;

/// The slugs of the explainers a figure shows: figures.json's `explainers` of the entry for
/// `file` under `task` (runs made before the field have none, hence no note).
pub fn explainers_of(json: &Option<Value>, task: &str, file: &str) -> Vec<String> {
    json.as_ref()
        .and_then(|j| j.get(task))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("file").and_then(Value::as_str) == Some(file))
        .filter_map(|e| e.get("explainers").and_then(Value::as_array))
        .flatten()
        .filter_map(|s| Some(s.as_str()?.to_string()))
        .collect()
}

/// Every explainer any figure of `task` shows, in first-seen order.
pub fn explainers_of_task(json: &Option<Value>, task: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let files: Vec<String> = json
        .as_ref()
        .and_then(|j| j.get(task))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.get("file")?.as_str()?.to_string()))
        .collect();
    for f in files {
        for s in explainers_of(json, task, &f) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// The standing of `slug`'s explainer: `Ok` once its evaluation finished, else why not.
fn standing(run: &Run, slug: &str) -> Result<Standing, String> {
    let Some(stage) = run.of_kind("evaluation").find(|s| s.slug() == slug) else {
        return Err(format!(
            "{slug}: this run does not evaluate this explainer, so how right its maps are is \
             unknown."
        ));
    };
    if stage.done.is_none() {
        return Err(format!(
            "{slug}: not evaluated yet — whether these maps are right is unknown until the \
             stage \"{}\" finishes.",
            stage.name
        ));
    }
    let path = run.dir.join(&stage.dir).join("fidelity.json");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| Standing::from_json(&v))
        .ok_or_else(|| format!("{slug}: its evaluation's fidelity.json could not be read."))
}

/// The note beside a figure showing `slug`'s maps.
pub fn note_for(run: &Run, slug: &str) -> String {
    let s = match standing(run, slug) {
        Ok(s) => s,
        Err(why) => return note(&why),
    };
    let why = s.shortcomings();
    let on = format!(
        "{} images against {} ({} converged)",
        s.images,
        s.ground_truth,
        s.converged_share()
    );
    if why.is_empty() {
        return format!(
            "<p class=\"meta\">{}: evaluated on {on}, FastSHAP's Pearson with the truth is {}; \
             it beats its untrained self and no cheap baseline beats it.</p>\n",
            escape(slug),
            escape(&s.pearson.fmt())
        );
    }
    format!(
        "<p class=\"note warn\"><strong>These maps are not right at this budget</strong> \
         ({}, evaluated on {on}): {}. Read them as what the explainer learned so far, not as the \
         Shapley values.</p>\n",
        escape(slug),
        escape(&why.join("; "))
    )
}
