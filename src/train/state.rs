//! Run-directory files and resuming.
//!
//! - `last.safetensors`: the model after the last finished epoch; its metadata holds the
//!   architecture and config (so `eval` can rebuild it), the epoch, the run's [`TrainConfig`]
//!   and the [`TrainerState`] (step, schedule state, best score, loader RNG state), and the name
//!   of the optimizer-state file written with it.
//! - `optim-<epoch>.safetensors`: the optimizer state tensors (`<param>.<slot>`) and per-param
//!   step counts. It is written before `last.safetensors` and the old one removed after, so a
//!   kill at any moment leaves `last.safetensors` naming a complete optimizer file.
//! - `best.safetensors`: the model with the best validation score so far.
//! - `metrics.jsonl`, `config.json`.
//!
//! The same files serve every trainer (classifiers, surrogates, explainers), written by the one
//! epoch loop ([`super::epoch_loop`]): [`save_last`] takes the model as a [`Module`] and the
//! metadata that rebuilds it, [`read_resume_as`] reads back the config stored under the
//! trainer's own key.

use super::config::TrainConfig;
use super::schedule::PlateauState;
use crate::Tensor;
use crate::checkpoint;
use crate::data::LoaderState;
use crate::nn::Module;
use crate::ops::optim::Optimizer;
use anyhow::{Context, Result, bail, ensure};
use safetensors::{Dtype, SafeTensors};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const LAST: &str = "last.safetensors";
pub const BEST: &str = "best.safetensors";
pub const METRICS: &str = "metrics.jsonl";
pub const CONFIG: &str = "config.json";

pub const META_EPOCH: &str = "fastshap.epoch";
/// A classifier or MAE run's [`TrainConfig`], as JSON.
pub const META_TRAIN: &str = "fastshap.train";
const META_STATE: &str = "fastshap.state";
const META_OPTIM: &str = "fastshap.optim";

/// Everything besides tensors that a resumed run must continue from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs finished.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: u64,
    pub plateau: PlateauState,
    /// Best validation score so far (accuracy for classifiers, −loss for MAE); none before
    /// the first epoch.
    pub best_score: Option<f64>,
    /// The training loader's position and seed.
    pub loader: LoaderState,
    /// The epoch (1-based) of the best validation score (early stopping counts from it).
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// The steps that keep a snapshot ([`super::snapshots`]), planned when the run started;
    /// empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<u64>,
}

impl TrainerState {
    /// A run before its first step.
    pub fn start(lr: f64, seed: u64) -> TrainerState {
        TrainerState {
            epoch: 0,
            step: 0,
            plateau: PlateauState::new(lr),
            best_score: None,
            loader: LoaderState {
                seed,
                epoch: 0,
                batch: 0,
            },
            best_epoch: None,
            snapshots: Vec::new(),
        }
    }
}

/// Writes the optimizer file, then `last.safetensors` (the model, `meta` and the trainer state),
/// then drops older optimizer files.
pub fn save_last(
    dir: &Path,
    model: &dyn Module,
    mut meta: HashMap<String, String>,
    optim: &Optimizer,
    st: &TrainerState,
) -> Result<()> {
    let optim_name = format!("optim-{}.safetensors", st.epoch);
    save_optimizer(optim, st.epoch, &dir.join(&optim_name))?;
    meta.insert(META_EPOCH.into(), st.epoch.to_string());
    meta.insert(META_STATE.into(), serde_json::to_string(st)?);
    meta.insert(META_OPTIM.into(), optim_name.clone());
    checkpoint::save(model, meta, &dir.join(LAST))?;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("optim-") && name.ends_with(".safetensors") && name != optim_name {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    Ok(())
}

/// The model alone with `meta` as `best.safetensors`.
pub fn save_best(dir: &Path, model: &dyn Module, meta: HashMap<String, String>) -> Result<()> {
    checkpoint::save(model, meta, &dir.join(BEST))
}

/// "the last good checkpoint DIR/last.safetensors (epoch 1) is kept": what a run that stops
/// on an error leaves.
pub fn kept_checkpoint(dir: &Path) -> String {
    let last = dir.join(LAST);
    match checkpoint::read_metadata(&last) {
        Ok(m) => format!(
            "the last good checkpoint {} (epoch {}) is kept",
            last.display(),
            m.get(META_EPOCH).map(String::as_str).unwrap_or("?")
        ),
        Err(_) => "no checkpoint was written yet".to_string(),
    }
}

fn save_optimizer(optim: &Optimizer, epoch: usize, path: &Path) -> Result<()> {
    let mut named = Vec::new();
    let mut steps = Vec::new();
    for i in 0..optim.params().len() {
        steps.push(optim.steps(i));
        for (j, t) in optim.state(i).iter().enumerate() {
            named.push((format!("{i}.{j}"), t));
        }
    }
    let meta = HashMap::from([
        ("steps".to_string(), serde_json::to_string(&steps)?),
        ("epoch".to_string(), epoch.to_string()),
        ("method".to_string(), format!("{:?}", optim.method())),
    ]);
    checkpoint::write_tensors(named, meta, path)
}

fn load_optimizer(optim: &mut Optimizer, epoch: usize, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read optimizer state {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a valid safetensors file: {e}", path.display()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let get = |k: &str| {
        meta.get(k)
            .with_context(|| format!("{}: no {k} in metadata", path.display()))
    };
    ensure!(
        get("epoch")?.parse::<usize>().ok() == Some(epoch),
        "{}: optimizer state is for epoch {}, the checkpoint for epoch {epoch}",
        path.display(),
        get("epoch")?
    );
    ensure!(
        *get("method")? == format!("{:?}", optim.method()),
        "{}: optimizer state is for {}, this run uses {:?}",
        path.display(),
        get("method")?,
        optim.method()
    );
    let steps: Vec<u64> = serde_json::from_str(get("steps")?)?;
    ensure!(
        steps.len() == optim.params().len(),
        "{}: state for {} parameters, the model has {}",
        path.display(),
        steps.len(),
        optim.params().len()
    );
    for (i, &s) in steps.iter().enumerate() {
        let shape = optim.params()[i].shape().to_vec();
        let mut slots = Vec::new();
        for j in 0.. {
            let Ok(v) = st.tensor(&format!("{i}.{j}")) else {
                break;
            };
            if v.dtype() != Dtype::F32 || v.shape() != shape.as_slice() {
                bail!(
                    "{}: state {i}.{j} is {:?} {:?}, parameter {i} is F32 {shape:?}",
                    path.display(),
                    v.dtype(),
                    v.shape()
                );
            }
            let data: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            slots.push(Tensor::from_slice(&data, &shape)?);
        }
        optim.restore(i, slots, s)?;
    }
    Ok(())
}

/// What resuming needs from a run directory: the run's config (`C`), its state and the
/// checkpoint the tensors come from.
pub struct Resumed<C = TrainConfig> {
    pub config: C,
    pub state: TrainerState,
    pub last: PathBuf,
}

/// Reads a classifier/MAE run's config and state from `dir/last.safetensors`.
pub fn read_resume(dir: &Path) -> Result<Resumed> {
    read_resume_as(dir, META_TRAIN)
}

/// Reads the run's config (stored as JSON under `config_key`) and state from
/// `dir/last.safetensors` (tensors are loaded later, into the rebuilt model and optimizer, by
/// [`restore`]).
pub fn read_resume_as<C: DeserializeOwned>(dir: &Path, config_key: &str) -> Result<Resumed<C>> {
    let last = dir.join(LAST);
    ensure!(
        last.exists(),
        "cannot resume from {}: no {LAST} (the run finished no epoch)",
        dir.display()
    );
    let meta = checkpoint::read_metadata(&last)?;
    let get = |k: &str| {
        meta.get(k)
            .with_context(|| format!("{}: not a training checkpoint (no {k})", last.display()))
    };
    Ok(Resumed {
        config: serde_json::from_str(get(config_key)?)
            .with_context(|| format!("{}: bad {config_key}", last.display()))?,
        state: serde_json::from_str(get(META_STATE)?)
            .with_context(|| format!("{}: bad {META_STATE}", last.display()))?,
        last,
    })
}

/// Loads the model tensors and the optimizer state of a resumed run.
pub fn restore<C>(r: &Resumed<C>, model: &dyn Module, optim: &mut Optimizer) -> Result<()> {
    let meta = checkpoint::load(model, &r.last)?;
    let optim_name = meta
        .get(META_OPTIM)
        .with_context(|| format!("{}: no {META_OPTIM}", r.last.display()))?;
    let dir = r.last.parent().unwrap_or(Path::new("."));
    load_optimizer(optim, r.state.epoch, &dir.join(optim_name))
}

/// The run's `metrics.jsonl` made to match its checkpoint: on resume (`epoch` = epochs the
/// checkpoint holds) the lines of those epochs are kept and later ones (written before a kill
/// that came before the checkpoint) dropped; a fresh run (`None`) starts an empty file.
pub fn start_metrics<T: Serialize + DeserializeOwned>(
    dir: &Path,
    epoch: Option<usize>,
    epoch_of: impl Fn(&T) -> usize,
) -> Result<Vec<T>> {
    let path = dir.join(METRICS);
    let mut kept = Vec::new();
    // Kept lines are copied as they are, so the file of a resumed run is byte for byte the
    // file of an uninterrupted one (apart from timings).
    let mut text = String::new();
    if let Some(epoch) = epoch
        && let Ok(old) = std::fs::read_to_string(&path)
    {
        for line in old.lines().filter(|l| !l.trim().is_empty()) {
            let m: T = serde_json::from_str(line)
                .with_context(|| format!("bad line in {}", path.display()))?;
            if epoch_of(&m) <= epoch {
                kept.push(m);
                text += line;
                text.push('\n');
            }
        }
    }
    crate::io::write_atomic(&path, text.as_bytes())?;
    Ok(kept)
}

/// Removes the temp files of atomic writes a killed run left in `dir` (`.NAME.PID.tmp`).
pub fn remove_stale_temps(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    Ok(())
}
