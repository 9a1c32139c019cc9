//! Images to explain, from files and directories (searched recursively for JPEG/PNG): any
//! size and colour type, converted to 8-bit RGB and resized to the 32×32 the models see. Unlike
//! data sets (see `folder`), nothing is refused: explaining a photo means converting it.

use super::{IMAGE_BYTES, SIDE};
use anyhow::{Context, Result, bail};
use image::RgbImage;
use std::path::{Path, PathBuf};

/// Whether a file name has an image extension we decode (.jpg, .jpeg, .png, any case).
pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

/// The files `paths` name: files as given, directories expanded to the JPEG/PNG files below
/// them (hidden entries skipped, symlinked directories not followed), each sorted by path.
/// A missing path, or a directory without images, is an error naming it.
pub fn find_images(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if !meta.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        walk(p, &mut found)?;
        if found.is_empty() {
            bail!(
                "{}: no JPEG or PNG images (.jpg, .jpeg, .png) in it or below it",
                p.display()
            );
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        if e.file_type()?.is_dir() {
            walk(&path, found)?;
        } else if path.is_file() && is_image_name(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Largest image file decoded: a photo is a few MB; more is not an image to explain here.
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Most pixels decoded per image (a 40-megapixel photo): a small file can claim 30000×30000.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Most memory one decode may allocate (16-bit RGBA at the pixel limit fits).
const MAX_DECODE_ALLOC: u64 = 512 << 20;

/// Decodes an image file at its own resolution as 8-bit RGB (grayscale, alpha and 16-bit
/// images are converted); the error names the file. Only regular files up to
/// [`MAX_IMAGE_BYTES`] and images up to [`MAX_IMAGE_PIXELS`] are decoded (the size is read
/// from the header first), so a hostile file costs an error, not the process's memory.
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    decode_limited(path).with_context(|| format!("cannot decode image {}", path.display()))
}

/// [`read_rgb`] without the file's name (the caller's context adds it).
fn decode_limited(path: &Path) -> Result<RgbImage> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        bail!("not a regular file");
    }
    if meta.len() > MAX_IMAGE_BYTES {
        bail!(
            "{} MiB; image files over {} MiB are not decoded",
            meta.len() >> 20,
            MAX_IMAGE_BYTES >> 20
        );
    }
    let open = || -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>> {
        let mut r = image::ImageReader::open(path)?.with_guessed_format()?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_DECODE_ALLOC);
        r.limits(limits);
        Ok(r)
    };
    let (w, h) = open()?.into_dimensions()?;
    let pixels = w as u64 * h as u64;
    if pixels > MAX_IMAGE_PIXELS {
        bail!(
            "{w}×{h} pixels ({:.0} megapixels); images over {} megapixels are not decoded",
            pixels as f64 / 1e6,
            MAX_IMAGE_PIXELS / 1_000_000
        );
    }
    Ok(open()?.decode()?.to_rgb8())
}

/// The 32×32 uint8 CHW image the models see (resized with a triangle filter if needed).
pub fn to_model_input(img: &RgbImage) -> Vec<u8> {
    let small;
    let img = if img.dimensions() != (SIDE as u32, SIDE as u32) {
        small = image::imageops::resize(
            img,
            SIDE as u32,
            SIDE as u32,
            image::imageops::FilterType::Triangle,
        );
        &small
    } else {
        img
    };
    let mut chw = vec![0u8; IMAGE_BYTES];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            chw[c * SIDE * SIDE + y as usize * SIDE + x as usize] = p.0[c];
        }
    }
    chw
}
