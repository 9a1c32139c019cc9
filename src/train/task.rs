//! What a trainer supplies to the epoch loop ([`super::epoch_loop`]): a [`Task`] (its model,
//! the loss of a batch, its validation, its metrics line, its checkpoints' metadata) and, from
//! its config, the [`RunConfig`] settings (epochs, rate, schedule, batches, patience).

use super::config::AugmentKind;
pub use super::readback::{EpochBase, Weigh};
use super::schedule::Schedule;
use crate::Tensor;
use crate::data::{Batch, LoaderConfig};
use crate::nn::Module;
use anyhow::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Checkpoint metadata.
pub type Meta = HashMap<String, String>;

/// What the loop reads from a run's config, which it saves whole as `config.json`.
pub trait RunConfig: Serialize {
    fn epochs(&self) -> usize;
    fn lr(&self) -> f64;
    fn schedule(&self) -> &Schedule;
    /// Seeds the training loader (and, through the task, everything else).
    fn seed(&self) -> u64;
    fn batch_size(&self) -> usize;
    fn augment(&self) -> AugmentKind;
    /// Stop after this many epochs without a better validation score; `None`: run them all.
    fn early_stop(&self) -> Option<usize> {
        None
    }
    /// Clip the global gradient norm to this value.
    fn clip_grad(&self) -> Option<f32> {
        None
    }
    /// Steps between read-backs of the training loss (each one is a sync).
    fn check_every(&self) -> usize {
        10
    }
    fn loader(&self) -> LoaderConfig {
        LoaderConfig {
            augment: self.augment().augment(),
            ..LoaderConfig::new(self.batch_size(), self.seed())
        }
    }
}

/// One batch's training loss (recording, for backward) and, for a classifier, its number of
/// correct predictions [1].
pub struct StepLoss {
    pub loss: Tensor,
    pub correct: Option<Tensor>,
}

impl From<Tensor> for StepLoss {
    fn from(loss: Tensor) -> StepLoss {
        StepLoss {
            loss,
            correct: None,
        }
    }
}

/// What differs between trainers.
pub trait Task {
    /// What an epoch's losses draw from besides the batch: the FastSHAP tasks' mask sampler,
    /// seeded by epoch so a replayed or resumed epoch draws the same masks; `()` if nothing.
    type Epoch;
    /// What validation measures besides its criterion.
    type Val;
    /// One line of `metrics.jsonl`.
    type Metrics: Serialize + DeserializeOwned;
    /// The run in a non-finite stop's message: "training", "surrogate training".
    const RUN: &'static str;
    /// How a step's loss is weighed into the epoch's mean.
    const WEIGH: Weigh;

    fn module(&self) -> &dyn Module;
    fn begin_epoch(&self, epoch: usize) -> Self::Epoch;
    fn loss(&self, epoch: &mut Self::Epoch, batch: &Batch) -> Result<StepLoss>;
    /// The validation criterion (a loss: the schedule's) and the rest.
    fn validate(&self) -> Result<(f64, Self::Val)>;
    /// What the best checkpoint (and early stopping) maximises: by default −criterion.
    fn score(&self, criterion: f64, _val: &Self::Val) -> f64 {
        -criterion
    }
    fn metrics(&self, base: EpochBase, val: Self::Val) -> Self::Metrics;
    fn epoch_of(m: &Self::Metrics) -> usize;
    /// Metadata of `last.safetensors` after `epoch` epochs: what rebuilds the model (the loop
    /// adds the run state).
    fn last_meta(&self, epoch: usize) -> Result<Meta>;
    /// Metadata of `best.safetensors`: by default [`Task::last_meta`]'s.
    fn best_meta(&self, epoch: usize, _score: f64) -> Result<Meta> {
        self.last_meta(epoch)
    }
    /// Prints what the run is once its state is known (`resumed_after`: the epochs a resumed
    /// run had finished).
    fn announce(&self, resumed_after: Option<usize>) {
        if let Some(e) = resumed_after {
            println!("resuming after epoch {e}");
        }
    }
    fn print_epoch(&self, m: &Self::Metrics, epochs: usize, is_best: bool);
}
