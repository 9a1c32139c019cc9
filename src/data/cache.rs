//! The compact dataset file, used as the decode-once cache (and readable by [`super::load`]).
//!
//! Layout, little-endian:
//!
//! ```text
//! magic    8 bytes  "FSDSET01"
//! n_train  u32, n_test u32
//! classes  u16 count, then per class u16 length + UTF-8 name
//! key      u16 length + UTF-8 source key (path, sizes, mtimes; empty outside the cache)
//! crc32    u32 of the payload
//! payload  train labels, train images (N×3072 CHW), test labels, test images
//! ```
//!
//! A cache file is named after its source path and records the source's key; a file whose key or
//! checksum does not match is rebuilt with a warning, never trusted.

use super::{Dataset, IMAGE_BYTES};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub const MAGIC: &[u8; 8] = b"FSDSET01";

/// `$FASTSHAP_CACHE`, else `target/fastshap-cache` when run from a directory with `target/`
/// (a checkout), else `~/.cache/fastshap`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FASTSHAP_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if Path::new("target").is_dir() {
        return PathBuf::from("target/fastshap-cache");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/fastshap"),
        None => PathBuf::from("target/fastshap-cache"),
    }
}

/// Serialises (train, test) with a source key into the compact format.
pub fn encode(train: &Dataset, test: &Dataset, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + (train.len() + test.len()) * (IMAGE_BYTES + 1));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(train.len() as u32).to_le_bytes());
    out.extend_from_slice(&(test.len() as u32).to_le_bytes());
    out.extend_from_slice(&(train.classes.len() as u16).to_le_bytes());
    for c in &train.classes {
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(c.as_bytes());
    }
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    for d in [train, test] {
        out.extend_from_slice(&d.labels);
        out.extend_from_slice(&d.images);
    }
    let crc = crc32fast::hash(&out[crc_at + 4..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Parses a compact file; `name` is used in errors.
pub fn decode(name: &str, bytes: &[u8]) -> Result<(Dataset, Dataset)> {
    decode_with_key(name, bytes).map(|(_, tr, te)| (tr, te))
}

struct Cursor<'a> {
    name: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() - self.at < n {
            bail!(
                "{}: truncated compact dataset file ({} bytes, needs more than {})",
                self.name,
                self.bytes.len(),
                self.at + n - 1
            );
        }
        self.at += n;
        Ok(&self.bytes[self.at - n..self.at])
    }
    fn u16(&mut self) -> Result<usize> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()) as usize)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u16()?;
        let name = self.name;
        String::from_utf8(self.take(n)?.to_vec())
            .with_context(|| format!("{name}: class name or key is not UTF-8"))
    }
}

/// Parses a compact file and returns its source key too.
pub fn decode_with_key(name: &str, bytes: &[u8]) -> Result<(String, Dataset, Dataset)> {
    if !bytes.starts_with(MAGIC) {
        bail!("{name}: not a compact dataset file (bad magic)");
    }
    let mut c = Cursor {
        name,
        bytes,
        at: MAGIC.len(),
    };
    let n_train = c.u32()? as usize;
    let n_test = c.u32()? as usize;
    let n_classes = c.u16()?;
    let classes = (0..n_classes)
        .map(|_| c.string())
        .collect::<Result<Vec<_>>>()?;
    let key = c.string()?;
    let crc = c.u32()?;
    let payload = &bytes[c.at..];
    let want = (n_train + n_test) * (IMAGE_BYTES + 1);
    if payload.len() != want {
        bail!(
            "{name}: payload is {} bytes, {n_train}+{n_test} images need {want}: truncated or \
             corrupt",
            payload.len()
        );
    }
    if crc32fast::hash(payload) != crc {
        bail!("{name}: checksum mismatch: the file is corrupt");
    }
    let mut split = |n: usize| -> Result<Dataset> {
        let labels = c.take(n)?.to_vec();
        let images = c.take(n * IMAGE_BYTES)?.to_vec();
        Dataset::new(images, labels, classes.clone()).with_context(|| format!("{name}: bad data"))
    };
    let train = split(n_train)?;
    let test = split(n_test)?;
    Ok((key, train, test))
}

fn mtime_ns(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// What identifies a source's content without reading it: its absolute path with the size and
/// mtime of the file, or for a directory of every file under it (a directory's own mtime does
/// not change when a file inside is rewritten).
pub fn source_key(path: &Path) -> Result<String> {
    let abs =
        std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    let meta = std::fs::metadata(&abs)?;
    if !meta.is_dir() {
        return Ok(format!(
            "{}|{}|{}",
            abs.display(),
            meta.len(),
            mtime_ns(&meta)
        ));
    }
    let mut entries = Vec::new();
    let mut stack = vec![abs.clone()];
    while let Some(dir) = stack.pop() {
        for e in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let e = e?;
            let m = e.metadata()?;
            if m.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(&abs).unwrap().display().to_string();
                entries.push(format!("{rel}|{}|{}", m.len(), mtime_ns(&m)));
            }
        }
    }
    entries.sort();
    Ok(format!(
        "{}|dir|{}|{:016x}",
        abs.display(),
        entries.len(),
        fnv1a(entries.join("\n").as_bytes())
    ))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// The cache file for a source: one per source path, so a changed source overwrites its entry.
pub fn cache_file(dir: &Path, path: &Path) -> Result<PathBuf> {
    let abs =
        std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    let stem = abs
        .file_name()
        .map(|s| {
            s.to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        })
        .unwrap_or_default();
    Ok(dir.join(format!(
        "{stem}-{:016x}.fsds",
        fnv1a(abs.to_string_lossy().as_bytes())
    )))
}

/// Loads `path` from its cache in `dir`, decoding the source and (re)writing the cache when the
/// cache is missing, corrupt or for another version of the source.
pub fn load_cached(path: &Path, dir: &Path) -> Result<(Dataset, Dataset)> {
    let key = source_key(path)?;
    let file = cache_file(dir, path)?;
    if let Ok(bytes) = std::fs::read(&file) {
        match decode_with_key(&file.display().to_string(), &bytes) {
            Ok((k, train, test)) if k == key => return Ok((train, test)),
            Ok(_) => eprintln!(
                "warning: cache {} is for another version of {}; rebuilding it",
                file.display(),
                path.display()
            ),
            Err(e) => eprintln!("warning: {e:#}; rebuilding the cache"),
        }
    }
    let (train, test) = super::load_uncached(path)?;
    let written = std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create cache directory {}", dir.display()))
        .and_then(|_| crate::io::write_atomic(&file, &encode(&train, &test, &key)));
    if let Err(e) = written {
        eprintln!("warning: dataset cache not written: {e:#}");
    }
    Ok((train, test))
}
