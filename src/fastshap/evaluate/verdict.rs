//! FastSHAP against the best of a set of estimators by one metric: the verdict the aggregate
//! phase computes and the learning curve, the renderer and the reports read. Its own file so
//! that `curve` needs nothing of `aggregate` (which calls it).

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
