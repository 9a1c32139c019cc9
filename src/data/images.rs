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

/// Decodes an image file at its own resolution as 8-bit RGB (grayscale, alpha and 16-bit
/// images are converted); the error names the file.
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let img = image::ImageReader::open(path)
        .with_context(|| format!("cannot read image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?
        .decode()
        .with_context(|| format!("cannot decode image {}", path.display()))?;
    Ok(img.to_rgb8())
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
