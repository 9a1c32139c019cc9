//! `fastshap profile`: per-kernel breakdown of one training step or forward pass of a network
//! (built in, or a checkpoint), printed as a table and optionally written as JSON.

use crate::bench::game::GAMES;
use crate::bench::models::{ALL, Net};
use crate::bench::profile::{self, Pass};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in network at full size (resnet18, vit, mae, mae-classifier, unet), or one
    /// batch of a surrogate game of `fastshap bench game` (game-vit, game-vit-masked,
    /// game-resnet, game-resnet-masked; at its real batch unless --batch is given).
    #[arg(long, default_value = "resnet18")]
    model: String,
    /// Profile this checkpoint's network instead (classifier, surrogate, or a PyTorch state
    /// dict with --arch).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    #[command(flatten)]
    arch: super::model_flags::ArchArgs,
    /// What to profile: a training step, or a forward pass (inference; for `unet` that is the
    /// explainer's pass).
    #[arg(long, value_enum, default_value = "step")]
    pass: Pass,
    /// Batch (default 32; a game's own batch for game-…).
    #[arg(long)]
    batch: Option<usize>,
    /// Kernels to list (families are always all listed).
    #[arg(long, default_value_t = 25)]
    top: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    if a.batch == Some(0) {
        bail!("--batch must be at least 1");
    }
    let game = a
        .model
        .strip_prefix("game-")
        .filter(|_| a.checkpoint.is_none());
    if let Some(g) = game {
        if !GAMES.contains(&g) {
            bail!(
                "unknown game '{}'; expected game- and one of {}",
                a.model,
                GAMES.join(", ")
            );
        }
        crate::gpu::init(gpu)?;
        return finish(a, profile::run_game(g, a.batch)?);
    }
    if a.checkpoint.is_none() && !ALL.contains(&a.model.as_str()) {
        bail!(
            "unknown --model '{}'; expected one of {} or game-{{{}}}",
            a.model,
            ALL.join(", "),
            GAMES.join(",")
        );
    }
    let batch = a.batch.unwrap_or(32);
    if let Some(c) = a.checkpoint.as_ref().filter(|c| is_explainer(c)) {
        crate::gpu::init(gpu)?;
        return finish(a, profile::run_explainer(c, batch)?);
    }
    let hint = a.arch.hint()?;
    if let Some(c) = &a.checkpoint {
        crate::train::arch::resolve(c, &hint)?;
    }
    crate::gpu::init(gpu)?;
    let (net, name) = match &a.checkpoint {
        Some(c) => {
            let (m, _) = crate::train::load_classifier(c, &hint)?;
            (Net::from_model(m, batch)?, c.display().to_string())
        }
        None => (Net::named(&a.model, batch)?, a.model.clone()),
    };
    finish(a, profile::run(&net, &name, batch, a.pass)?)
}

/// Whether `path` holds a FastSHAP explainer (profiled as its explanation pass).
fn is_explainer(path: &std::path::Path) -> bool {
    crate::checkpoint::read_metadata(path)
        .is_ok_and(|m| m.contains_key(crate::fastshap::explainer::META_EXPLAINER))
}

/// Prints the report and writes its JSON.
fn finish(a: &Args, report: profile::Report) -> Result<()> {
    print!("{}", report.text(a.top));
    if let Some(path) = &a.json {
        crate::io::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
