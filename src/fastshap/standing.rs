//! How right an explainer is at the budget it was trained with, read from an evaluation's
//! `fidelity.json`: the numbers the seed's comparison needs (FastSHAP's Pearson and L2 against
//! the ground truth, its untrained self, the best cheap baseline, how much of the truth
//! converged), the plain decision "can these maps be trusted" with the numbers that decide it,
//! and the table that puts all of it beside Table 1's surrogate metrics.
//!
//! The JSON is read as a [`Value`], not as [`super::evaluate::Fidelity`]: serde writes a NaN
//! mean (a Pearson of a constant φ, a missing comparison) as `null`, which would not read back
//! into an `f64`.

use super::fidelity::{Interval, Stat};
use super::surrogate::SurrogateMetrics;
use super::tables::Table;
use serde_json::Value;

/// The estimator names the evaluation writes (`evaluate::measure`).
const FASTSHAP: &str = "fastshap";
const UNTRAINED: &str = "fastshap (untrained)";

/// The best cheap baseline by Pearson and FastSHAP against it, paired over images.
#[derive(Clone, Debug, PartialEq)]
pub struct Cheap {
    pub name: String,
    pub evaluations: Option<f64>,
    pub pearson: f64,
    /// FastSHAP − the baseline's Pearson.
    pub difference: Stat,
}

/// One evaluation's answer, as far as the comparison needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Standing {
    pub images: usize,
    /// "exact" or "kernelshap".
    pub ground_truth: String,
    /// Images whose ground truth converged (all of them for exact values).
    pub converged: usize,
    pub pearson: Stat,
    pub l2: Stat,
    pub untrained_pearson: Stat,
    /// FastSHAP − its untrained self's Pearson, paired over images.
    pub over_untrained: Stat,
    pub cheap: Option<Cheap>,
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// A [`Stat`] from its JSON, `null` read as NaN.
fn stat(v: Option<&Value>) -> Stat {
    let Some(v) = v else { return Stat::none() };
    Stat {
        mean: num(v, "mean"),
        lo: num(v, "lo"),
        hi: num(v, "hi"),
        n: v.get("n").and_then(Value::as_u64).unwrap_or(0) as usize,
        interval: v
            .get("interval")
            .and_then(|i| serde_json::from_value::<Interval>(i.clone()).ok())
            .unwrap_or_default(),
    }
}

fn named<'a>(list: Option<&'a Value>, key: &str, name: &str) -> Option<&'a Value> {
    list?
        .as_array()?
        .iter()
        .find(|e| e.get(key).and_then(Value::as_str) == Some(name))
}

impl Standing {
    /// From the JSON of an evaluation's `Fidelity` (its `fidelity.json`); `None` when it is
    /// not one (no FastSHAP scores).
    pub fn from_json(f: &Value) -> Option<Standing> {
        let scores = f.get("scores");
        let fs = named(scores, "name", FASTSHAP)?.get("predicted")?;
        let untrained = named(scores, "name", UNTRAINED).and_then(|s| s.get("predicted"));
        let cheap = named(f.get("best_cheap"), "metric", "pearson").map(|v| Cheap {
            name: v.get("best").and_then(Value::as_str).unwrap_or("?").into(),
            evaluations: v.get("evaluations").and_then(Value::as_f64),
            pearson: num(v, "best_mean"),
            difference: stat(v.get("difference")),
        });
        let over = named(f.get("comparisons"), "estimator", UNTRAINED);
        Some(Standing {
            images: f.get("images").and_then(Value::as_u64).unwrap_or(0) as usize,
            ground_truth: f
                .get("ground_truth")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .into(),
            converged: f
                .get("truth_converged")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize,
            pearson: stat(fs.get("pearson")),
            l2: stat(fs.get("l2")),
            untrained_pearson: stat(untrained.and_then(|u| u.get("pearson"))),
            over_untrained: stat(over.and_then(|c| c.get("pearson_difference"))),
            cheap,
        })
    }

    /// Why this explainer's maps cannot be trusted at this budget, each reason with the number
    /// that decides it; empty when none applies. An interval that includes 0 (or could not be
    /// made) counts against the explainer: the burden is on the maps to show they are right.
    pub fn shortcomings(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.pearson.n == 0 {
            why.push("its Pearson with the ground truth could not be measured".into());
        } else if self.pearson.sign() != 1 {
            why.push(format!(
                "its Pearson with the ground truth, {}, does not exclude 0",
                self.pearson.fmt()
            ));
        }
        if self.over_untrained.sign() != 1 {
            why.push(format!(
                "it is not better than its untrained self (Pearson {} vs {}; difference {})",
                short(self.pearson.mean),
                short(self.untrained_pearson.mean),
                self.over_untrained.fmt()
            ));
        }
        if let Some(c) = &self.cheap
            && c.difference.sign() == -1
        {
            why.push(format!(
                "the cheap baseline {} ({}) beats it (Pearson {} vs {}; difference {})",
                c.name,
                evaluations(c.evaluations),
                short(c.pearson),
                short(self.pearson.mean),
                c.difference.fmt()
            ));
        }
        why
    }

    /// Share of images whose ground truth converged, as "18/20".
    pub fn converged_share(&self) -> String {
        format!("{}/{}", self.converged, self.images)
    }
}

fn short(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

fn evaluations(e: Option<f64>) -> String {
    e.map_or_else(
        || "an explainer pass".into(),
        |e| format!("{e:.0} evaluations per image"),
    )
}

/// One row of the comparison: the pairing's Table 1 name, its surrogate's best epoch, and its
/// explainer's evaluation (`None`: not evaluated yet).
pub struct Row {
    pub name: String,
    pub surrogate: SurrogateMetrics,
    pub standing: Option<Standing>,
}

/// The table beside Table 1: per explained pairing, the surrogate's numbers and how right its
/// explainer's maps are.
pub fn table(rows: &[Row]) -> Table {
    let mut t = Table::new(&[
        "original by surrogate",
        "val KL",
        "val accuracy",
        "images (truth)",
        "truth converged",
        "FastSHAP Pearson",
        "FastSHAP L2",
        "untrained Pearson",
        "best cheap baseline (Pearson)",
        "FastSHAP − baseline",
        "right at this budget?",
    ]);
    for r in rows {
        let m = &r.surrogate;
        let mut cells = vec![
            r.name.clone(),
            format!("{:.4}", m.val_kl),
            format!("{:.4}", m.val_acc),
        ];
        match &r.standing {
            None => {
                cells.extend(["not evaluated yet".to_string()]);
                cells.extend(std::iter::repeat_n("–".to_string(), 7));
            }
            Some(s) => {
                let (base, diff) = match &s.cheap {
                    Some(c) => (
                        format!(
                            "{} ({}): {}",
                            c.name,
                            evaluations(c.evaluations),
                            short(c.pearson)
                        ),
                        format!("{} ({})", c.difference.fmt(), verdict(c.difference.sign())),
                    ),
                    None => ("–".into(), "–".into()),
                };
                let why = s.shortcomings();
                cells.extend([
                    format!("{} ({})", s.images, s.ground_truth),
                    s.converged_share(),
                    s.pearson.fmt(),
                    s.l2.fmt(),
                    s.untrained_pearson.fmt(),
                    base,
                    diff,
                    if why.is_empty() {
                        "yes".into()
                    } else {
                        format!("no: {}", why.join("; "))
                    },
                ]);
            }
        }
        t.rows.push(cells);
    }
    t
}

fn verdict(sign: i8) -> &'static str {
    match sign {
        1 => "FastSHAP beats it",
        -1 => "FastSHAP loses",
        _ => "tie",
    }
}

/// Names in ascending order of `key` (NaN last), joined with " < ".
fn ranking(rows: &[&Row], key: impl Fn(&Row) -> f64, ascending: bool) -> Vec<String> {
    let mut v: Vec<(&str, f64)> = rows.iter().map(|r| (r.name.as_str(), key(r))).collect();
    v.sort_by(|a, b| {
        let (x, y) = if ascending { (a.1, b.1) } else { (b.1, a.1) };
        match (x.is_nan(), y.is_nan()) {
            (false, false) => x.total_cmp(&y),
            (a, b) => a.cmp(&b),
        }
    });
    v.into_iter().map(|(n, _)| n.to_string()).collect()
}

/// The sentence below the table: the surrogates ranked by KL beside their explainers ranked by
/// Pearson with the truth, whether the two orders agree, and how many explainers are right.
pub fn reading(rows: &[Row]) -> String {
    let done: Vec<&Row> = rows.iter().filter(|r| r.standing.is_some()).collect();
    if done.is_empty() {
        return "No explainer has been evaluated yet: the fidelity columns fill in as each \
                evaluation stage finishes."
            .into();
    }
    let by_kl = ranking(&done, |r| r.surrogate.val_kl, true);
    let pearson = |r: &Row| r.standing.as_ref().map_or(f64::NAN, |s| s.pearson.mean);
    let by_fid = ranking(&done, pearson, false);
    let right = done
        .iter()
        .filter(|r| {
            r.standing
                .as_ref()
                .is_some_and(|s| s.shortcomings().is_empty())
        })
        .count();
    let agree = if by_kl == by_fid {
        "the same order"
    } else {
        "a different order: a better surrogate (lower KL) did not give the more faithful explainer here"
    };
    let mut s = format!(
        "Surrogates by validation KL (best first): {}. Their explainers by Pearson with the \
         ground truth (best first): {} — {agree}. {right} of {} evaluated explainers are right at \
         this budget (Pearson interval above 0, better than untrained, not beaten by a cheap \
         baseline).",
        by_kl.join(" < "),
        by_fid.join(" > "),
        done.len()
    );
    if done.len() < rows.len() {
        s += &format!(" {} not evaluated yet.", rows.len() - done.len());
    }
    s
}

/// What the table's columns mean, below it.
pub const NOTES: &str = "Each explainer against its ground truth (exact Shapley values when \
P ≤ 16, else KernelSHAP run to its noise floor; \"truth converged\" counts the images where it \
got there) on the explained class, mean over images with a 95% interval (bootstrap from 10 \
images, Student t below). \"untrained\" is the same explainer network at its initial weights; \
the cheap baselines are leave-one-out, singletons and their mean (≤ 2P + 2 game evaluations \
per image), and \"FastSHAP − baseline\" is the paired Pearson difference over images. The \
seed judged its surrogates only by Table 1's loss and by eye.";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(mean: f64, lo: f64, hi: f64) -> Value {
        json!({"mean": mean, "lo": lo, "hi": hi, "n": 20, "interval": "bootstrap"})
    }

    /// A fidelity.json with FastSHAP at `fs`, FastSHAP − untrained at `over`, FastSHAP − best
    /// cheap baseline at `cheap`.
    fn fidelity(fs: Value, over: Value, cheap: Value) -> Value {
        json!({
            "images": 20, "ground_truth": "kernelshap", "truth_converged": 17,
            "scores": [
                {"name": "fastshap", "evaluations": null,
                 "predicted": {"pearson": fs, "l2": st(0.1, 0.08, 0.12)}},
                {"name": "fastshap (untrained)", "evaluations": null,
                 "predicted": {"pearson": st(0.1, -0.1, 0.3), "l2": st(0.2, 0.1, 0.3)}},
            ],
            "comparisons": [{"estimator": "fastshap (untrained)", "evaluations": null,
                             "pearson_difference": over, "l2_difference": st(0.0, -1.0, 1.0)}],
            "best_cheap": [{"metric": "pearson", "best": "leave-one-out", "evaluations": 66.0,
                            "best_mean": 0.9, "fastshap_mean": 0.5, "difference": cheap,
                            "fastshap_beats": false, "fastshap_loses": true}],
        })
    }

    #[test]
    fn a_right_explainer_has_no_shortcomings() {
        let f = fidelity(st(0.8, 0.7, 0.9), st(0.6, 0.4, 0.8), st(0.05, -0.02, 0.1));
        let s = Standing::from_json(&f).unwrap();
        assert_eq!(s.converged_share(), "17/20");
        assert!(s.shortcomings().is_empty(), "{:?}", s.shortcomings());
    }

    /// The seed's case: vit-by-vit at 64 players, Pearson −0.23 below its untrained self and
    /// far below a cheap baseline. Every reason is given, each with its number.
    #[test]
    fn a_wrong_explainer_says_why_with_the_numbers() {
        let f = fidelity(
            st(-0.23, -0.4, -0.05),
            st(-0.34, -0.5, -0.1),
            st(-1.13, -1.3, -0.9),
        );
        let s = Standing::from_json(&f).unwrap();
        let why = s.shortcomings();
        assert_eq!(why.len(), 3, "{why:?}");
        assert!(why[0].contains("-0.230 [-0.400, -0.050]"), "{}", why[0]);
        assert!(
            why[1].contains("untrained") && why[1].contains("0.100"),
            "{}",
            why[1]
        );
        assert!(
            why[2].contains("leave-one-out (66 evaluations per image)"),
            "{}",
            why[2]
        );
    }

    /// An interval across 0, a tie with the untrained self, or a missing interval (null from a
    /// NaN) each count against the maps; a tie with a cheap baseline does not.
    #[test]
    fn undecided_intervals_count_against_the_maps() {
        let tie = st(0.01, -0.1, 0.1);
        let f = fidelity(st(0.2, -0.01, 0.4), tie.clone(), tie.clone());
        let why = Standing::from_json(&f).unwrap().shortcomings();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("does not exclude 0"));
        let null = json!({"mean": null, "lo": null, "hi": null, "n": 0, "interval": "none"});
        let f = fidelity(null.clone(), null, tie);
        let why = Standing::from_json(&f).unwrap().shortcomings();
        assert!(why[0].contains("could not be measured"), "{why:?}");
        assert_eq!(why.len(), 2, "{why:?}");
    }

    fn metrics(kl: f64) -> SurrogateMetrics {
        SurrogateMetrics {
            epoch: 1,
            step: 1,
            train_loss: kl,
            val_masked_loss: kl,
            val_ce: 1.0,
            val_acc: 0.5,
            val_kl: kl,
            lr: 1e-3,
            images_per_s: 1.0,
            seconds: 1.0,
        }
    }

    #[test]
    fn the_table_has_a_row_per_pairing_and_the_reading_ranks_both_ways() {
        let good = Standing::from_json(&fidelity(
            st(0.8, 0.7, 0.9),
            st(0.6, 0.4, 0.8),
            st(0.05, -0.02, 0.1),
        ));
        let bad = Standing::from_json(&fidelity(
            st(-0.2, -0.4, -0.05),
            st(-0.3, -0.5, -0.1),
            st(-1.1, -1.3, -0.9),
        ));
        let rows = [
            Row {
                name: "A by A".into(),
                surrogate: metrics(0.2),
                standing: bad,
            },
            Row {
                name: "B by B".into(),
                surrogate: metrics(0.5),
                standing: good,
            },
            Row {
                name: "C by C".into(),
                surrogate: metrics(0.1),
                standing: None,
            },
        ];
        let t = table(&rows);
        assert_eq!(t.rows.len(), 3);
        assert!(t.rows.iter().all(|r| r.len() == t.headers.len()));
        assert_eq!(t.rows[1].last().unwrap(), "yes");
        assert!(t.rows[0].last().unwrap().starts_with("no: "));
        assert_eq!(t.rows[2][3], "not evaluated yet");
        let r = reading(&rows);
        assert!(
            r.contains("A by A < B by B") && r.contains("B by B > A by A"),
            "{r}"
        );
        assert!(r.contains("different order") && r.contains("1 of 2"), "{r}");
        assert!(r.contains("1 not evaluated yet"), "{r}");
    }
}
