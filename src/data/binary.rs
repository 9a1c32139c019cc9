//! The official CIFAR-10 binary release (`cifar-10-batches-bin/`): `data_batch_1..5.bin` and
//! `test_batch.bin`, each a run of 3073-byte records (1 label byte, then the R, G and B planes of
//! 32×32 bytes — already our CHW layout), and `batches.meta.txt` with the class names.

use super::{CIFAR10_CLASSES, Dataset, IMAGE_BYTES};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

const RECORD: usize = 1 + IMAGE_BYTES;

fn is_batch(name: &str) -> bool {
    name == "test_batch.bin" || batch_number(name).is_some()
}

fn batch_number(name: &str) -> Option<u32> {
    name.strip_prefix("data_batch_")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

fn file_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// The directory holding the batch files: `dir` itself or its `cifar-10-batches-bin/`.
pub(super) fn find_dir(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join("cifar-10-batches-bin")]
        .into_iter()
        .find(|d| d.join("test_batch.bin").is_file() || d.join("data_batch_1.bin").is_file())
}

/// Whether a tar entry belongs to the binary release.
pub(super) fn wants(path: &str) -> bool {
    let name = file_name(path);
    is_batch(name) || name == "batches.meta.txt"
}

pub(super) fn load_dir(dir: &Path) -> Result<(Dataset, Dataset)> {
    let mut c = Collected::default();
    let listing =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for e in listing {
        let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if wants(&name) {
            let p = e.path();
            let data = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            c.add(&name, p.display().to_string(), data);
        }
    }
    c.finish(&dir.display().to_string())
}

/// Batch files gathered from a directory or a tar stream: (file name, label for errors, bytes).
#[derive(Default)]
pub(super) struct Collected {
    files: Vec<(String, String, Vec<u8>)>,
}

impl Collected {
    pub fn is_empty(&self) -> bool {
        !self.files.iter().any(|(n, _, _)| is_batch(n))
    }

    pub fn add(&mut self, path: &str, label: String, data: Vec<u8>) {
        self.files.push((file_name(path).to_string(), label, data));
    }

    pub fn finish(mut self, source: &str) -> Result<(Dataset, Dataset)> {
        // Training batches in numeric order, as the official loaders concatenate them.
        self.files
            .sort_by_key(|(n, _, _)| (batch_number(n).unwrap_or(u32::MAX), n.clone()));
        for w in self.files.windows(2) {
            if w[0].0 == w[1].0 {
                bail!(
                    "{source}: {} appears twice ({} and {})",
                    w[0].0,
                    w[0].1,
                    w[1].1
                );
            }
        }
        let classes = match self.files.iter().find(|(n, _, _)| n == "batches.meta.txt") {
            Some((_, label, data)) => class_names(label, data)?,
            None => CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        };
        let mut train = (Vec::new(), Vec::new());
        let mut test = None;
        for (name, label, data) in &self.files {
            if name == "test_batch.bin" {
                test = Some(parse(label, data, classes.len())?);
            } else if batch_number(name).is_some() {
                let (img, lab) = parse(label, data, classes.len())?;
                train.0.extend(img);
                train.1.extend(lab);
            }
        }
        if train.1.is_empty() {
            bail!("{source}: no data_batch_*.bin training batches");
        }
        let Some(test) = test else {
            bail!("{source}: no test_batch.bin");
        };
        Ok((
            Dataset::new(train.0, train.1, classes.clone())?,
            Dataset::new(test.0, test.1, classes)?,
        ))
    }
}

fn class_names(label: &str, data: &[u8]) -> Result<Vec<String>> {
    let text = std::str::from_utf8(data).with_context(|| format!("{label}: not UTF-8 text"))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() || names.len() > 256 {
        bail!("{label}: {} class names, expected 1 to 256", names.len());
    }
    Ok(names)
}

/// Splits one batch file into CHW images and labels, refusing a size that is not a whole number
/// of records and labels past the class list.
fn parse(label: &str, data: &[u8], classes: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    if data.is_empty() {
        bail!("{label}: empty batch file (0 bytes)");
    }
    if !data.len().is_multiple_of(RECORD) {
        bail!(
            "{label}: size {} bytes is not a multiple of {RECORD} (1 label byte + {IMAGE_BYTES} \
             pixel bytes per record): truncated, oversized or not a CIFAR-10 batch \
             ({} whole records + {} bytes)",
            data.len(),
            data.len() / RECORD,
            data.len() % RECORD
        );
    }
    let n = data.len() / RECORD;
    let mut images = Vec::with_capacity(n * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in data.chunks_exact(RECORD).enumerate() {
        if rec[0] as usize >= classes {
            bail!(
                "{label}: record {i} has label {}, but labels must be below {classes}",
                rec[0]
            );
        }
        labels.push(rec[0]);
        images.extend_from_slice(&rec[1..]);
    }
    Ok((images, labels))
}

/// Writes a dataset as one official-format batch file (used to make fixtures).
pub fn encode_batch(d: &Dataset) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len() * RECORD);
    for i in 0..d.len() {
        out.push(d.labels[i]);
        out.extend_from_slice(d.image(i));
    }
    out
}
