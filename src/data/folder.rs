//! Image folders: `root/train/<class>/*.{jpg,jpeg,png}` and `root/test/<class>/*`, classes
//! sorted by name (label = position), from a directory or a tar stream. Only 8-bit RGB 32×32
//! images are accepted: grayscale, alpha or 16-bit images are refused rather than converted,
//! because a silent conversion would hide a data set that is not what the user thinks it is.

use super::{Dataset, IMAGE_BYTES, SIDE};
use anyhow::{Context, Result, bail};
use image::{ColorType, ImageFormat};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const SPLITS: [&str; 2] = ["train", "test"];

fn image_format(file: &str) -> Option<ImageFormat> {
    let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "png" => Some(ImageFormat::Png),
        _ => None,
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// Whether a tar entry is an image in `<root>/<split>/<class>/`.
pub(super) fn wants(path: &str) -> bool {
    let c = components(path);
    c.len() >= 3 && SPLITS.contains(&c[c.len() - 3]) && image_format(c[c.len() - 1]).is_some()
}

/// One encoded image waiting to be decoded.
struct Pending {
    file: String,
    label: String,
    bytes: Vec<u8>,
}

/// Class folders and their encoded images, gathered from a directory or a tar stream.
#[derive(Default)]
pub(super) struct Collected {
    /// (split, class) → images; a class folder seen without images maps to an empty list.
    classes: BTreeMap<(usize, String), Vec<Pending>>,
    /// What precedes `train/`/`test/` in each path; must be one place.
    roots: BTreeSet<String>,
    /// The folder each (split, class) lives in, for messages.
    folders: BTreeMap<(usize, String), String>,
    splits_seen: [bool; 2],
}

impl Collected {
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty() && !self.splits_seen.iter().any(|&s| s)
    }

    /// Notes a directory entry, so empty class folders and empty splits are reported.
    pub fn add_dir(&mut self, path: &str) {
        let c = components(path);
        let n = c.len();
        if n >= 1 && SPLITS.contains(&c[n - 1]) {
            let split = SPLITS.iter().position(|s| *s == c[n - 1]).unwrap();
            self.splits_seen[split] = true;
            self.roots.insert(c[..n - 1].join("/"));
        } else if n >= 2 && SPLITS.contains(&c[n - 2]) {
            let split = SPLITS.iter().position(|s| *s == c[n - 2]).unwrap();
            self.splits_seen[split] = true;
            self.roots.insert(c[..n - 2].join("/"));
            let key = (split, c[n - 1].to_string());
            self.folders.insert(key.clone(), c.join("/"));
            self.classes.entry(key).or_default();
        }
    }

    /// Adds an image whose path is `<root>/<split>/<class>/<file>` (checked by [`wants`]).
    pub fn add_file(&mut self, path: &str, label: String, bytes: Vec<u8>) {
        let c = components(path);
        let n = c.len();
        let split = SPLITS.iter().position(|s| *s == c[n - 3]).unwrap();
        self.add_dir(&c[..n - 1].join("/"));
        self.classes
            .entry((split, c[n - 2].to_string()))
            .or_default()
            .push(Pending {
                file: c[n - 1].to_string(),
                label,
                bytes,
            });
    }

    pub fn finish(self, source: &str) -> Result<(Dataset, Dataset)> {
        if self.roots.len() > 1 {
            let roots: Vec<_> = self.roots.iter().map(|r| format!("'{r}/'")).collect();
            bail!(
                "{source}: train/ and test/ folders found under several roots ({})",
                roots.join(", ")
            );
        }
        let mut names: [BTreeSet<String>; 2] = Default::default();
        for ((split, class), files) in &self.classes {
            if files.is_empty() {
                bail!(
                    "{source}: class folder {} has no images (.jpg, .jpeg or .png)",
                    self.folders[&(*split, class.clone())]
                );
            }
            names[*split].insert(class.clone());
        }
        for (s, split) in SPLITS.iter().enumerate() {
            if names[s].is_empty() {
                bail!(
                    "{source}: image folder {split}/ is missing or has no class folders with images"
                );
            }
        }
        if names[0] != names[1] {
            let only_train: Vec<_> = names[0].difference(&names[1]).cloned().collect();
            let only_test: Vec<_> = names[1].difference(&names[0]).cloned().collect();
            bail!(
                "{source}: train/ and test/ have different classes (only in train: {:?}; only \
                 in test: {:?})",
                only_train,
                only_test
            );
        }
        let classes: Vec<String> = names[0].iter().cloned().collect();
        let mut splits: [Vec<(u8, Pending)>; 2] = Default::default();
        for ((split, class), mut files) in self.classes {
            let label = classes.binary_search(&class).unwrap() as u8;
            files.sort_by(|a, b| a.file.cmp(&b.file));
            splits[split].extend(files.into_iter().map(|p| (label, p)));
        }
        if classes.len() > 256 {
            bail!(
                "{source}: {} classes, at most 256 fit a byte label",
                classes.len()
            );
        }
        let [train, test] = splits;
        Ok((decode_all(train, &classes)?, decode_all(test, &classes)?))
    }
}

pub(super) fn load_dir(root: &Path) -> Result<(Dataset, Dataset)> {
    let mut c = Collected::default();
    for split in SPLITS {
        let dir = root.join(split);
        if !dir.is_dir() {
            continue;
        }
        c.add_dir(split);
        for class in read_sorted(&dir)? {
            if !class.is_dir() {
                continue;
            }
            let cname = class.file_name().unwrap().to_string_lossy().into_owned();
            c.add_dir(&format!("{split}/{cname}"));
            for file in read_sorted(&class)? {
                let fname = file.file_name().unwrap().to_string_lossy().into_owned();
                if !file.is_file() || image_format(&fname).is_none() {
                    continue;
                }
                let bytes = std::fs::read(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                c.add_file(
                    &format!("{split}/{cname}/{fname}"),
                    file.display().to_string(),
                    bytes,
                );
            }
        }
    }
    c.finish(&root.display().to_string())
}

fn read_sorted(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        v.push(
            e.with_context(|| format!("cannot list {}", dir.display()))?
                .path(),
        );
    }
    v.sort();
    Ok(v)
}

/// Decodes every image on all cores; the first failure (in file order) is the error.
fn decode_all(items: Vec<(u8, Pending)>, classes: &[String]) -> Result<Dataset> {
    let n = items.len();
    let mut images = vec![0u8; n * IMAGE_BYTES];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(16);
    let chunk = n.div_ceil(threads).max(1);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .zip(images.chunks_mut(chunk * IMAGE_BYTES))
            .map(|(part, out)| {
                s.spawn(move || {
                    for ((_, p), dst) in part.iter().zip(out.chunks_exact_mut(IMAGE_BYTES)) {
                        decode_into(&p.label, &p.file, &p.bytes, dst)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        r?;
    }
    let labels = items.iter().map(|(l, _)| *l).collect();
    Dataset::new(images, labels, classes.to_vec())
}

fn describe(c: ColorType) -> &'static str {
    match c {
        ColorType::L8 => "8-bit grayscale",
        ColorType::La8 => "8-bit grayscale with alpha",
        ColorType::Rgba8 => "8-bit RGBA (has an alpha channel)",
        ColorType::L16 => "16-bit grayscale",
        ColorType::La16 => "16-bit grayscale with alpha",
        ColorType::Rgb16 => "16-bit RGB",
        ColorType::Rgba16 => "16-bit RGBA",
        ColorType::Rgb32F => "32-bit float RGB",
        ColorType::Rgba32F => "32-bit float RGBA",
        _ => "an unsupported pixel type",
    }
}

/// Decodes one JPEG/PNG into a 3072-byte CHW slot, refusing anything but 8-bit RGB 32×32.
pub fn decode_into(label: &str, file: &str, bytes: &[u8], dst: &mut [u8]) -> Result<()> {
    let format = image_format(file).context("not a .jpg/.jpeg/.png file")?;
    let kind = if format == ImageFormat::Png {
        "PNG"
    } else {
        "JPEG"
    };
    let img = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| anyhow::anyhow!("{label}: corrupt or unreadable {kind}: {e}"))?;
    if img.color() != ColorType::Rgb8 {
        bail!(
            "{label}: {kind} is {}; only 8-bit RGB images are accepted (convert it to RGB \
             first; it is refused rather than converted so nothing changes silently)",
            describe(img.color())
        );
    }
    if (img.width(), img.height()) != (SIDE as u32, SIDE as u32) {
        bail!(
            "{label}: image is {}x{} pixels, expected {SIDE}x{SIDE}",
            img.width(),
            img.height()
        );
    }
    let rgb = img.as_rgb8().unwrap().as_raw();
    let plane = SIDE * SIDE;
    for (p, px) in rgb.chunks_exact(3).enumerate() {
        dst[p] = px[0];
        dst[plane + p] = px[1];
        dst[2 * plane + p] = px[2];
    }
    Ok(())
}
