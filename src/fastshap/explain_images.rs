//! Explaining many images with a trained explainer (what `fastshap explain` runs): images
//! from the test split or from files (any size; see [`crate::data::images`]), in batches. Per
//! image `<name>.phi.safetensors` (φ [P, K] as `phi`, for numpy/torch users), `<name>.json`
//! (the surrogate's and, when known, the original's probabilities on the full image),
//! `<name>.png` (image + one panel per class) and, for images larger than 32×32,
//! `<name>.overlay.png` (the predicted class's φ over the image at its own resolution). Over all
//! images: `summary.csv` (prediction and most positive / negative superpixel), `index.html` and
//! `gallery-N.html` (the gallery, [`crate::viz::gallery`]: pages of cards whose thumbnails are
//! `<name>.thumb.png` files) and `grid.png` (the first [`GRID_ROWS`]). Files that cannot be read
//! are listed and skipped; the rest are explained.
//!
//! Memory stays flat in the number of images: images are decoded a batch at a time (a large
//! one again, alone, for its overlay), `summary.csv` is streamed into its temp file, gallery
//! pages are written as they fill, and only the first page, the grid's rows and the first
//! [`SKIPPED_LISTED`] skipped files are held to the end.

use super::explainer::{Explainer, explain_batch};
use super::surrogate::Surrogate;
use crate::data::images::{read_rgb, to_model_input};
use crate::data::{self, Dataset, IMAGE_BYTES, SIDE};
use crate::io::AtomicFile;
use crate::math::argmax;
use crate::progress::Progress;
use crate::train::Model;
use crate::viz::gallery::{GalleryItem, PAGE, PageNav, gallery_page, page_file};
use crate::viz::overlay::overlay_full;
use crate::viz::{HeatmapOptions, HeatmapRow, heatmap_grid, png_bytes, save_png};
use crate::{Tensor, no_grad};
use anyhow::{Result, bail};
use safetensors::{Dtype, tensor::TensorView};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Rows of `grid.png`: one PNG of thousands of rows would be unusable; `index.html` has all.
pub const GRID_ROWS: usize = 64;

/// Where an image comes from.
pub enum Source {
    /// An index into the test split passed to [`explain_images`].
    Test(usize),
    File(PathBuf),
}

/// Skipped files listed (in the summary and the gallery); beyond them only counted.
pub const SKIPPED_LISTED: usize = 1000;

/// One image ready to explain: uint8 CHW 32×32, its file when it is larger (decoded again for
/// the overlay, so a batch never holds full-size images), names.
struct Item {
    image: Vec<u8>,
    full: Option<PathBuf>,
    name: String,
    title: String,
    source: serde_json::Value,
}

/// What explains: the explainer, its surrogate and (when its checkpoint is reachable) the
/// original, whose predictions are the ones explained.
pub struct Models<'a> {
    pub explainer: &'a Explainer,
    pub explainer_path: &'a Path,
    pub surrogate: &'a Surrogate,
    pub surrogate_path: &'a Path,
    pub original: Option<(&'a Path, &'a Model)>,
}

/// Where the images come from and how they are drawn.
pub struct ExplainOptions<'a> {
    /// The test split `Source::Test` indexes, and its `--data` name.
    pub test: Option<(&'a Dataset, &'a str)>,
    /// Class names (K).
    pub classes: Vec<String>,
    /// A colour scale shared by all images (default: each image's own max |φ|).
    pub vmax: Option<f64>,
    pub batch_size: usize,
    /// Appended to the run-level files' names (`summary{suffix}.csv`, `index{suffix}.html`,
    /// `grid{suffix}.png`): a shard's `.shard-K-of-N`, else empty.
    pub suffix: String,
}

/// What a run did.
pub struct ExplainSummary {
    pub explained: usize,
    /// Images larger than 32×32, which got an overlay.
    pub overlays: usize,
    /// Files that could not be read: (path, why), the first [`SKIPPED_LISTED`].
    pub skipped: Vec<(String, String)>,
    /// All files that could not be read.
    pub skipped_total: usize,
    /// Seconds from the first batch to the last per-image file.
    pub seconds: f64,
}

/// Reads item `n`; a file that cannot be decoded is an `Err` the caller lists and skips.
fn load_item(n: usize, src: &Source, test: Option<(&Dataset, &str)>) -> Result<Item> {
    Ok(match src {
        Source::Test(i) => {
            let Some((test, data)) = test.filter(|(t, _)| *i < t.len()) else {
                bail!("no test image {i}");
            };
            Item {
                image: test.image(*i).to_vec(),
                full: None,
                name: format!("test-{i}"),
                title: format!("#{i} {}", test.class_name(*i)),
                source: json!({"data": data, "index": i, "label": test.class_name(*i)}),
            }
        }
        Source::File(p) => {
            let full = read_rgb(p)?;
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("image-{n}"));
            let large = full.width() > SIDE as u32 || full.height() > SIDE as u32;
            Item {
                image: to_model_input(&full),
                full: large.then(|| p.clone()),
                name: format!("{n}-{stem}"),
                title: stem,
                source: json!({"file": p.to_string_lossy()}),
            }
        }
    })
}

fn save_phi(path: &Path, phi: &[f32], p: usize, k: usize, probs: &[f32]) -> Result<()> {
    let bytes = [
        bytemuck::cast_slice::<f32, u8>(phi).to_vec(),
        bytemuck::cast_slice::<f32, u8>(probs).to_vec(),
    ];
    let views = vec![
        (
            "phi".to_string(),
            TensorView::new(Dtype::F32, vec![p, k], &bytes[0])?,
        ),
        (
            "surrogate_probs".to_string(),
            TensorView::new(Dtype::F32, vec![k], &bytes[1])?,
        ),
    ];
    let meta = HashMap::from([(
        "layout".to_string(),
        "phi[player, class]; players row-major over the superpixel grid".to_string(),
    )]);
    crate::io::write_atomic(path, &safetensors::serialize(views, Some(meta))?)
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The most positive and most negative superpixel of class `c`: (index, φ) each.
fn extremes(phi: &[f64], k: usize, c: usize) -> ((usize, f64), (usize, f64)) {
    let col: Vec<f64> = phi.iter().skip(c).step_by(k).copied().collect();
    let hi = argmax(&col).unwrap_or(0);
    let lo = (0..col.len())
        .min_by(|&x, &y| col[x].total_cmp(&col[y]))
        .unwrap_or(0);
    ((hi, col[hi]), (lo, col[lo]))
}

/// What is kept of each explained image after its files are written.
struct Explained {
    image: Vec<u8>,
    phi: Vec<f64>,
    surrogate_probs: Vec<f64>,
    original_probs: Option<Vec<f64>>,
    title: String,
}

/// The gallery as it is written: the first page is held to the end (it carries the totals),
/// later pages are written as the next one starts.
struct Gallery<'a> {
    out: &'a Path,
    suffix: &'a str,
    first: Vec<GalleryItem>,
    current: Vec<GalleryItem>,
    /// The number of the page `current` fills (2, 3, …).
    page: usize,
}

impl Gallery<'_> {
    fn push(&mut self, item: GalleryItem) -> Result<()> {
        if self.first.len() < PAGE {
            self.first.push(item);
            return Ok(());
        }
        if self.current.len() == PAGE {
            self.write_current(true)?;
            self.page += 1;
        }
        self.current.push(item);
        Ok(())
    }

    fn write_current(&mut self, has_next: bool) -> Result<()> {
        let nav = PageNav {
            number: self.page,
            total: None,
            has_next,
            suffix: self.suffix,
        };
        let html = gallery_page(TITLE, "", &self.current, &[], 0, &nav);
        crate::io::write_atomic(
            &self.out.join(page_file(self.page, self.suffix)),
            html.as_bytes(),
        )?;
        self.current.clear();
        Ok(())
    }

    /// Writes the last page and then the first, which links to all of them.
    fn finish(mut self, intro: &str, skipped: &[(String, String)], more: usize) -> Result<()> {
        let total = if self.current.is_empty() {
            1
        } else {
            self.write_current(false)?;
            self.page
        };
        let nav = PageNav {
            number: 1,
            total: Some(total),
            has_next: total > 1,
            suffix: self.suffix,
        };
        let html = gallery_page(TITLE, intro, &self.first, skipped, more, &nav);
        crate::io::write_atomic(&self.out.join(page_file(1, self.suffix)), html.as_bytes())
    }
}

const TITLE: &str = "fastshap explanations";

const SUMMARY_HEADER: &str = "image,source,predicted,probability,predicted_by,\
    most_positive_superpixel,most_positive_row,most_positive_col,most_positive_phi,\
    most_negative_superpixel,most_negative_row,most_negative_col,most_negative_phi\n";

/// Explains `sources` ((number, source): the number names the per-image files, so a shard's
/// files are those of a whole run) into `out` (which must exist), counting images on
/// `progress`. An error when none of them can be read (listing why).
pub fn explain_images(
    m: &Models,
    sources: &[(usize, Source)],
    opts: &ExplainOptions,
    out: &Path,
    progress: &mut Progress,
) -> Result<ExplainSummary> {
    let classes = &opts.classes;
    let k = classes.len();
    let mut hopts = HeatmapOptions::new(classes);
    hopts.vmax = opts.vmax;
    let data_name = opts.test.map_or("", |(_, d)| d);
    let suffix = opts.suffix.as_str();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut skipped_total = 0usize;
    let mut skip = |path: String, why: String| {
        skipped_total += 1;
        if skipped.len() < SKIPPED_LISTED {
            skipped.push((path, why));
        }
    };
    let mut grid_rows: Vec<Explained> = Vec::new();
    let mut gallery = Gallery {
        out,
        suffix,
        first: Vec::new(),
        current: Vec::new(),
        page: 2,
    };
    let mut summary = AtomicFile::create(&out.join(format!("summary{suffix}.csv")))?;
    summary.write(SUMMARY_HEADER.as_bytes())?;
    let (mut explained, mut overlays) = (0usize, 0usize);
    let start = std::time::Instant::now();
    for chunk in sources.chunks(opts.batch_size.max(1)) {
        let mut items = Vec::with_capacity(chunk.len());
        for (n, src) in chunk {
            match load_item(*n, src, opts.test) {
                Ok(it) => items.push(it),
                Err(e) => {
                    let path = match src {
                        Source::File(p) => p.display().to_string(),
                        Source::Test(i) => format!("test image {i}"),
                    };
                    skip(path, format!("{:#}", e.root_cause()));
                }
            }
        }
        if items.is_empty() {
            progress.inc(chunk.len());
            continue;
        }
        let mut x = Vec::with_capacity(items.len() * IMAGE_BYTES);
        for it in &items {
            data::normalize_into(&it.image, &mut x);
        }
        let x = Tensor::from_slice(&x, &[items.len(), 3, SIDE, SIDE])?;
        let ex = explain_batch(m.explainer, m.surrogate, &x)?;
        let op = match m.original {
            Some((_, model)) => Some(original_probs(model, &x)?),
            None => None,
        };
        let p = ex.players;
        let g = (p as f64).sqrt().round() as usize;
        for (i, it) in items.into_iter().enumerate() {
            let phi32 = ex.phi_of(i);
            let sprobs32 = &ex.probs[i * k..(i + 1) * k];
            save_phi(
                &out.join(format!("{}.phi.safetensors", it.name)),
                phi32,
                p,
                k,
                sprobs32,
            )?;
            let e = Explained {
                image: it.image,
                phi: phi32.iter().map(|&v| v as f64).collect(),
                surrogate_probs: sprobs32.iter().map(|&v| v as f64).collect(),
                original_probs: op
                    .as_ref()
                    .map(|v| v[i * k..(i + 1) * k].iter().map(|&v| v as f64).collect()),
                title: it.title,
            };
            // The explained prediction: the original's when it is known, else the surrogate's.
            let (probs, by) = match &e.original_probs {
                Some(o) => (o, "original"),
                None => (&e.surrogate_probs, "surrogate"),
            };
            let pred = argmax(probs).unwrap_or(0);
            let overlay_file = match &it.full {
                Some(path) => {
                    let col: Vec<f64> = e.phi.iter().skip(pred).step_by(k).copied().collect();
                    let vmax = opts.vmax.unwrap_or_else(|| {
                        let m = e.phi.iter().fold(0f64, |m, v| m.max(v.abs()));
                        if m > 0.0 { m } else { 1.0 }
                    });
                    let file = format!("{}.overlay.png", it.name);
                    // Decoded again, alone: it read a moment ago, so a failure here means the
                    // file changed; the image stays explained, without its overlay.
                    match read_rgb(path) {
                        Ok(full) => {
                            save_png(
                                &overlay_full(&full, &col, vmax, hopts.background_alpha)?,
                                &out.join(&file),
                            )?;
                            overlays += 1;
                            Some(file)
                        }
                        Err(e) => {
                            let why = format!("no overlay: {:#}", e.root_cause());
                            skip(path.display().to_string(), why);
                            None
                        }
                    }
                }
                None => None,
            };
            let info = json!({
                "source": it.source,
                "classes": classes,
                "superpixel": m.explainer.superpixel(),
                "players": p,
                "link": m.explainer.config.link,
                "normalization": m.explainer.config.normalization,
                "surrogate": m.surrogate_path.to_string_lossy(),
                "surrogate_probs": e.surrogate_probs,
                "surrogate_prediction": argmax(&e.surrogate_probs).map(|c| &classes[c]),
                "original": m.original.map(|(p, _)| p.to_string_lossy()),
                "original_probs": e.original_probs,
                "original_prediction": e.original_probs.as_deref().and_then(argmax).map(|c| &classes[c]),
                "grand": &ex.grand[i * k..(i + 1) * k],
                "null": ex.null,
                "phi_file": format!("{}.phi.safetensors", it.name),
                "overlay_file": &overlay_file,
            });
            crate::io::write_atomic(
                &out.join(format!("{}.json", it.name)),
                serde_json::to_string_pretty(&info)?.as_bytes(),
            )?;
            let row = e.row();
            save_png(
                &heatmap_grid(std::slice::from_ref(&row), &hopts)?,
                &out.join(format!("{}.png", it.name)),
            )?;
            let thumb = format!("{}.thumb.png", it.name);
            crate::io::write_atomic(&out.join(&thumb), &thumbnail(&e, pred, &hopts)?)?;
            let ((hi, hv), (lo, lv)) = extremes(&e.phi, k, pred);
            let source = it.source["file"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}#{}", data_name, it.source["index"]));
            summary.write(
                format!(
                    "{},{},{},{:.6},{by},{hi},{},{},{hv:.6e},{lo},{},{},{lv:.6e}\n",
                    csv(&it.name),
                    csv(&source),
                    csv(&classes[pred]),
                    probs[pred],
                    hi / g,
                    hi % g,
                    lo / g,
                    lo % g,
                )
                .as_bytes(),
            )?;
            gallery.push(GalleryItem {
                name: it.name.clone(),
                caption: vec![
                    e.title.clone(),
                    format!("{by}: {} ({:.2})", classes[pred], probs[pred]),
                ],
                thumbnail: thumb,
                links: [
                    ("all classes", Some(format!("{}.png", it.name))),
                    ("overlay", overlay_file),
                ]
                .into_iter()
                .filter_map(|(l, f)| Some((l.to_string(), f?)))
                .collect(),
            })?;
            if grid_rows.len() < GRID_ROWS {
                grid_rows.push(e);
            }
            explained += 1;
        }
        progress.inc(chunk.len());
    }
    let secs = start.elapsed().as_secs_f64();
    if explained == 0 {
        let listed = skipped
            .iter()
            .map(|(p, why)| format!("\n  {p}: {why}"))
            .collect::<String>();
        let more = skipped_total - skipped.len();
        bail!(
            "none of the {skipped_total} images could be read:{listed}{}",
            if more > 0 {
                format!("\n  … and {more} more")
            } else {
                String::new()
            }
        );
    }

    let rows: Vec<HeatmapRow> = grid_rows.iter().map(Explained::row).collect();
    save_png(
        &heatmap_grid(&rows, &hopts)?,
        &out.join(format!("grid{suffix}.png")),
    )?;
    summary.commit()?;
    let intro = format!(
        "{explained} images explained by {} through surrogate {}{}; click an image for all \
         classes. summary{suffix}.csv lists each prediction and its most positive and negative \
         superpixel.",
        m.explainer_path.display(),
        m.surrogate_path.display(),
        match m.original {
            Some((p, _)) => format!(" (predictions: original {})", p.display()),
            None => " (predictions: the surrogate's)".into(),
        }
    );
    gallery.finish(&intro, &skipped, skipped_total - skipped.len())?;
    Ok(ExplainSummary {
        explained,
        overlays,
        skipped,
        skipped_total,
        seconds: secs,
    })
}

fn original_probs(m: &Model, x: &Tensor) -> Result<Vec<f32>> {
    let _g = no_grad();
    m.logits(x, false)?.softmax()?.to_vec()
}

impl Explained {
    fn row(&self) -> HeatmapRow<'_> {
        HeatmapRow {
            image: &self.image,
            phi: &self.phi,
            probs: self.original_probs.as_deref(),
            surrogate_probs: Some(&self.surrogate_probs),
            title: self.title.clone(),
        }
    }
}

/// The gallery card's picture: the image and its predicted class's heatmap, small.
fn thumbnail(e: &Explained, pred: usize, opts: &HeatmapOptions) -> Result<Vec<u8>> {
    let mut o = opts.clone();
    o.class_subset = Some(vec![pred]);
    o.colorbar = false;
    o.scale = 3;
    // One probability line: the two-model key does not fit a thumbnail.
    let mut row = e.row();
    if row.probs.is_some() {
        row.surrogate_probs = None;
    }
    png_bytes(&heatmap_grid(&[row], &o)?)
}

/// The numbered list `explain` works on — `indices` of the test split when `test` is given,
/// else `files` — cut to `shard`'s run (numbers stay the whole list's); also the whole list's
/// length. An index outside the test split is one clear error.
pub fn numbered_sources(
    test: Option<&Dataset>,
    indices: &[usize],
    files: Vec<PathBuf>,
    shard: Option<crate::data::shard::Shard>,
) -> Result<(Vec<(usize, Source)>, usize)> {
    let all: Vec<Source> = match test {
        Some(t) => {
            for &i in indices {
                anyhow::ensure!(
                    i < t.len(),
                    "--indices: {i} is out of range (the test split has {} images)",
                    t.len()
                );
            }
            indices.iter().map(|&i| Source::Test(i)).collect()
        }
        None => files.into_iter().map(Source::File).collect(),
    };
    let len = all.len();
    let range = shard.map_or(0..len, |s| s.range(len));
    let numbered = all.into_iter().enumerate();
    Ok((numbered.skip(range.start).take(range.len()).collect(), len))
}
