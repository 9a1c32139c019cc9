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

/// "0.812 [0.780, 0.840]" from a {mean, lo, hi, n, interval} object; a Student-t interval
/// says so with its n, a single image is "indicative".
fn stat(v: &Value) -> String {
    if v.get("mean").is_none() {
        return "–".into();
    }
    let n = v["n"].as_u64();
    match v["interval"].as_str() {
        Some("none") => format!(
            "{} (indicative, n = {})",
            num(&v["mean"], 3),
            n.unwrap_or(0)
        ),
        kind => format!(
            "{} [{}, {}]{}",
            num(&v["mean"], 3),
            num(&v["lo"], 3),
            num(&v["hi"], 3),
            if kind == Some("t") {
                format!(" (t, n = {})", n.unwrap_or(0))
            } else {
                String::new()
            }
        ),
    }
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

/// The one-sentence answer: FastSHAP against the best cheap baseline by Pearson and by L2
/// (paired over images), then what KernelSHAP needs to reach FastSHAP's L2.
fn verdict_line(e: &Value) -> String {
    let against = |metric: &str, label: &str| -> Option<String> {
        let v = e["best_cheap"]
            .as_array()?
            .iter()
            .find(|v| v["metric"] == metric)?;
        let outcome = if v["fastshap_beats"] == true {
            "beats"
        } else if v["fastshap_loses"] == true {
            "loses to"
        } else {
            "ties with (the interval includes 0)"
        };
        Some(format!(
            "by {label} FastSHAP {outcome} the best cheap baseline, {} ({} vs {}; paired \
             difference {})",
            v["best"].as_str().unwrap_or("?"),
            num(&v["fastshap_mean"], 3),
            num(&v["best_mean"], 3),
            stat(&v["difference"])
        ))
    };
    let parts: Vec<String> = [("pearson", "Pearson"), ("l2", "L2")]
        .iter()
        .filter_map(|(m, l)| against(m, l))
        .collect();
    if parts.is_empty() {
        return "no cheap baseline was scored".into();
    }
    let m = &e["kernelshap_evaluations_to_match"];
    let kernelshap = if m.is_null() {
        String::new()
    } else if m["point"]["evaluations"].as_f64().is_none() {
        format!(
            "; KernelSHAP does not reach its L2 within the budgets tried{}",
            beyond(e, "kernelshap")
        )
    } else {
        let speed = e["speedup_at_equal_error"]["mean"]
            .as_f64()
            .map_or(String::new(), |x| {
                format!(", {x:.1}× FastSHAP's time per image")
            });
        format!(
            "; KernelSHAP needs {} evaluations per image to reach its L2{speed}",
            matched(m)
        )
    };
    let m = &e["permutation_evaluations_to_match"];
    let cost = e["fastshap_cost_in_evaluations"].as_f64();
    let permutation = match (m["point"]["evaluations"].as_f64(), cost) {
        _ if m.is_null() => String::new(),
        (None, _) => format!(
            "; permutation sampling does not reach it either{}",
            beyond(e, "permutation")
        ),
        (Some(ev), Some(c)) if c > 0.0 => format!(
            "; permutation sampling needs {} evaluations ({:.0}× FastSHAP's time)",
            matched(m),
            ev / c
        ),
        (Some(_), _) => format!("; permutation sampling needs {} evaluations", matched(m)),
    };
    format!(
        "On the explained class, {}{kernelshap}{permutation}.",
        parts.join("; ")
    )
}

/// " (up to N evaluations per image, R× FastSHAP's time)" for `method`'s largest budget,
/// where the summary has it and FastSHAP's cost.
fn beyond(e: &Value, method: &str) -> String {
    match (
        e["largest_budget"][method].as_f64(),
        e["fastshap_cost_in_evaluations"].as_f64(),
    ) {
        (Some(b), Some(c)) if c > 0.0 => format!(
            " (up to {b:.0} evaluations per image, {:.0}× FastSHAP's time)",
            b / c
        ),
        _ => String::new(),
    }
}

/// "leave-one-out 0.905 (FastSHAP beats)" for one metric of `best_cheap`.
fn cheap(e: &Value, metric: &str) -> String {
    e["best_cheap"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["metric"] == metric))
        .map_or("–".into(), |v| {
            format!(
                "{} {} ({})",
                escape(v["best"].as_str().unwrap_or("?")),
                num(&v["best_mean"], 3),
                if v["fastshap_beats"] == true {
                    "FastSHAP better"
                } else if v["fastshap_loses"] == true {
                    "FastSHAP worse"
                } else {
                    "no clear difference"
                }
            )
        })
}

/// Evaluations to match with "≤" and its interval, from a MatchStat object.
fn matched(m: &Value) -> String {
    let p = &m["point"];
    let Some(ev) = p["evaluations"].as_f64() else {
        return "more than the largest budget".into();
    };
    let le = if p["at_most"] == true { "≤ " } else { "" };
    match (m["lo"].as_f64(), m["hi"].as_f64()) {
        (Some(lo), Some(hi)) => format!("{le}{ev:.0} [{lo:.0}, {hi:.0}]"),
        (Some(lo), None) => format!("{le}{ev:.0} [{lo:.0}, beyond the budgets]"),
        _ => format!("{le}{ev:.0} (n = {})", num(&m["n"], 0)),
    }
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
    // The one-sentence answer per explainer: does it beat the best cheap baseline?
    o += "<ul>\n";
    for (k, e) in ex {
        let _ = writeln!(
            o,
            "<li><strong>{}</strong>: {}</li>",
            escape(k),
            escape(&verdict_line(e))
        );
    }
    o += "</ul>\n";
    // One column per explainer, one row per measure: reads top to bottom on any screen.
    type Cell<'a> = &'a dyn Fn(&Value) -> String;
    let rows: [(&str, Cell); 13] = [
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
        ("best cheap baseline, Pearson", &|e| cheap(e, "pearson")),
        ("L2, explained class: trained / untrained", &|e| {
            format!(
                "{} / {}",
                stat(&e["l2_explained_class"]),
                num(&e["untrained_l2_explained_class"]["mean"], 3)
            )
        }),
        ("best cheap baseline, L2", &|e| cheap(e, "l2")),
        ("additivity of the games (1 = additive)", &|e| {
            stat(&e["additivity"])
        }),
        ("exclusion AUC: fastshap / exact / random", &|e| {
            format!(
                "{} / {} / {}",
                auc(e, "fastshap", "exclusion"),
                auc(e, "exact", "exclusion"),
                auc(e, "random", "exclusion")
            )
        }),
        ("KernelSHAP evaluations for equal error", &|e| {
            matched(&e["kernelshap_evaluations_to_match"])
        }),
        ("FastSHAP ms / image", &|e| num(&e["ms_per_image"], 3)),
        ("speed-up over KernelSHAP at equal error", &|e| {
            let s = &e["speedup_at_equal_error"];
            match s["mean"].as_f64() {
                None => "–".into(),
                Some(m) if s["lo"].as_f64().is_some() => format!(
                    "{m:.1}× [{}, {}]",
                    num(&s["lo"], 1),
                    s["hi"].as_f64().map_or("∞".into(), |h| format!("{h:.1}"))
                ),
                Some(m) => format!("{m:.1}× (indicative)"),
            }
        }),
        ("images to break even (training included)", &|e| {
            match e["images_to_break_even"].as_f64() {
                Some(v) => format!("{v:.0}"),
                // FastSHAP is no cheaper per image than KernelSHAP at its error (or no match).
                None if e["speedup_at_equal_error"]["mean"].as_f64().is_some() => {
                    "never (no saving per image)".into()
                }
                None => "–".into(),
            }
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
         the original predicts (mean over images, 95% interval: bootstrap from 10 images, Student \
         t below); the untrained row is the same network at its initial weights. Cheap \
         baselines: leave-one-out, singletons and their mean (≤ 2P + 2 game evaluations), \
         additively normalised like FastSHAP; \"better\"/\"worse\" only when the paired \
         interval over images excludes 0. Exclusion AUC: lower is better. Speed-up: \
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

#[cfg(test)]
mod tests {
    use super::verdict_line;
    use serde_json::json;

    fn explainer(perm_point: serde_json::Value) -> serde_json::Value {
        let stat = json!({"mean": -0.1, "lo": -0.14, "hi": -0.07, "n": 27,
                          "interval": "bootstrap"});
        json!({
            "best_cheap": [{"metric": "l2", "best": "leave-one-out", "fastshap_mean": 0.076,
                            "best_mean": 0.181, "difference": stat, "fastshap_beats": true,
                            "fastshap_loses": false}],
            "kernelshap_evaluations_to_match": {"point": null, "lo": null, "hi": null, "n": 27},
            "permutation_evaluations_to_match": {"point": perm_point, "lo": 1510.9, "hi": null,
                                                 "n": 27},
            "fastshap_cost_in_evaluations": 18.1,
            "largest_budget": {"kernelshap": 2080.0, "permutation": 2018.0},
        })
    }

    /// Where no sampling estimator reaches FastSHAP's L2, the sentence says how far the
    /// budgets went in FastSHAP's time; where one does, at what multiple.
    #[test]
    fn the_verdict_says_how_far_the_sampling_estimators_were_run() {
        let none = verdict_line(&explainer(serde_json::Value::Null));
        assert!(
            none.contains("KernelSHAP does not reach its L2 within the budgets tried (up to 2080 evaluations per image, 115× FastSHAP's time)"),
            "{none}"
        );
        assert!(
            none.contains("permutation sampling does not reach it either (up to 2018 evaluations per image, 111× FastSHAP's time)"),
            "{none}"
        );
        let one = verdict_line(&explainer(json!({"evaluations": 1700.0, "at_most": false})));
        assert!(
            one.contains("permutation sampling needs 1700 [1511, beyond the budgets] evaluations (94× FastSHAP's time)"),
            "{one}"
        );
    }
}
