//! Regenerates the embedded CIFAR-10 subset `data/cifar10-subset.tar.gz`: the first 200 training
//! and 50 test images (by file name) of every class of the full image-folder archive, copied
//! byte for byte (the original JPEGs are ~7× smaller than decoded pixels, even gzip-compressed,
//! and decode to exactly what the full archive gives). The output is byte-reproducible: entries
//! are sorted and written with fixed metadata.
//!
//! cargo run --release --example make_subset -- [SOURCE.tar.gz] [OUTPUT]
//!
//! SOURCE defaults to ../shared/data/cifar10-jpeg.tar.gz. An OUTPUT ending in `.fsds` or
//! `.fsds.gz` gets the decoded subset in the compact format instead (for comparison).

use anyhow::{Context, Result, bail};
use fastshap::data;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

const PER_CLASS: [(&str, usize); 2] = [("train", 200), ("test", 50)];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let src = args
        .first()
        .map_or("../shared/data/cifar10-jpeg.tar.gz", |s| s.as_str());
    let out = args
        .get(1)
        .map_or("data/cifar10-subset.tar.gz", |s| s.as_str());
    let bytes = if out.ends_with(".fsds") || out.ends_with(".fsds.gz") {
        compact(Path::new(src), out.ends_with(".gz"))?
    } else {
        jpeg_tar(Path::new(src))?
    };
    fastshap::io::write_atomic(Path::new(out), &bytes)?;
    let (train, test) = data::load_bytes(out, &bytes)?;
    println!(
        "{out}: {} bytes; {} train / {} test images, per class {:?} / {:?}",
        bytes.len(),
        train.len(),
        test.len(),
        train.class_counts(),
        test.class_counts()
    );
    Ok(())
}

/// The decoded subset in the compact format, optionally gzip-compressed (best level).
fn compact(src: &Path, gz: bool) -> Result<Vec<u8>> {
    let (train, test) = data::load_uncached(src)?;
    let raw = data::cache::encode(
        &train.balanced_subset(PER_CLASS[0].1)?,
        &test.balanced_subset(PER_CLASS[1].1)?,
        "",
    );
    if !gz {
        return Ok(raw);
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&raw)?;
    Ok(enc.finish()?)
}

/// The first images per class of the source archive, copied into a new tar.gz.
fn jpeg_tar(src: &Path) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(src).with_context(|| format!("cannot open {}", src.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    // (split, class) → file name → bytes, sorted so "first" means first by name.
    let mut found: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let c: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if c.len() < 3 || !PER_CLASS.iter().any(|(s, _)| *s == c[c.len() - 3]) {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        let key = (c[c.len() - 3].to_string(), c[c.len() - 2].to_string());
        found
            .entry(key)
            .or_default()
            .insert(c[c.len() - 1].to_string(), data);
    }
    if found.is_empty() {
        bail!(
            "{}: no train/<class>/ or test/<class>/ images",
            src.display()
        );
    }
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::best(),
    ));
    let mut dirs = std::collections::BTreeSet::new();
    for ((split, class), files) in &found {
        let per = PER_CLASS.iter().find(|(s, _)| s == split).unwrap().1;
        if files.len() < per {
            bail!("{split}/{class} has {} images, {per} needed", files.len());
        }
        for dir in [split.clone(), format!("{split}/{class}")] {
            if dirs.insert(dir.clone()) {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                tar.append_data(&mut h, format!("{dir}/"), std::io::empty())?;
            }
        }
        for (name, data) in files.iter().take(per) {
            let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
            tar.append_data(&mut h, format!("{split}/{class}/{name}"), data.as_slice())?;
        }
    }
    Ok(tar.into_inner()?.finish()?)
}

/// Fixed metadata, so the archive depends only on the images.
fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}
