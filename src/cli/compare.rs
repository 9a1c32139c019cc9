//! `fastshap compare`: the paper's task 2 — the four agreement subsets of originals A and B on
//! the test set (Table 3 as `table3.md` / `table3.csv`, indices in `subsets.json`) and, with
//! explainers, `task2-<subset>.png` showing a few images of each subset through both — and
//! task 3: `task3.png`, the same images through A's explainer and `--explainer-c` (A explained
//! through a different surrogate). The work is [`crate::fastshap::compare::CompareJob`]'s.

use crate::fastshap::compare::{CompareJob, OriginalArg};
use crate::train::arch::ClassifierArch;
use anyhow::Result;
use std::path::PathBuf;

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

impl Args {
    fn job(&self) -> CompareJob {
        let original = |path: &PathBuf, arch, heads, config: &Option<PathBuf>, name| OriginalArg {
            path: path.clone(),
            arch,
            heads,
            arch_config: config.clone(),
            name,
        };
        CompareJob {
            a: original(
                &self.a,
                self.arch_a,
                self.heads_a,
                &self.arch_config_a,
                self.name_a.clone(),
            ),
            b: original(
                &self.b,
                self.arch_b,
                self.heads_b,
                &self.arch_config_b,
                self.name_b.clone(),
            ),
            explainers: [
                self.explainer_a.clone(),
                self.explainer_b.clone(),
                self.explainer_c.clone(),
            ],
            data: self.data.clone(),
            out: self.out.clone(),
            per_subset: self.per_subset,
            limit: self.limit,
            batch_size: self.batch_size,
            vmax: self.vmax,
            quiet: self.quiet,
        }
    }
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    let job = a.job();
    let checked = job.check()?;
    crate::gpu::init(gpu)?;
    let c = checked.table3()?;
    println!("{}", c.table.markdown());
    let f = c.figures()?;
    for s in &f.empty {
        println!("{s}: no images, no heatmaps");
    }
    println!(
        "{} test images compared in {:.1} s → {}: table3.md, table3.csv, subsets.json{}",
        c.test_images(),
        c.started.elapsed().as_secs_f64(),
        a.out.display(),
        (f.written.iter())
            .map(|p| format!(", {}", p.file_name().unwrap_or_default().to_string_lossy()))
            .collect::<String>()
    );
    Ok(())
}
