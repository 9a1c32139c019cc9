//! What `fastshap evaluate` prints when an evaluation is whole (not a shard): the scores
//! against the ground truth, the verdict on each cheap baseline, the games' additivity and
//! what the curves explain (the files hold the rest).

use crate::fastshap::evaluate::{EvaluateSummary, Fidelity};

pub(super) fn print(s: &EvaluateSummary, f: &Fidelity) {
    for e in f.scores.iter().take(2) {
        println!(
            "{:<22} vs {}: Pearson {}, L2 {}",
            e.name,
            s.ground_truth,
            e.predicted.pearson.fmt(),
            e.predicted.l2.fmt()
        );
    }
    for v in &f.best_cheap {
        let verdict = match (v.fastshap_beats, v.fastshap_loses) {
            (true, _) => "beats it",
            (_, true) => "loses",
            _ => "does not beat it",
        };
        println!(
            "best cheap baseline by {}: {} ({:.3} vs FastSHAP {:.3}, difference {}): FastSHAP \
             {verdict}",
            v.metric,
            v.best,
            v.best_mean,
            v.fastshap_mean,
            v.difference.fmt(),
        );
    }
    if let Some(v) = &f.versus {
        let (vp, vl) = v.difference.verdicts();
        println!(
            "against the explainer of {} (same images and truth: Pearson {}, L2 {}): \
             difference Pearson {} ({vp} it), L2 {} ({vl} it)",
            v.run,
            v.pearson.fmt(),
            v.l2.fmt(),
            v.difference.pearson_difference.fmt(),
            v.difference.l2_difference.fmt()
        );
    }
    println!("additivity of the games: {}", f.additivity.fmt());
    let why = " (no original checkpoint reachable from the surrogate's metadata)";
    let why = if s.reference == "surrogate" { why } else { "" };
    println!("curves explain the {}'s prediction{why}", s.reference);
    if let Some(why) = &s.rollout_skipped {
        println!("attention rollout skipped: {why}");
    }
}
