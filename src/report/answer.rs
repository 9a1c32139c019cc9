//! The report's first section: how good the explanations are at this budget, in numbers —
//! the originals' accuracy, the surrogates' KL, each evaluated explainer against its ground
//! truth with 95% intervals (beside its untrained self) and its speed against KernelSHAP —
//! read from `DIR/summary.json`, before any configuration or timing.

use super::text::note;
use super::{Run, Section};
use crate::viz::svg::escape;
use serde_json::Value;
use std::fmt::Write;

fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .filter(|x| x.is_finite())
        .map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// "0.812 [0.780, 0.840]" from a {mean, lo, hi} object.
fn stat(v: &Value) -> String {
    if v.get("mean").is_none() {
        return "–".into();
    }
    format!(
        "{} [{}, {}]",
        num(&v["mean"], 3),
        num(&v["lo"], 3),
        num(&v["hi"], 3)
    )
}

fn auc(e: &Value, method: &str, mode: &str) -> String {
    e["auc"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["method"] == method && r["mode"] == mode)
        })
        .map_or("–".into(), |r| stat(&r["top1"]))
}

pub fn answer(run: &Run) -> Section {
    let path = run.dir.join("summary.json");
    let s: Option<Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut o = String::new();
    let Some(s) = s else {
        o += &note("summary.json has not been written yet (it is written at the end of a run).");
        return section(o);
    };
    if let Some(m) = s["sizing"].as_object() {
        let _ = writeln!(
            o,
            "<p class=\"meta\">Budgets sized for {} s of stages on this adapter ({}): measured \
             {} original training img/s, {} explainer training img/s, {} game evaluations/s.</p>",
            num(&m["target_seconds"], 0),
            escape(m["device"].as_str().unwrap_or("?")),
            num(&m["original_train_img_per_s"], 0),
            num(&m["explainer_train_img_per_s"], 0),
            num(&m["game_evaluations_per_s"], 0),
        );
    }
    let mut models = Vec::new();
    if let Some(orig) = s["originals"].as_object() {
        for (k, v) in orig {
            models.push(format!(
                "original {k}: test accuracy {}",
                num(&v["test_accuracy"], 3)
            ));
        }
    }
    if let Some(sur) = s["surrogates"].as_object() {
        for (k, v) in sur {
            models.push(format!(
                "surrogate {k}: validation KL {} (accuracy {})",
                num(&v["val_kl"], 3),
                num(&v["val_accuracy"], 3)
            ));
        }
    }
    if !models.is_empty() {
        o += "<ul>\n";
        for m in models {
            let _ = writeln!(o, "<li>{}</li>", escape(&m));
        }
        o += "</ul>\n";
    }
    let Some(ex) = s["explainers"].as_object().filter(|e| !e.is_empty()) else {
        o += &note("No explainer has been evaluated yet.");
        return section(o);
    };
    // One column per explainer, one row per measure: reads top to bottom on any screen.
    type Cell<'a> = &'a dyn Fn(&Value) -> String;
    let rows: [(&str, Cell); 12] = [
        ("ground truth", &|e| {
            escape(e["ground_truth"].as_str().unwrap_or("?"))
        }),
        ("test images", &|e| num(&e["images"], 0)),
        ("Pearson, explained class: trained", &|e| {
            stat(&e["pearson_explained_class"])
        }),
        ("Pearson, explained class: untrained", &|e| {
            stat(&e["untrained_pearson_explained_class"])
        }),
        ("Pearson, all classes", &|e| stat(&e["pearson_all_classes"])),
        ("L2, explained class: trained / untrained", &|e| {
            format!(
                "{} / {}",
                stat(&e["l2_explained_class"]),
                num(&e["untrained_l2_explained_class"]["mean"], 3)
            )
        }),
        ("sign agreement (top players), explained class", &|e| {
            stat(&e["sign_agreement_explained_class"])
        }),
        ("exclusion AUC: fastshap / exact / random", &|e| {
            format!(
                "{} / {} / {}",
                auc(e, "fastshap", "exclusion"),
                auc(e, "exact", "exclusion"),
                auc(e, "random", "exclusion")
            )
        }),
        ("KernelSHAP L2 at 1,000 evaluations", &|e| {
            num(&e["kernelshap_l2_at_1000_evaluations"], 3)
        }),
        ("KernelSHAP evaluations for equal error", &|e| {
            e["kernelshap_evaluations_to_match"]
                .as_f64()
                .map_or("more than the largest budget".into(), |v| format!("{v:.0}"))
        }),
        ("FastSHAP ms / image", &|e| num(&e["ms_per_image"], 3)),
        ("speed-up over KernelSHAP at equal error", &|e| {
            e["speedup_at_equal_error"]
                .as_f64()
                .map_or("–".into(), |v| format!("{v:.0}×"))
        }),
    ];
    o += "<div class=\"scroll\"><table><thead><tr><th>measure</th>";
    for k in ex.keys() {
        let _ = write!(o, "<th>{}</th>", escape(k));
    }
    o += "</tr></thead><tbody>\n";
    for (label, f) in rows {
        let _ = write!(o, "<tr><th>{}</th>", escape(label));
        for e in ex.values() {
            let _ = write!(o, "<td class=\"num\">{}</td>", f(e));
        }
        o += "</tr>\n";
    }
    o += "</tbody></table></div>\n";
    o.push_str(
        "<p>Pearson and L2 compare the explainer's φ with the ground truth per image on the class \
         the original predicts (mean over images, 95% bootstrap interval); the untrained row is \
         the same network at its initial weights. Exclusion AUC: lower is better. Speed-up: \
         KernelSHAP's time at the evaluations it needs to match FastSHAP's L2 (evaluations × \
         the measured time of one) over FastSHAP's time per image. Details in the evaluation \
         section.</p>",
    );
    section(o)
}

fn section(body: String) -> Section {
    Section {
        id: "answer".into(),
        title: "The answer: how right are the explanations?".into(),
        body,
        sub: Vec::new(),
    }
}
