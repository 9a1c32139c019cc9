//! Checkpoints kept at chosen training steps (`snapshots/step-000123.safetensors`), so a run's
//! learning curve can be measured afterwards against anything (the explainer's fidelity to
//! exact Shapley values, [`crate::fastshap::evaluate`]) without paying for it during training.
//!
//! The steps are planned once, when a run starts, roughly log-uniformly over its steps (early
//! training changes most), and kept in the run's state ([`super::state::TrainerState`]), so a
//! resumed run writes the rest of the same plan: a snapshot is named by its step, so one
//! rewritten by a replayed epoch replaces itself with the same weights.

use crate::checkpoint;
use crate::nn::Module;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The folder of a run directory that holds its snapshots.
pub const SNAPSHOTS: &str = "snapshots";
/// Checkpoint metadata: the optimizer steps the weights had taken.
pub const META_STEP: &str = "fastshap.step";

/// About `n` steps in 1…`total`, log-uniformly spaced, always ending with `total` (fewer when
/// the run has fewer distinct steps to offer); none when either is 0.
pub fn plan(n: usize, total: u64) -> Vec<u64> {
    if n == 0 || total == 0 {
        return Vec::new();
    }
    let last = n.saturating_sub(1).max(1) as f64;
    let mut steps: Vec<u64> = (0..n)
        .map(|i| {
            let s = (total as f64).powf(i as f64 / last).round() as u64;
            s.clamp(1, total)
        })
        .collect();
    steps.push(total);
    steps.sort_unstable();
    steps.dedup();
    if n == 1 {
        steps.retain(|&s| s == total);
    }
    steps
}

/// `dir/snapshots/step-000123.safetensors`.
pub fn path(dir: &Path, step: u64) -> PathBuf {
    dir.join(SNAPSHOTS)
        .join(format!("step-{step:06}.safetensors"))
}

/// Writes the model's weights at `step` (atomically) with `meta` and the step.
pub fn save(
    dir: &Path,
    model: &dyn Module,
    mut meta: HashMap<String, String>,
    step: u64,
) -> Result<()> {
    let folder = dir.join(SNAPSHOTS);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    meta.insert(META_STEP.into(), step.to_string());
    checkpoint::save(model, meta, &path(dir, step))
}

/// The snapshots in `dir/snapshots`, by step: (step, path). The step comes from each file's
/// metadata, so a renamed file still says what it is; an unreadable one is an error.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let folder = dir.join(SNAPSHOTS);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries {
        let p = entry?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.ends_with(".safetensors") && !n.starts_with('.')) {
            out.push((step_of(&p)?, p));
        }
    }
    out.sort();
    Ok(out)
}

/// The step a snapshot's metadata records.
pub fn step_of(path: &Path) -> Result<u64> {
    let meta = checkpoint::read_metadata(path)?;
    meta.get(META_STEP)
        .and_then(|s| s.parse().ok())
        .with_context(|| {
            format!(
                "{}: not a training snapshot (no {META_STEP} in its metadata)",
                path.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::plan;

    #[test]
    fn plans_are_log_spaced_and_end_at_the_last_step() {
        assert_eq!(plan(6, 1000), [1, 4, 16, 63, 251, 1000]);
        assert_eq!(plan(1, 50), [50]);
        assert_eq!(plan(8, 3), [1, 2, 3]);
        assert!(plan(0, 10).is_empty() && plan(5, 0).is_empty());
        for (n, total) in [(7, 12345u64), (3, 2), (20, 100)] {
            let p = plan(n, total);
            assert_eq!(*p.last().unwrap(), total);
            assert!(p.len() <= n && p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
        }
    }
}
