//! File output that never leaves a half-written file: write a temp file beside the target,
//! fsync it, then rename over the target. [`AtomicFile`] does the same for a file written a
//! piece at a time (a summary of thousands of images, streamed rather than held in memory).

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// The temp file beside `path` that becomes it.
fn temp_of(path: &Path) -> Result<std::path::PathBuf> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    Ok(dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    )))
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_of(path)?;
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// A file written piece by piece into a temp file beside `path`; [`AtomicFile::commit`] fsyncs
/// and renames it over `path`. Dropped without a commit, the temp file is removed and `path`
/// keeps what it held.
pub struct AtomicFile {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let tmp = temp_of(path)?;
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            out: Some(std::io::BufWriter::new(f)),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self.out.as_mut().expect("written after commit");
        out.write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("committed once");
        let result = (|| -> Result<()> {
            let f = out.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            std::fs::rename(&self.tmp, &self.path)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
