//! `fastshap compare`: the paper's task 2 — the four agreement subsets of originals A and B on
//! the test set (Table 3 as `table3.md` / `table3.csv`, indices in `subsets.json`) and, with
//! explainers, `task2-<subset>.png` showing a few images of each subset through both — and
//! task 3: `task3.png`, the same images through A's explainer and `--explainer-c` (A explained
//! through a different surrogate).

use crate::fastshap::compare::{
    Explained, Predictions, SUBSET_SLUGS, SUBSETS, TestSet, classes_of, partition, pick,
    predict_with, side_by_side, table3,
};
use crate::fastshap::explainer::Explainer;
use crate::fastshap::surrogate::{Surrogate, load_original_as};
use crate::fastshap::tables::resolve_checkpoint;
use crate::progress::Progress;
use crate::train::arch::{ArchFlags, ArchHint, ClassifierArch, resolve};
use crate::viz::{HeatmapOptions, save_png};
use anyhow::{Context, Result, bail, ensure};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Original A: a classifier checkpoint or a run directory with best.safetensors.
    #[arg(long)]
    a: PathBuf,
    /// Original B, the same way.
    #[arg(long)]
    b: PathBuf,
    /// A's architecture when it is a plain PyTorch state dict (see `eval --arch`).
    #[arg(long, value_enum)]
    arch_a: Option<ClassifierArch>,
    /// Attention heads of A (a vit / mae-classifier state dict).
    #[arg(long)]
    heads_a: Option<usize>,
    /// A JSON object of config fields for A, replacing inferred ones.
    #[arg(long)]
    arch_config_a: Option<PathBuf>,
    /// B's architecture when it is a plain PyTorch state dict.
    #[arg(long, value_enum)]
    arch_b: Option<ClassifierArch>,
    /// Attention heads of B.
    #[arg(long)]
    heads_b: Option<usize>,
    /// A JSON object of config fields for B.
    #[arg(long)]
    arch_config_b: Option<PathBuf>,
    /// Names in tables and captions (default: the run directory's or file's name).
    #[arg(long)]
    name_a: Option<String>,
    #[arg(long)]
    name_b: Option<String>,
    /// CIFAR-10 source or `embedded`; its test split is partitioned.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// An explainer of A (checkpoint or run directory); its surrogate comes from its metadata.
    #[arg(long)]
    explainer_a: Option<PathBuf>,
    /// An explainer of B (with --explainer-a: task 2's heatmaps).
    #[arg(long)]
    explainer_b: Option<PathBuf>,
    /// An explainer of A through a different surrogate (with --explainer-a: task 3).
    #[arg(long)]
    explainer_c: Option<PathBuf>,
    /// Images shown per subset.
    #[arg(long, default_value_t = 4)]
    per_subset: usize,
    /// Use this many test images, spread over the classes (default: all).
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// A colour scale shared by all heatmaps (default: each row's own max |φ|).
    #[arg(long)]
    vmax: Option<f64>,
    /// No progress and no throughput line.
    #[arg(long)]
    quiet: bool,
}

/// "resnet" for `runs/resnet`, `runs/resnet/best.safetensors` or `resnet.safetensors`.
pub(super) fn run_name(path: &Path) -> String {
    let p = if path.file_name().and_then(|n| n.to_str()) == Some(crate::train::state::BEST) {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// An explainer and the surrogate its metadata names.
struct Loaded {
    explainer: Explainer,
    surrogate: Surrogate,
    surrogate_path: PathBuf,
}

fn load_explainer(path: &Path, what: &str) -> Result<Loaded> {
    let (explainer, sur) = Explainer::load(path).with_context(|| what.to_string())?;
    ensure!(
        sur.is_file(),
        "{what}: its surrogate {} (recorded in {}) does not exist",
        sur.display(),
        path.display()
    );
    let surrogate = Surrogate::load(&sur).with_context(|| format!("{what}'s surrogate"))?;
    Ok(Loaded {
        explainer,
        surrogate,
        surrogate_path: sur,
    })
}

/// Notes (does not fail) when an explainer's surrogate was trained from another original
/// than the one it is shown with: paths may have moved since training.
fn note_original(l: &Loaded, original: &Path, what: &str) {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    match &l.surrogate.original {
        Some(o) if canon(o).is_some() && canon(o) == canon(original) => {}
        Some(o) => eprintln!(
            "note: {what}'s surrogate was trained from {}, not {}",
            o.display(),
            original.display()
        ),
        None => {}
    }
}

fn explained<'a>(l: &'a Loaded, name: &str, p: &'a Predictions) -> Explained<'a> {
    Explained {
        name: format!("{name} via surrogate {}", run_name(&l.surrogate_path)),
        predictions: p,
        explainer: &l.explainer,
        surrogate: &l.surrogate,
    }
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    ensure!(a.batch_size >= 1, "--batch-size must be at least 1");
    ensure!(a.per_subset >= 1, "--per-subset must be at least 1");
    ensure!(a.limit != Some(0), "--limit must be at least 1");
    if let Some(v) = a.vmax {
        ensure!(v.is_finite() && v > 0.0, "--vmax must be positive, got {v}");
    }
    match (&a.explainer_a, &a.explainer_b, &a.explainer_c) {
        (None, Some(_), _) => bail!("--explainer-b needs --explainer-a (task 2 shows both)"),
        (None, _, Some(_)) => bail!("--explainer-c needs --explainer-a (task 3 compares them)"),
        _ => {}
    }
    let path_a = resolve_checkpoint(&a.a, "--a")?;
    let path_b = resolve_checkpoint(&a.b, "--b")?;
    let exp =
        |p: &Option<PathBuf>, f: &str| p.as_ref().map(|p| resolve_checkpoint(p, f)).transpose();
    let (exp_a, exp_b, exp_c) = (
        exp(&a.explainer_a, "--explainer-a")?,
        exp(&a.explainer_b, "--explainer-b")?,
        exp(&a.explainer_c, "--explainer-c")?,
    );
    let name_a = a.name_a.clone().unwrap_or_else(|| run_name(&a.a));
    let name_b = a.name_b.clone().unwrap_or_else(|| run_name(&a.b));

    let flags = |arch, heads, config| ArchFlags {
        arch,
        heads,
        config,
    };
    let hint_a = ArchHint::new(
        a.arch_a,
        a.heads_a,
        a.arch_config_a.as_deref(),
        flags("--arch-a", "--heads-a", "--arch-config-a"),
    )?;
    let hint_b = ArchHint::new(
        a.arch_b,
        a.heads_b,
        a.arch_config_b.as_deref(),
        flags("--arch-b", "--heads-b", "--arch-config-b"),
    )?;
    // Both networks are known (or the error names the file and the flag) before the GPU starts.
    resolve(&path_a, &hint_a).context("--a")?;
    resolve(&path_b, &hint_b).context("--b")?;
    crate::gpu::init(gpu)?;
    let model_a = load_original_as(&path_a, &hint_a).context("--a")?;
    let model_b = load_original_as(&path_b, &hint_b).context("--b")?;
    let (ka, kb) = (classes_of(&model_a)?, classes_of(&model_b)?);
    ensure!(
        ka == kb,
        "A ({}) predicts {ka} classes but B ({}) predicts {kb}: they must classify the same classes",
        path_a.display(),
        path_b.display()
    );
    let (_, full) = crate::data::load_source(&a.data)?;
    ensure!(
        full.num_classes() == ka,
        "the models predict {ka} classes but the data has {}",
        full.num_classes()
    );
    let load = |p: &Option<PathBuf>, what: &str, original: &Path| -> Result<Option<Loaded>> {
        let Some(p) = p else { return Ok(None) };
        let l = load_explainer(p, what)?;
        ensure!(
            l.explainer.config.unet.classes == ka,
            "{what} explains {} classes but the originals predict {ka}",
            l.explainer.config.unet.classes
        );
        note_original(&l, original, what);
        Ok(Some(l))
    };
    let la = load(&exp_a, "--explainer-a", &path_a)?;
    let lb = load(&exp_b, "--explainer-b", &path_b)?;
    let lc = load(&exp_c, "--explainer-c", &path_a)?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;

    let t0 = Instant::now();
    let test = TestSet::new(&full, a.limit);
    let mut progress = Progress::new("compare", 2 * test.data.len(), "images", a.quiet);
    let pa = predict_with(&model_a, &test.data, a.batch_size, &mut progress)?;
    let pb = predict_with(&model_b, &test.data, a.batch_size, &mut progress)?;
    progress.finish();
    let subsets = partition(&test.data.labels, &pa.pred, &pb.pred)?;
    let t = table3(&subsets);
    let notes = format!(
        "A = {name_a} ({}), B = {name_b} ({}); {} test images of {}. The paper's are ResNet18 (A) \
         vs ViT (B) on the 10,000 CIFAR-10 test images.",
        path_a.display(),
        path_b.display(),
        test.data.len(),
        a.data
    );
    t.write(
        &a.out,
        "table3",
        "Table 3: agreement subsets of A and B",
        &notes,
    )?;
    let full_idx = |s: &[usize]| s.iter().map(|&i| test.index[i]).collect::<Vec<_>>();
    let info = json!({
        "a": {"name": name_a, "checkpoint": path_a.to_string_lossy(),
              "accuracy": (subsets[2].len() + subsets[3].len()) as f64 / test.data.len() as f64},
        "b": {"name": name_b, "checkpoint": path_b.to_string_lossy(),
              "accuracy": (subsets[1].len() + subsets[3].len()) as f64 / test.data.len() as f64},
        "data": a.data,
        "test_images": test.data.len(),
        "subsets": SUBSET_SLUGS.iter().zip(&subsets)
            .map(|(s, v)| (s.to_string(), json!(full_idx(v))))
            .collect::<serde_json::Map<_, _>>(),
    });
    crate::io::write_atomic(
        &a.out.join("subsets.json"),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )?;
    println!("{}", t.markdown());

    let mut opts = HeatmapOptions::new(&test.data.classes);
    opts.vmax = a.vmax;
    let picked: Vec<Vec<usize>> = subsets.iter().map(|s| pick(s, a.per_subset)).collect();
    let mut written = Vec::new();
    if let (Some(la), Some(lb)) = (&la, &lb) {
        let (ea, eb) = (explained(la, &name_a, &pa), explained(lb, &name_b, &pb));
        for (i, idx) in picked.iter().enumerate() {
            if idx.is_empty() {
                println!("{}: no images, no heatmaps", SUBSETS[i]);
                continue;
            }
            let title = format!(
                "{} (A = {name_a}, B = {name_b}): {} of {} test images",
                SUBSETS[i],
                subsets[i].len(),
                test.data.len()
            );
            let img = side_by_side(&title, &ea, &eb, &test, idx, &opts)?;
            let path = a.out.join(format!("task2-{}.png", SUBSET_SLUGS[i]));
            save_png(&img, &path)?;
            written.push(path);
        }
    }
    if let (Some(la), Some(lc)) = (&la, &lc) {
        let idx: Vec<usize> = picked.concat();
        let (ea, ec) = (explained(la, &name_a, &pa), explained(lc, &name_a, &pa));
        let title = format!("{name_a} explained through two surrogates");
        let img = side_by_side(&title, &ea, &ec, &test, &idx, &opts)?;
        let path = a.out.join("task3.png");
        save_png(&img, &path)?;
        written.push(path);
    }
    println!(
        "{} test images compared in {:.1} s → {}: table3.md, table3.csv, subsets.json{}",
        test.data.len(),
        t0.elapsed().as_secs_f64(),
        a.out.display(),
        written
            .iter()
            .map(|p| format!(", {}", p.file_name().unwrap_or_default().to_string_lossy()))
            .collect::<String>()
    );
    Ok(())
}
