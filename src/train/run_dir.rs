//! A run directory as commands name it: the directory a trainer wrote (`best.safetensors`,
//! `last.safetensors`, metrics) or a checkpoint file itself. Here because the layout is the
//! trainers' ([`super::state`]); `compare`, `tables` and their library jobs read it.

use super::state::BEST;
use anyhow::{Result, bail, ensure};
use std::path::{Path, PathBuf};

/// A checkpoint from a path that is either the file or a run directory holding
/// `best.safetensors`; `what` names it in errors.
pub fn resolve_checkpoint(path: &Path, what: &str) -> Result<PathBuf> {
    if path.is_dir() {
        let best = path.join(BEST);
        ensure!(
            best.is_file(),
            "{what}: run directory {} has no {BEST}",
            path.display()
        );
        Ok(best)
    } else if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        bail!("{what}: {} does not exist", path.display())
    }
}

/// "resnet" for `runs/resnet`, `runs/resnet/best.safetensors` or `resnet.safetensors`.
pub fn run_name(path: &Path) -> String {
    let p = if path.file_name().and_then(|n| n.to_str()) == Some(BEST) {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
