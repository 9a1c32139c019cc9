//! `fastshap explain`: Shapley-value heatmaps from a trained explainer. Per image it writes
//! `<name>.phi.safetensors` (φ [P, K] as `phi`, for numpy/torch users), `<name>.json` (the
//! surrogate's and, when its checkpoint is known and present, the original's probabilities on
//! the full image) and `<name>.png` (image + one panel per class); `grid.png` holds all images.

use crate::data::{self, CIFAR10_CLASSES, Dataset, IMAGE_BYTES, SIDE};
use crate::fastshap::explainer::{Explainer, explain_batch};
use crate::fastshap::surrogate::Surrogate;
use crate::viz::{HeatmapOptions, HeatmapRow, heatmap_grid, save_png};
use crate::{Tensor, no_grad};
use anyhow::{Context, Result, bail, ensure};
use safetensors::{Dtype, tensor::TensorView};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The explainer's checkpoint (from `fastshap explainer`).
    #[arg(long)]
    explainer: PathBuf,
    /// The surrogate's checkpoint (default: the one the explainer was trained with).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// CIFAR-10 source or `embedded`; `--indices` pick images of its test split.
    #[arg(long)]
    data: Option<String>,
    /// Test-split indices, e.g. `0,5,7` (with --data).
    #[arg(long, value_delimiter = ',')]
    indices: Vec<usize>,
    /// Image files (PNG/JPEG; resized to 32×32 if needed) instead of --data.
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
}

/// One image to explain: uint8 CHW, a file-name stem and a title.
struct Item {
    image: Vec<u8>,
    name: String,
    title: String,
    source: serde_json::Value,
}

fn read_image(path: &Path) -> Result<Vec<u8>> {
    let img = image::open(path)
        .with_context(|| format!("cannot read image {}", path.display()))?
        .to_rgb8();
    let img = if img.dimensions() != (SIDE as u32, SIDE as u32) {
        image::imageops::resize(
            &img,
            SIDE as u32,
            SIDE as u32,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let mut chw = vec![0u8; IMAGE_BYTES];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            chw[c * SIDE * SIDE + y as usize * SIDE + x as usize] = p.0[c];
        }
    }
    Ok(chw)
}

fn items(a: &Args) -> Result<(Vec<Item>, Option<Dataset>)> {
    match (&a.data, a.images.is_empty()) {
        (Some(_), false) => bail!("give either --data with --indices or image files, not both"),
        (None, true) => {
            bail!("nothing to explain: give --data PATH --indices 0,5,7 or image files")
        }
        (Some(d), true) => {
            ensure!(!a.indices.is_empty(), "--data needs --indices (e.g. 0,5,7)");
            let (_, test) = crate::data::load_source(d)?;
            let mut out = Vec::new();
            for &i in &a.indices {
                ensure!(
                    i < test.len(),
                    "--indices: {i} is out of range (the test split has {} images)",
                    test.len()
                );
                out.push(Item {
                    image: test.image(i).to_vec(),
                    name: format!("test-{i}"),
                    title: format!("#{i} {}", test.class_name(i)),
                    source: json!({"data": d, "index": i, "label": test.class_name(i)}),
                });
            }
            Ok((out, Some(test)))
        }
        (None, false) => {
            ensure!(a.indices.is_empty(), "--indices needs --data");
            let mut out = Vec::new();
            for (n, p) in a.images.iter().enumerate() {
                let stem = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| format!("image-{n}"));
                out.push(Item {
                    image: read_image(p)?,
                    name: format!("{n}-{stem}"),
                    title: stem,
                    source: json!({"file": p.to_string_lossy()}),
                });
            }
            Ok((out, None))
        }
    }
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

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    ensure!(a.batch_size >= 1, "--batch-size must be at least 1");
    match (&a.data, a.images.is_empty()) {
        (Some(_), false) => bail!("give either --data with --indices or image files, not both"),
        (None, true) => {
            bail!("nothing to explain: give --data PATH --indices 0,5,7 or image files")
        }
        _ => {}
    }
    if let Some(v) = a.vmax {
        ensure!(v.is_finite() && v > 0.0, "--vmax must be positive, got {v}");
    }
    crate::gpu::init(gpu)?;
    let (explainer, recorded) = Explainer::load(&a.explainer)?;
    let sur_path = a.surrogate.clone().unwrap_or(recorded);
    ensure!(
        sur_path.exists(),
        "surrogate checkpoint {} not found (pass --surrogate)",
        sur_path.display()
    );
    let surrogate = Surrogate::load(&sur_path)?;
    let original = surrogate.load_original()?;
    let (items, _) = items(a)?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let classes: Vec<String> = if explainer.classes.len() == explainer.config.unet.classes {
        explainer.classes.clone()
    } else {
        CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
    };
    let k = classes.len();

    let t0 = Instant::now();
    let mut phis: Vec<Vec<f64>> = Vec::new();
    let mut sprobs: Vec<Vec<f64>> = Vec::new();
    let mut oprobs: Vec<Option<Vec<f64>>> = Vec::new();
    for chunk in items.chunks(a.batch_size) {
        let mut x = Vec::with_capacity(chunk.len() * IMAGE_BYTES);
        for it in chunk {
            data::normalize_into(&it.image, &mut x);
        }
        let x = Tensor::from_slice(&x, &[chunk.len(), 3, SIDE, SIDE])?;
        let ex = explain_batch(&explainer, &surrogate, &x)?;
        let op = match &original {
            Some((_, m)) => {
                let _g = no_grad();
                Some(m.logits(&x, false)?.softmax()?.to_vec()?)
            }
            None => None,
        };
        for i in 0..chunk.len() {
            phis.push(ex.phi_of(i).iter().map(|&v| v as f64).collect());
            sprobs.push(
                ex.probs[i * k..(i + 1) * k]
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
            );
            oprobs.push(
                op.as_ref()
                    .map(|v| v[i * k..(i + 1) * k].iter().map(|&v| v as f64).collect()),
            );
        }
        // Per-image files for this chunk.
        for (i, it) in chunk.iter().enumerate() {
            let j = phis.len() - chunk.len() + i;
            let (p, phi) = (ex.players, ex.phi_of(i));
            save_phi(
                &a.out.join(format!("{}.phi.safetensors", it.name)),
                phi,
                p,
                k,
                &ex.probs[i * k..(i + 1) * k],
            )?;
            let argmax = |v: &[f64]| (0..v.len()).max_by(|&x, &y| v[x].total_cmp(&v[y]));
            let info = json!({
                "source": it.source,
                "classes": classes,
                "superpixel": explainer.superpixel(),
                "players": p,
                "link": explainer.config.link,
                "normalization": explainer.config.normalization,
                "surrogate": sur_path.to_string_lossy(),
                "surrogate_probs": sprobs[j],
                "surrogate_prediction": argmax(&sprobs[j]).map(|c| &classes[c]),
                "original": original.as_ref().map(|(p, _)| p.to_string_lossy()),
                "original_probs": oprobs[j],
                "original_prediction": oprobs[j].as_deref().and_then(argmax).map(|c| &classes[c]),
                "grand": &ex.grand[i * k..(i + 1) * k],
                "null": ex.null,
                "phi_file": format!("{}.phi.safetensors", it.name),
            });
            crate::io::write_atomic(
                &a.out.join(format!("{}.json", it.name)),
                serde_json::to_string_pretty(&info)?.as_bytes(),
            )?;
        }
    }
    let secs = t0.elapsed().as_secs_f64();

    let mut opts = HeatmapOptions::new(&classes);
    opts.vmax = a.vmax;
    let rows: Vec<HeatmapRow> = items
        .iter()
        .enumerate()
        .map(|(j, it)| HeatmapRow {
            image: &it.image,
            phi: &phis[j],
            probs: oprobs[j].as_deref(),
            surrogate_probs: Some(&sprobs[j]),
            title: it.title.clone(),
        })
        .collect();
    for (row, it) in rows.iter().zip(&items) {
        save_png(
            &heatmap_grid(std::slice::from_ref(row), &opts)?,
            &a.out.join(format!("{}.png", it.name)),
        )?;
    }
    save_png(&heatmap_grid(&rows, &opts)?, &a.out.join("grid.png"))?;
    println!(
        "explained {} images in {:.2} s ({:.1} ms per image, surrogate{} included) → {}: \
         per image .phi.safetensors, .json, .png; grid.png",
        items.len(),
        secs,
        secs * 1e3 / items.len() as f64,
        if original.is_some() {
            " and original"
        } else {
            ""
        },
        a.out.display()
    );
    Ok(())
}
