//! Training: one model-agnostic epoch loop for every trainer — the paper's classifiers, MAE
//! pre-training, FastSHAP surrogates and explainers — with per-epoch validation, a JSONL
//! metrics file, best/last checkpoints and exact resumption (model, optimizer state, schedule,
//! loader RNG); the paper's recipes are per-architecture defaults.
//!
//! - [`epoch_loop`]: the loop ([`epoch_loop::run`]).
//! - [`task`]: what a trainer supplies to it ([`task::Task`], [`task::RunConfig`]).
//! - [`readback`]: the loop's read-backs of training losses, and its progress bar.
//! - [`trainer`]: classifiers and MAE pre-training as a task of the loop ([`train`]).
//! - [`batch_fit`]: a batch over the adapter's binding limit: the largest that fits, as advice.
//! - [`arch`]: the network of a classifier checkpoint, from its metadata or (a plain PyTorch
//!   state dict) from `--arch` and its tensors' names and shapes.
//! - [`config`]: what a run is ([`TrainConfig`]), presets and recipes, validation of values.
//! - [`options`]: how a run behaves beyond what it computes ([`RunOptions`]).
//! - [`state`]: checkpoint + optimizer-state files and what resuming reads back.
//! - [`eval`]: loss, accuracy and confusion matrix of a classifier on a dataset.
//! - [`schedule`]: learning-rate schedules.
//! - [`snapshots`]: checkpoints kept at log-spaced steps, for learning curves.
//! - [`nonfinite`]: what a non-finite loss triggers: a replay that names the op behind it.

pub mod arch;
pub mod batch_fit;
pub mod config;
pub mod epoch_loop;
pub mod eval;
pub mod model;
pub mod nonfinite;
pub mod options;
pub mod readback;
pub mod run_dir;
pub mod schedule;
pub mod snapshots;
pub mod state;
pub mod task;
pub mod trainer;

pub use arch::{ArchHint, ClassifierArch, ModelSpec, load_classifier};
pub use config::{Arch, AugmentKind, OptimKind, Preset, TrainConfig};
pub use eval::{Evaluation, evaluate};
pub use model::Model;
pub use options::RunOptions;
pub use schedule::Schedule;
pub use trainer::{EpochMetrics, Summary, train};
