//! `fastshap explain`: Shapley-value heatmaps from a trained explainer, for test-split images
//! or image files and folders (searched recursively; any size). What it writes: see
//! [`crate::fastshap::explain`].

use crate::data::CIFAR10_CLASSES;
use crate::data::images::find_images;
use crate::data::shard::Shard;
use crate::fastshap::explain_images::{
    ExplainOptions, GRID_ROWS, Models, explain_images, numbered_sources,
};
use crate::progress::Progress;
use crate::viz::gallery::PAGE;
use anyhow::{Context, Result, bail, ensure};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The explainer's checkpoint (from `fastshap explainer`).
    #[arg(long)]
    explainer: PathBuf,
    /// The surrogate's checkpoint (default: the one the explainer was trained with).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// The original classifier (default: the one the surrogate was trained from, if its file
    /// is still there); a PyTorch state dict with --arch.
    #[arg(long)]
    original: Option<PathBuf>,
    #[command(flatten)]
    arch: super::model_flags::ArchArgs,
    /// CIFAR-10 source or `embedded`; `--indices` pick images of its test split.
    #[arg(long)]
    data: Option<String>,
    /// Test-split indices, e.g. `0,5,7` (with --data).
    #[arg(long, value_delimiter = ',')]
    indices: Vec<usize>,
    /// Image files (PNG/JPEG, any size) or folders of them (searched recursively) instead of
    /// --data.
    images: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// A colour scale shared by all images (default: each image's own max |φ|).
    #[arg(long)]
    vmax: Option<f64>,
    /// Images per explainer call.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Print only the final line and skipped files (no progress).
    #[arg(long)]
    quiet: bool,
    /// Explain only shard K of N (K from 0 to N−1, e.g. `$SLURM_ARRAY_TASK_ID/4`): the sorted
    /// image list is cut into N contiguous runs of nearly equal length. Per-image files are
    /// named as in one whole run; summary, gallery and grid get a `.shard-K-of-N` suffix (the
    /// shards' summary rows, in K order, are one run's).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
}

fn check_sources(a: &Args) -> Result<()> {
    match (&a.data, a.images.is_empty()) {
        (Some(_), false) => bail!("give either --data with --indices or image files, not both"),
        (None, true) => {
            bail!("nothing to explain: give --data PATH --indices 0,5,7 or image files/folders")
        }
        (Some(_), true) => ensure!(!a.indices.is_empty(), "--data needs --indices (e.g. 0,5,7)"),
        (None, false) => ensure!(a.indices.is_empty(), "--indices needs --data"),
    }
    Ok(())
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    ensure!(a.batch_size >= 1, "--batch-size must be at least 1");
    check_sources(a)?;
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    if let Some(v) = a.vmax {
        ensure!(v.is_finite() && v > 0.0, "--vmax must be positive, got {v}");
    }
    // Folders are listed (and an empty one refused) before the GPU starts.
    let files = find_images(&a.images)?;
    crate::gpu::init(gpu)?;
    let (explainer, surrogate, sur_path) =
        super::model_flags::explainer_and_surrogate(&a.explainer, a.surrogate.as_deref())?;
    let original = super::model_flags::original_of(&surrogate, a.original.as_deref(), &a.arch)?;
    let test = (a.data.as_deref())
        .map(|d| crate::data::load_source(d).map(|(_, test)| (test, d)))
        .transpose()?;
    let (sources, all) = numbered_sources(test.as_ref().map(|t| &t.0), &a.indices, files, shard)?;
    if let (Some(shard), true) = (shard, sources.is_empty()) {
        println!(
            "shard {}/{}: no images (the list has {all}, fewer than the shards)",
            shard.index, shard.count
        );
        return Ok(());
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let classes: Vec<String> = if explainer.classes.len() == explainer.config.unet.classes {
        explainer.classes.clone()
    } else {
        CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
    };
    let models = Models {
        explainer: &explainer,
        explainer_path: &a.explainer,
        surrogate: &surrogate,
        surrogate_path: &sur_path,
        original: original.as_ref().map(|(p, m)| (p.as_path(), m)),
    };
    let opts = ExplainOptions {
        test: test.as_ref().map(|(t, d)| (t, *d)),
        classes,
        vmax: a.vmax,
        batch_size: a.batch_size,
        suffix: shard.map(Shard::suffix).unwrap_or_default(),
    };
    let mut progress = Progress::new("explain", sources.len(), "images", a.quiet);
    let s = explain_images(&models, &sources, &opts, &a.out, &mut progress)?;
    progress.finish();
    // Optional parts of a line.
    let only = |shown: bool, text: String| if shown { text } else { String::new() };
    if s.skipped_total > 0 {
        let listed: String = (s.skipped.iter())
            .map(|(p, why)| format!("\n  {p}: {why}"))
            .collect();
        let more = s.skipped_total - s.skipped.len();
        eprintln!(
            "warning: skipped {} of {} images that could not be read:{listed}{}",
            s.skipped_total,
            sources.len(),
            only(more > 0, format!("\n  … and {more} more"))
        );
    }
    let sfx = &opts.suffix;
    println!(
        "explained {} images in {:.2} s ({:.1} ms per image, surrogate{} included) → {}: per \
         image .phi.safetensors, .json, .png, .thumb.png{}; summary{sfx}.csv, index{sfx}.html \
         (gallery pages of {PAGE}), grid{sfx}.png{}",
        s.explained,
        s.seconds,
        s.seconds * 1e3 / s.explained as f64,
        only(original.is_some(), " and original".into()),
        a.out.display(),
        only(
            s.overlays > 0,
            format!(" (+ .overlay.png for the {} larger than 32×32)", s.overlays)
        ),
        only(s.explained > GRID_ROWS, format!(" (first {GRID_ROWS})"))
    );
    Ok(())
}
