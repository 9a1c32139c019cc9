//! Learning-rate schedules. Cosine and step schedules are functions of the (fractional) epoch,
//! evaluated every step; reduce-on-plateau follows `torch.optim.lr_scheduler.ReduceLROnPlateau`
//! (mode "min", relative threshold 1e-4, no cooldown) and changes the rate only between epochs.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Linear warmup from base/(warmup steps) to base over `warmup` epochs, then a half cosine
    /// from base to 0 over the remaining epochs.
    Cosine { warmup: f64 },
    /// base · gamma^⌊epoch / every⌋.
    Step { every: usize, gamma: f64 },
    /// Multiply by `factor` when the validation loss has not improved for more than `patience`
    /// epochs, never below `min_lr`. FastSHAP's defaults: 0.5, 2 (lookback 5 // 2), 1e-5.
    Plateau {
        factor: f64,
        patience: usize,
        min_lr: f64,
    },
}

impl Schedule {
    /// The FastSHAP reference's ReduceLROnPlateau: halve the rate after 2 epochs without a
    /// better validation loss, down to 1e-5.
    pub fn plateau_fastshap() -> Schedule {
        Schedule::plateau_fastshap_with(2)
    }

    /// [`Schedule::plateau_fastshap`] with another patience (epochs).
    pub fn plateau_fastshap_with(patience: usize) -> Schedule {
        Schedule::Plateau {
            factor: 0.5,
            patience,
            min_lr: 1e-5,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Schedule::Constant => "constant".into(),
            Schedule::Cosine { warmup } => format!("linear warmup {warmup} epochs + cosine"),
            Schedule::Step { every, gamma } => format!("step ×{gamma} every {every} epochs"),
            Schedule::Plateau {
                factor,
                patience,
                min_lr,
            } => format!(
                "reduce-on-plateau (val loss; factor {factor}, patience {patience}, min lr {min_lr})"
            ),
        }
    }
}

/// The part of a schedule's state that changes during a run (saved with checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The rate the plateau logic has settled on.
    pub lr: f64,
    /// Best validation loss so far (none before the first epoch; JSON has no infinity).
    pub best: Option<f64>,
    pub bad_epochs: usize,
}

impl PlateauState {
    pub fn new(base: f64) -> PlateauState {
        PlateauState {
            lr: base,
            best: None,
            bad_epochs: 0,
        }
    }
}

/// The rate for global step `step` (0-based) of a run of `epochs` epochs × `per_epoch` steps.
pub fn lr_at(
    s: &Schedule,
    base: f64,
    plateau: &PlateauState,
    step: u64,
    per_epoch: usize,
    epochs: usize,
) -> f64 {
    let per_epoch = per_epoch.max(1) as f64;
    let epoch = step as f64 / per_epoch;
    match s {
        Schedule::Constant => base,
        Schedule::Plateau { .. } => plateau.lr,
        Schedule::Step { every, gamma } => {
            base * gamma.powi((epoch.floor() as usize / (*every).max(1)) as i32)
        }
        Schedule::Cosine { warmup } => {
            let warm_steps = warmup * per_epoch;
            if (step as f64) < warm_steps {
                base * (step as f64 + 1.0) / warm_steps
            } else {
                let span = (epochs as f64 - warmup).max(1e-9);
                let t = ((epoch - warmup) / span).clamp(0.0, 1.0);
                base * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// End-of-epoch update of reduce-on-plateau with the validation loss (as PyTorch's `step`).
pub fn plateau_step(s: &Schedule, st: &mut PlateauState, val_loss: f64) {
    let Schedule::Plateau {
        factor,
        patience,
        min_lr,
    } = s
    else {
        return;
    };
    // PyTorch: mode "min", threshold_mode "rel", threshold 1e-4.
    if st.best.is_none_or(|b| val_loss < b * (1.0 - 1e-4)) {
        st.best = Some(val_loss);
        st.bad_epochs = 0;
    } else {
        st.bad_epochs += 1;
    }
    if st.bad_epochs > *patience {
        let new = (st.lr * factor).max(*min_lr);
        if st.lr - new > 1e-8 {
            st.lr = new;
        }
        st.bad_epochs = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_zero() {
        let s = Schedule::Cosine { warmup: 1.0 };
        let p = PlateauState::new(1.0);
        assert!((lr_at(&s, 1.0, &p, 0, 10, 5) - 0.1).abs() < 1e-12);
        assert!((lr_at(&s, 1.0, &p, 9, 10, 5) - 1.0).abs() < 1e-12);
        assert!((lr_at(&s, 1.0, &p, 10, 10, 5) - 1.0).abs() < 1e-12);
        assert!((lr_at(&s, 1.0, &p, 30, 10, 5) - 0.5).abs() < 1e-12);
        assert!(lr_at(&s, 1.0, &p, 49, 10, 5) < 0.01);
    }

    #[test]
    fn plateau_matches_pytorch() {
        // As torch's ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.3): the rate halves on
        // the third bad epoch in a row, is floored at min_lr, and 0.99999 is no improvement
        // on 1.0 (relative threshold 1e-4).
        let s = Schedule::Plateau {
            factor: 0.5,
            patience: 2,
            min_lr: 0.3,
        };
        let mut st = PlateauState::new(1.0);
        let mut lrs = Vec::new();
        for loss in [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.99999] {
            plateau_step(&s, &mut st, loss);
            lrs.push(st.lr);
        }
        assert_eq!(lrs, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3]);
    }
}
