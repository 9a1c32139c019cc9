//! CIFAR-10 data layer, all on the host: readers for the official binary release and for image
//! folders (directories or `.tar.gz`), a compact uint8 cache, the embedded 2,000/500 subset,
//! normalisation, seeded augmentation (crop, flip, AutoAugment) and a prefetching [`Loader`].
//!
//! Images are kept as uint8 CHW (3×32×32) because that is 4× smaller than f32 and is what every
//! augmentation op works on; they become normalised f32 only in [`Dataset::batch`].

pub mod augment;
pub mod autoaugment;
mod binary;
pub mod cache;
mod folder;
pub mod images;
pub mod loader;
pub mod shard;

pub use augment::Augment;
pub use binary::encode_batch;
pub use loader::{Batch, Loader, LoaderConfig, LoaderState};

use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::Path;

/// Side of a CIFAR image in pixels.
pub const SIDE: usize = 32;
/// Bytes of one image: 3 channel planes of 32×32.
pub const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Per-channel mean of the CIFAR-10 training set (RGB, on [0, 1] pixels).
pub const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// Per-channel standard deviation of the CIFAR-10 training set (RGB, on [0, 1] pixels).
pub const STD: [f32; 3] = [0.2470, 0.2435, 0.2616];
/// Official CIFAR-10 class names in label order (also their alphabetical order).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// N images of 3×32×32 uint8 in CHW order, one label each, and the class names labels index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub classes: Vec<String>,
}

impl Dataset {
    /// Checks that the parts agree (image bytes = 3072 per label, every label names a class).
    pub fn new(images: Vec<u8>, labels: Vec<u8>, classes: Vec<String>) -> Result<Self> {
        if images.len() != labels.len() * IMAGE_BYTES {
            bail!(
                "{} image bytes for {} labels (expected {} per image)",
                images.len(),
                labels.len(),
                IMAGE_BYTES
            );
        }
        if let Some(&l) = labels.iter().find(|&&l| l as usize >= classes.len()) {
            bail!("label {l} but only {} classes", classes.len());
        }
        Ok(Self {
            images,
            labels,
            classes,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The i-th image: 3072 bytes, R plane then G then B, each row-major 32×32.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }

    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Name of the i-th image's class.
    pub fn class_name(&self, i: usize) -> &str {
        &self.classes[self.labels[i] as usize]
    }

    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// `n` images spread evenly over this dataset, or all of them (readers group images by
    /// class, so a prefix would hold only the first classes).
    pub fn spread_subset(&self, n: Option<usize>) -> Dataset {
        match n {
            Some(n) if n < self.len() => {
                let idx: Vec<usize> = (0..n).map(|i| i * self.len() / n).collect();
                self.select(&idx)
            }
            _ => self.clone(),
        }
    }

    /// A new dataset of the given images, in the given order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * IMAGE_BYTES);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// The first `per_class` images of every class, in dataset order, grouped by class. Readers
    /// order images by class then file name, so this is deterministic for a given source.
    pub fn balanced_subset(&self, per_class: usize) -> Result<Dataset> {
        let mut picked = Vec::with_capacity(per_class * self.classes.len());
        for c in 0..self.classes.len() {
            let of_class: Vec<usize> = (0..self.len())
                .filter(|&i| self.labels[i] as usize == c)
                .take(per_class)
                .collect();
            if of_class.len() < per_class {
                bail!(
                    "class {} has only {} images, {} wanted",
                    self.classes[c],
                    of_class.len(),
                    per_class
                );
            }
            picked.extend(of_class);
        }
        Ok(self.select(&picked))
    }

    /// Normalised NCHW f32 images ((x/255 − mean)/std per channel) and u32 labels, without
    /// augmentation.
    pub fn batch(&self, indices: &[usize]) -> (Vec<f32>, Vec<u32>) {
        let mut out = Vec::with_capacity(indices.len() * IMAGE_BYTES);
        for &i in indices {
            normalize_into(self.image(i), &mut out);
        }
        (
            out,
            indices.iter().map(|&i| self.labels[i] as u32).collect(),
        )
    }

    /// Like [`Dataset::batch`], with each image augmented by `aug` drawing from `rng`.
    pub fn batch_augmented<R: rand::Rng + ?Sized>(
        &self,
        indices: &[usize],
        aug: &Augment,
        rng: &mut R,
    ) -> (Vec<f32>, Vec<u32>) {
        let mut out = Vec::with_capacity(indices.len() * IMAGE_BYTES);
        let mut img = [0u8; IMAGE_BYTES];
        for &i in indices {
            img.copy_from_slice(self.image(i));
            aug.apply(&mut img, rng);
            normalize_into(&img, &mut out);
        }
        (
            out,
            indices.iter().map(|&i| self.labels[i] as u32).collect(),
        )
    }
}

/// Appends one CHW uint8 image as normalised f32.
pub fn normalize_into(img: &[u8], out: &mut Vec<f32>) {
    for c in 0..3 {
        // (x/255 - m)/s = x * (1/(255 s)) - m/s: one multiply-add per pixel.
        let scale = 1.0 / (255.0 * STD[c]);
        let shift = MEAN[c] / STD[c];
        let plane = &img[c * SIDE * SIDE..(c + 1) * SIDE * SIDE];
        out.extend(plane.iter().map(|&x| x as f32 * scale - shift));
    }
}

/// Loads (train, test) from `path`, going through the cache (see [`cache`]): a directory or
/// `.tar.gz` of the official binary release or of image folders, or a compact dataset file.
pub fn load(path: &Path) -> Result<(Dataset, Dataset)> {
    cache::load_cached(path, &cache::default_dir())
}

/// The CIFAR-10 (train, test) splits of a `--data` value: `embedded` or a path.
pub fn load_source(data: &str) -> Result<(Dataset, Dataset)> {
    if data == "embedded" {
        embedded()
    } else {
        load(Path::new(data))
    }
}

/// Loads (train, test) from `path` without touching the cache. The format is detected:
/// - a directory holding `data_batch_*.bin` + `test_batch.bin` (or a `cifar-10-batches-bin/`
///   subdirectory that does): the official binary release;
/// - a directory holding `train/<class>/*` and `test/<class>/*` images: image folders;
/// - a `.tar.gz`/`.tgz`/`.tar` of either, read as a stream (nothing is unpacked);
/// - a compact dataset file (`.fsds`, optionally gzip-compressed).
pub fn load_uncached(path: &Path) -> Result<(Dataset, Dataset)> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        if let Some(dir) = binary::find_dir(path) {
            return binary::load_dir(&dir);
        }
        if path.join("train").is_dir() || path.join("test").is_dir() {
            return folder::load_dir(path);
        }
        bail!(
            "{}: not a CIFAR-10 directory (no data_batch_*.bin/test_batch.bin, no \
             cifar-10-batches-bin/, no train/ and test/ image folders)",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    load_bytes(&path.display().to_string(), &bytes)
}

/// Loads (train, test) from the bytes of an archive or compact file; `name` is used in errors.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<(Dataset, Dataset)> {
    if bytes.starts_with(cache::MAGIC) {
        return cache::decode(name, bytes);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // A gzip stream: peek at the first decompressed bytes to tell a compact file from a tar.
        let mut head = [0u8; 8];
        let mut gz = flate2::read::GzDecoder::new(bytes);
        let n = read_up_to(&mut gz, &mut head).with_context(|| format!("{name}: bad gzip data"))?;
        if head[..n] == cache::MAGIC[..n.min(cache::MAGIC.len())] && n == cache::MAGIC.len() {
            let mut all = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut all)
                .with_context(|| format!("{name}: bad gzip data"))?;
            return cache::decode(name, &all);
        }
        return load_tar(name, flate2::read::GzDecoder::new(bytes));
    }
    if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        return load_tar(name, bytes);
    }
    bail!(
        "{name}: not a CIFAR-10 source (neither a directory, a tar/tar.gz archive nor a compact dataset file)"
    )
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// One pass over a tar stream: keeps binary batch files and image-folder entries in memory
/// (compressed JPEG/PNG bytes are small), then decodes whichever layout the archive holds.
fn load_tar(name: &str, reader: impl Read) -> Result<(Dataset, Dataset)> {
    let mut archive = tar::Archive::new(reader);
    let mut bins = binary::Collected::default();
    let mut images = folder::Collected::default();
    for entry in archive
        .entries()
        .with_context(|| format!("{name}: not a tar archive"))?
    {
        let mut entry = entry.with_context(|| format!("{name}: corrupt tar archive"))?;
        let path = entry
            .path()
            .with_context(|| format!("{name}: bad path in tar archive"))?
            .to_string_lossy()
            .into_owned();
        let kind = entry.header().entry_type();
        let label = format!("{name}:{path}");
        if kind.is_dir() {
            images.add_dir(&path);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let wants_bin = binary::wants(&path);
        let wants_img = folder::wants(&path);
        if !wants_bin && !wants_img {
            continue;
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("{label}: cannot read from archive"))?;
        if wants_bin {
            bins.add(&path, label, data);
        } else {
            images.add_file(&path, label, data);
        }
    }
    match (bins.is_empty(), images.is_empty()) {
        (false, true) => bins.finish(name),
        (true, false) => images.finish(name),
        (false, false) => bail!("{name}: holds both CIFAR-10 binary batches and image folders"),
        (true, true) => bail!(
            "{name}: no CIFAR-10 data in archive (no data_batch_*.bin/test_batch.bin and no \
             train/<class>/ or test/<class>/ images)"
        ),
    }
}

/// Every `HOLDOUT_EVERY`-th training image (index ≡ HOLDOUT_EVERY − 1) is held out for
/// validation: readers group images by class, so the held-out part is stratified, and it is the
/// same for every trainer of a run. No trainer validates on the test split, so test images —
/// the ones `evaluate` explains — never take part in early stopping, best-checkpoint choice or
/// the learning-rate schedule.
pub const HOLDOUT_EVERY: usize = 10;

/// Indices of the training split held out for validation (see [`HOLDOUT_EVERY`]).
pub fn holdout_indices(train_len: usize) -> Vec<usize> {
    (0..train_len)
        .filter(|i| i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1)
        .collect()
}

/// The training split as (fit, validation): the images trainers learn from and the held-out
/// images they validate on (disjoint; together the whole split).
pub fn holdout(train: &Dataset) -> (Dataset, Dataset) {
    let val = holdout_indices(train.len());
    let fit: Vec<usize> = (0..train.len())
        .filter(|i| i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1)
        .collect();
    (train.select(&fit), train.select(&val))
}

/// The training split of `data` as (fit, validation) — what every trainer's CLI uses; the test
/// split is left for evaluation.
pub fn load_fit_val(data: &str) -> Result<(Dataset, Dataset)> {
    let (train, _) = load_source(data)?;
    Ok(holdout(&train))
}

/// The embedded default subset: 2,000 training and 500 test images, 200/50 per class, taken
/// from the full archive by `tools/make_subset.rs`. Compiled into the binary.
pub fn embedded() -> Result<(Dataset, Dataset)> {
    static BYTES: &[u8] = include_bytes!("../../data/cifar10-subset.tar.gz");
    load_bytes("embedded subset", BYTES)
}
