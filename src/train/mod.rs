//! Training: one model-agnostic loop for the paper's classifiers and for MAE pre-training, with
//! the paper's recipes as per-architecture defaults, per-epoch validation, a JSONL metrics file,
//! best/last checkpoints and exact resumption (model, optimizer state, schedule, loader RNG).
//!
//! - [`arch`]: the network of a classifier checkpoint, from its metadata or (a plain PyTorch
//!   state dict) from `--arch` and its tensors' names and shapes.
//! - [`config`]: what a run is ([`TrainConfig`]), presets and recipes, validation of values.
//! - [`trainer`]: the loop ([`train`]).
//! - [`state`]: checkpoint + optimizer-state files and what resuming reads back.
//! - [`eval`]: loss, accuracy and confusion matrix of a classifier on a dataset.
//! - [`schedule`]: learning-rate schedules.
//! - [`nonfinite`]: what a non-finite loss triggers: a replay that names the op behind it.

pub mod arch;
pub mod config;
pub mod eval;
pub mod model;
pub mod nonfinite;
pub mod run_dir;
pub mod schedule;
pub mod state;
pub mod trainer;

pub use arch::{ArchHint, ClassifierArch, ModelSpec, load_classifier};
pub use config::{Arch, AugmentKind, OptimKind, Preset, TrainConfig};
pub use eval::{Evaluation, evaluate};
pub use model::Model;
pub use schedule::Schedule;
pub use trainer::{EpochMetrics, RunOptions, Summary, train};
