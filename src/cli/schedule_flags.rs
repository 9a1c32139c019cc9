//! The learning-rate schedule flags of `fastshap train` and `fastshap explainer` and how they replace the recipe's schedule
//! (kept apart so `cli/train.rs` stays parse → call → print).

use crate::train::schedule::Schedule;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ScheduleKind {
    Constant,
    /// Linear warmup (--warmup epochs) then cosine to 0.
    Cosine,
    /// ×--gamma every --step-every epochs.
    Step,
    /// ReduceLROnPlateau on the validation loss (FastSHAP's: factor 0.5, patience 2, min 1e-5).
    Plateau,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ScheduleFlags {
    #[arg(long, value_enum)]
    schedule: Option<ScheduleKind>,
    /// Warmup epochs of the cosine schedule.
    #[arg(long, allow_negative_numbers = true)]
    warmup: Option<f64>,
    #[arg(long, default_value_t = 30)]
    step_every: usize,
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    gamma: f64,
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    plateau_factor: f64,
    #[arg(long, default_value_t = 2)]
    patience: usize,
    #[arg(long, default_value_t = 1e-5, allow_negative_numbers = true)]
    min_lr: f64,
}

impl ScheduleFlags {
    /// Reduce-on-plateau with these flags' factor, patience and floor (the FastSHAP recipe's
    /// schedule, which `--patience` tunes without `--schedule plateau`).
    pub(crate) fn plateau(&self) -> Schedule {
        Schedule::Plateau {
            factor: self.plateau_factor,
            patience: self.patience,
            min_lr: self.min_lr,
        }
    }

    /// The schedule `--schedule` names (the recipe's without it; `--warmup` still applies to a
    /// cosine recipe).
    pub(crate) fn schedule(&self, recipe: Schedule) -> Schedule {
        let warmup = self.warmup.unwrap_or(match recipe {
            Schedule::Cosine { warmup } => warmup,
            _ => 0.0,
        });
        match self.schedule {
            Some(ScheduleKind::Constant) => Schedule::Constant,
            Some(ScheduleKind::Cosine) => Schedule::Cosine { warmup },
            Some(ScheduleKind::Step) => Schedule::Step {
                every: self.step_every,
                gamma: self.gamma,
            },
            Some(ScheduleKind::Plateau) => self.plateau(),
            None => match recipe {
                Schedule::Cosine { .. } => Schedule::Cosine { warmup },
                other => other,
            },
        }
    }
}
