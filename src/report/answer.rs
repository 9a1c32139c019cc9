//! The report's first section: how good the explanations are at this budget, in numbers —
//! the originals' accuracy, the surrogates' KL, each evaluated explainer against its ground
//! truth with 95% intervals (beside its untrained self) and its speed against KernelSHAP —
//! read from `DIR/summary.json`, before any configuration or timing.

use super::text::note;
use super::{Run, Section};
use crate::fastshap::evaluate::verdict::outcome;
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

/// +1 / −1 / 0: a {lo, hi} interval wholly above, below or across zero (or missing).
fn sign(s: &Value) -> i8 {
    match (s["lo"].as_f64(), s["hi"].as_f64()) {
        (Some(lo), _) if lo > 0.0 => 1,
        (_, Some(hi)) if hi < 0.0 => -1,
        _ => 0,
    }
}

/// The answer again on the images whose KernelSHAP truth converged, when some but not all did:
/// those are the easier games, and a verdict over all images can rest on the others (P = 64:
/// a tie at 122× over 100 images was a loss by L2 on the 68 converged). FastSHAP against the
/// strongest cheap baseline by each metric, then the cheapest estimator it does not beat by L2.
fn converged_line(e: &Value) -> Option<String> {
    let comps = e["comparisons_converged"]
        .as_array()
        .filter(|c| !c.is_empty())?;
    let diff = |c: &Value, m: &str| c[m]["mean"].as_f64();
    let cheap: Vec<&Value> = comps
        .iter()
        .filter(|c| {
            crate::shap::baselines::NAMES[..3].contains(&c["estimator"].as_str().unwrap_or(""))
        })
        .collect();
    let mut parts = Vec::new();
    // `up`: the sign of FastSHAP − it that favours FastSHAP (+1 Pearson, −1 L2). The strongest
    // baseline by a metric is the one with the least favourable mean difference.
    for (metric, label, up) in [
        ("pearson_difference", "Pearson", 1i8),
        ("l2_difference", "L2", -1),
    ] {
        let favour = |c: &Value| diff(c, metric).map(|d| d * f64::from(up));
        let strongest = cheap
            .iter()
            .filter_map(|c| Some((c, favour(c)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((c, _)) = strongest {
            parts.push(format!(
                "by {label} FastSHAP {} {} (paired difference {})",
                outcome(sign(&c[metric]) * up),
                c["estimator"].as_str().unwrap_or("?"),
                stat(&c[metric])
            ));
        }
    }
    let cost = e["fastshap_cost_in_evaluations"]
        .as_f64()
        .filter(|&c| c > 0.0);
    let times = |ev: f64| {
        cost.map_or(String::new(), |c| {
            format!(", {:.0}× FastSHAP's time", ev / c)
        })
    };
    let priced = comps
        .iter()
        .filter_map(|c| Some((c, c["evaluations"].as_f64()?)))
        .filter(|(c, _)| diff(c, "l2_difference").is_some());
    // An estimator that returned nothing on some converged image (KernelSHAP below its
    // minimum budget) has not reached FastSHAP there, however wide its interval.
    let everywhere = |c: &Value| c["l2_difference"]["n"] == e["truth_converged"];
    let rival = priced
        .clone()
        .filter(|(c, _)| everywhere(c) && sign(&c["l2_difference"]) != -1)
        .min_by(|a, b| a.1.total_cmp(&b.1));
    parts.push(match rival {
        Some((c, ev)) => format!(
            "the cheapest estimator it does not beat by L2 is {} ({ev:.0} evaluations per \
             image{}; paired difference {})",
            c["estimator"].as_str().unwrap_or("?"),
            times(ev),
            stat(&c["l2_difference"])
        ),
        None => {
            let most = priced.map(|(_, ev)| ev).fold(0.0, f64::max);
            format!(
                "no estimator scored on all of them ties or beats its L2 (up to {most:.0} \
                 evaluations per image{})",
                times(most)
            )
        }
    });
    Some(format!(
        "On the {} of {} images whose truth converged, {}.",
        num(&e["truth_converged"], 0),
        num(&e["images"], 0),
        parts.join("; ")
    ))
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
        if let Some(line) = converged_line(e) {
            let _ = writeln!(o, "<li>{}: {}</li>", escape(k), escape(&line));
        }
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
    use super::{converged_line, verdict_line};
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

    /// On the converged images the line names the strongest cheap baseline by each metric
    /// (not the first one listed) and the cheapest estimator FastSHAP does not beat by L2;
    /// with none, how far the budgets went.
    #[test]
    fn the_converged_line_finds_the_strongest_baseline_and_the_cheapest_rival() {
        let st = |mean: f64, lo: f64, hi: f64| json!({"mean": mean, "lo": lo, "hi": hi, "n": 19, "interval": "bootstrap"});
        let cmp = |name: &str, ev: Option<f64>, p: serde_json::Value, l: serde_json::Value| {
            json!({"estimator": name, "evaluations": ev, "pearson_difference": p,
                   "l2_difference": l})
        };
        let none = json!({"mean": null, "lo": null, "hi": null, "n": 0, "interval": "none"});
        let mut e = json!({
            "images": 50, "truth_converged": 19, "fastshap_cost_in_evaluations": 13.0,
            "comparisons_converged": [
                cmp("fastshap (untrained)", None, none.clone(), st(-0.5, -0.6, -0.4)),
                cmp("singletons", Some(258.0), st(0.2, 0.1, 0.3), st(-2.0, -2.5, -1.5)),
                cmp("leave-one-out", Some(258.0), st(-0.016, -0.034, -0.002),
                    st(-0.2, -0.3, -0.1)),
                cmp("uniform", Some(2.0), none, st(-0.1, -0.2, -0.05)),
                // Scored on 4 of the 19 images only: not a rival, however wide its interval.
                cmp("kernelshap @ 514", Some(514.0), st(0.5, -0.1, 1.1),
                    json!({"mean": -3.0, "lo": -9.0, "hi": 3.0, "n": 4, "interval": "t"})),
                cmp("permutation @ 1022", Some(1022.0), st(0.05, 0.02, 0.08),
                    st(-0.05, -0.08, -0.01)),
                cmp("kernelshap @ 4112", Some(4112.0), st(0.01, -0.01, 0.03),
                    st(-0.01, -0.02, 0.005)),
                cmp("permutation @ 4082", Some(4082.0), st(0.01, -0.01, 0.03),
                    st(-0.02, -0.03, -0.01)),
            ],
        });
        let line = converged_line(&e).unwrap();
        assert!(
            line.starts_with("On the 19 of 50 images whose truth converged"),
            "{line}"
        );
        assert!(
            line.contains("by Pearson FastSHAP loses to leave-one-out"),
            "{line}"
        );
        assert!(
            line.contains("by L2 FastSHAP beats leave-one-out"),
            "{line}"
        );
        assert!(
            line.contains("the cheapest estimator it does not beat by L2 is kernelshap @ 4112 (4112 evaluations per image, 316× FastSHAP's time; paired difference -0.010 [-0.020, 0.005])"),
            "{line}"
        );
        e["comparisons_converged"][6]["l2_difference"] = st(-0.01, -0.02, -0.001);
        let line = converged_line(&e).unwrap();
        assert!(
            line.contains("no estimator scored on all of them ties or beats its L2 (up to 4112 evaluations per image, 316× FastSHAP's time)"),
            "{line}"
        );
        e["comparisons_converged"] = json!([]);
        assert!(converged_line(&e).is_none());
    }
}
