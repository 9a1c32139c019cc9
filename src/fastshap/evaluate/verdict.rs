//! FastSHAP against the best of a set of estimators by one metric (the verdict the aggregate
//! phase computes and the learning curve, the renderer and the reports read), and against one
//! other estimator or explainer (a paired comparison). Their own file so that `curve` and
//! `versus` need nothing of `aggregate` (which calls them).

use crate::fastshap::fidelity::Stat;
use serde::{Deserialize, Serialize};

/// The best estimator of a set by one metric, and FastSHAP against it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    /// "pearson" or "l2".
    pub metric: String,
    pub best: String,
    pub evaluations: Option<f64>,
    pub best_mean: f64,
    pub fastshap_mean: f64,
    /// FastSHAP − best, paired over images.
    pub difference: Stat,
    /// The interval excludes 0 in FastSHAP's favour / against it.
    pub fastshap_beats: bool,
    pub fastshap_loses: bool,
}

/// FastSHAP against one other estimator, paired over the images both have.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    pub estimator: String,
    /// Its game evaluations per image (`None`: an explainer pass).
    pub evaluations: Option<f64>,
    /// FastSHAP − it, per image, explained class: Pearson (> 0: FastSHAP better) and L2
    /// (< 0: FastSHAP better).
    pub pearson_difference: Stat,
    pub l2_difference: Stat,
}

/// FastSHAP's outcome for a difference's sign in its favour (+1), against it (−1) or neither.
pub fn outcome(sign: i8) -> &'static str {
    match sign {
        1 => "beats",
        -1 => "loses to",
        _ => "ties with",
    }
}

impl Comparison {
    /// "beats", "loses to" or "ties with" on Pearson and on L2.
    pub fn verdicts(&self) -> (&'static str, &'static str) {
        (
            outcome(self.pearson_difference.sign()),
            outcome(-self.l2_difference.sign()),
        )
    }
}
