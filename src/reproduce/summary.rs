//! `DIR/summary.json`: the run's answer in numbers, gathered from the finished stages'
//! `stage.json` files — each original's test accuracy, each surrogate's KL to its original and,
//! per evaluated explainer, how close it is to the ground truth (with 95% intervals), its
//! untrained self's score, its AUCs and its speed. Rewritten after every run, so a partial run
//! has a partial summary.

use super::{STAGE_DONE, Stage};
use anyhow::Result;
use serde_json::{Map, Value, json};
use std::path::Path;

pub const SUMMARY_FILE: &str = "summary.json";

fn stage_summary(dir: &Path, stage: &Stage) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(&stage.dir).join(STAGE_DONE)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    Some(v["summary"].clone())
}

fn slug(stage: &Stage) -> String {
    stage
        .dir
        .rsplit('/')
        .next()
        .unwrap_or(&stage.dir)
        .to_string()
}

/// One explainer's entry from its evaluation's `fidelity` object.
fn explainer_entry(f: &Value) -> Value {
    let score = |name: &str| {
        f["scores"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (trained, untrained, ks) = (
        score("fastshap"),
        score("fastshap (untrained)"),
        score("kernelshap (converged)"),
    );
    let t = &f["timing"];
    json!({
        "ground_truth": f["ground_truth"],
        "images": f["images"],
        "players": f["players"],
        "pearson_explained_class": trained["predicted"]["pearson"],
        "pearson_all_classes": trained["all_classes"]["pearson"],
        "spearman_explained_class": trained["predicted"]["spearman"],
        "l2_explained_class": trained["predicted"]["l2"],
        "sign_agreement_explained_class": trained["predicted"]["sign_agreement"],
        "untrained_pearson_explained_class": untrained["predicted"]["pearson"],
        "untrained_l2_explained_class": untrained["predicted"]["l2"],
        "kernelshap_converged_l2_explained_class": ks["predicted"]["l2"],
        "best_cheap": f["best_cheap"],
        // The paired comparisons on the images whose truth converged (empty: all or none did).
        "truth_converged": f["truth_converged"],
        "comparisons_converged": f["comparisons_converged"],
        "at_fastshap_cost": t["at_cost"],
        "additivity": f["additivity"],
        "additivity_note": f["additivity_note"],
        "kernelshap_evaluations_to_match": f["kernelshap_evaluations_to_match"],
        "permutation_evaluations_to_match": f["permutation_evaluations_to_match"],
        "kernelshap_l2_at_1000_evaluations": f["kernelshap_l2_at_1000"],
        "fastshap_cost_in_evaluations": t["fastshap_cost_in_evaluations"],
        "largest_budget": largest_budgets(&f["budget_curves"]),
        "ms_per_image": t["fastshap_ms_per_image"],
        "ms_single_image": t["fastshap_ms_single_image"],
        "ms_per_game_evaluation": t["ms_per_evaluation"],
        "kernelshap_ms_at_equal_error": t["kernelshap_ms_at_equal_error"],
        "speedup_at_equal_error": t["speedup_at_equal_error"],
        "images_to_break_even": t["images_to_break_even"],
        "auc": f["auc"],
        // Fidelity against training steps (null: the explainer kept no snapshots).
        "learning_curve": f["learning_curve"],
    })
}

/// {method: its largest budget (evaluations per image)} of the error-vs-evaluations curves.
fn largest_budgets(curves: &Value) -> Value {
    let mut out = Map::new();
    for c in curves.as_array().into_iter().flatten() {
        let most = c["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["evaluations"].as_f64())
            .fold(f64::NAN, f64::max);
        if let (Some(m), true) = (c["method"].as_str(), most.is_finite()) {
            out.insert(m.to_string(), json!(most));
        }
    }
    Value::Object(out)
}

/// Builds the summary of the run in `dir` from its stage list and writes it atomically.
pub fn write_summary(dir: &Path, info: &Value, stages: &[Stage]) -> Result<Value> {
    let (mut originals, mut surrogates, mut explainers) = (Map::new(), Map::new(), Map::new());
    for st in stages {
        let Some(s) = stage_summary(dir, st) else {
            continue;
        };
        match st.kind.as_str() {
            "original" if s.get("final_val_acc").is_some_and(|v| !v.is_null()) => {
                originals.insert(
                    slug(st),
                    json!({"test_accuracy": s["test_accuracy"],
                           "validation_accuracy": s["final_val_acc"],
                           "epochs": s["epochs"]}),
                );
            }
            "surrogate" => {
                surrogates.insert(
                    slug(st),
                    json!({"val_kl": s["val_kl"], "val_accuracy": s["val_acc"],
                           "epochs": s["epochs"], "best_epoch": s["best_epoch"]}),
                );
            }
            "evaluation" if s.get("fidelity").is_some() => {
                explainers.insert(slug(st), explainer_entry(&s["fidelity"]));
            }
            _ => {}
        }
    }
    let summary = json!({
        "preset": info["preset"],
        "data": info["data"],
        "device": info["device"],
        "sizing": info["settings"]["plan"]["fidelity"]["measured"],
        "originals": originals,
        "surrogates": surrogates,
        "explainers": explainers,
    });
    crate::io::write_atomic(
        &dir.join(SUMMARY_FILE),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(summary)
}
