//! `fastshap bench <kernel>`: prints GFLOP/s / GB/s per kernel and the adapter's name.

use crate::bench;
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum, default_value = "matmul")]
    what: What,
    /// Square matmul sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [256usize, 512, 1024, 2048])]
    sizes: Vec<usize>,
    /// Batch size for conv and attention (default 32) and whole models (default 64).
    #[arg(long)]
    batch: Option<usize>,
    /// Networks for `bench models` (comma-separated); `explain` times FastSHAP inference
    /// (`explain_batch`: explainer UNet + ResNet-18 surrogate), not in the default list.
    #[arg(long, value_delimiter = ',', default_values_t = crate::bench::models::ALL.map(String::from))]
    models: Vec<String>,
    /// Games for `bench game` (comma-separated): vit, vit-masked, resnet, resnet-masked.
    #[arg(long, value_delimiter = ',', default_values_t = crate::bench::game::GAMES.map(String::from))]
    games: Vec<String>,
    /// Timed repetitions for `bench models` (after one warm-up; `bench game`: at least 5).
    #[arg(long, default_value_t = 1)]
    reps: usize,
    /// Kernel sets to time (comma-separated: cpu-subgroup, cpu-regblock, gpu-tiled); default:
    /// every set the adapter's class runs at that size.
    #[arg(long, value_delimiter = ',')]
    kernels: Vec<String>,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum What {
    Matmul,
    Conv,
    Attention,
    Models,
    /// Surrogate-game evaluations/s (ViT and ResNet surrogates at P = 16, their real batch)
    /// beside the matmul and conv kernels' GFLOP/s of the same run; `--batch` overrides.
    Game,
    /// Cost-model probes: loads, FMAs, barriers, broadcasts, dispatches (CPU adapters).
    Probe,
    All,
}

pub fn run(a: &Args) -> Result<()> {
    let ctx = crate::gpu::ctx();
    println!(
        "adapter: {} ({:?}, {:?})",
        ctx.info.name,
        ctx.info.backend,
        ctx.kernel_class()
    );
    if !a.kernels.is_empty() {
        bench::only_kernels(&a.kernels);
    }
    let mut rows = Vec::new();
    if matches!(a.what, What::Matmul | What::All) {
        rows.extend(bench::matmul::run(&a.sizes)?);
    }
    if matches!(a.what, What::Conv | What::All) {
        rows.extend(bench::conv::run(a.batch.unwrap_or(32))?);
    }
    if matches!(a.what, What::Attention | What::All) {
        rows.extend(bench::attention::run(a.batch.unwrap_or(32))?);
    }
    if matches!(a.what, What::Probe) {
        rows.extend(bench::probe::run(1024)?);
    }
    let mut notes = Vec::new();
    if matches!(a.what, What::Game) {
        let (r, n) = bench::game::run(&a.games, a.batch, a.reps.max(5))?;
        rows.extend(r);
        notes = n;
    }
    if matches!(a.what, What::Models | What::All) {
        rows.extend(bench::models::run(
            &a.models,
            a.batch.unwrap_or(64),
            a.reps,
        )?);
    }
    bench::print_table(&rows);
    for n in notes {
        println!("{n}");
    }
    if let Some(path) = &a.json {
        crate::io::write_atomic(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    Ok(())
}
