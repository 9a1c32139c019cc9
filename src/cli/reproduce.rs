//! `fastshap reproduce`: the paper's whole experiment in one resumable command (see
//! [`crate::reproduce`]); `fastshap demo` is its tiny preset on the embedded data.

use crate::reproduce::{Plan, ReproOptions, ReproPreset, reproduce};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// smoke (CI, ~1 min on a CPU), tiny (minutes on a CPU), short (full models, minutes on a
    /// GPU) or paper (the paper's schedules, hours on a GPU).
    #[arg(long, value_enum, default_value = "tiny")]
    preset: ReproPreset,
    /// CIFAR-10 source (directory, archive, compact file) or `embedded`.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Output directory; rerun with the same one to resume an interrupted reproduction.
    #[arg(long)]
    out: PathBuf,
    /// Print only the stage lines.
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    crate::gpu::init(gpu)?;
    let report = reproduce(
        &Plan::new(a.preset),
        &a.data,
        &a.out,
        &ReproOptions { quiet: a.quiet },
    )?;
    println!("open {} in a browser", report.display());
    Ok(())
}
