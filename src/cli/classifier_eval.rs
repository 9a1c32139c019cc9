//! `fastshap eval`: loss, accuracy and confusion matrix of a classifier checkpoint on a test set.
//! The model is rebuilt from the checkpoint's metadata, or for a plain PyTorch state dict from
//! `--arch` and its tensors.

use crate::fastshap::compare::TestSet;
use crate::progress::Progress;
use crate::train::{eval, load_classifier};
use anyhow::{Result, ensure};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Checkpoint (e.g. RUN/best.safetensors, or a PyTorch state dict with --arch).
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    arch: super::model_flags::ArchArgs,
    /// CIFAR-10 source or `embedded`; its test split is evaluated.
    #[arg(long, default_value = "embedded")]
    data: String,
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Evaluate on this many test images, spread over the classes (default: all).
    #[arg(long)]
    limit: Option<usize>,
    /// Print only the result (no progress, no throughput line).
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    ensure!(a.batch_size >= 1, "--batch-size must be at least 1");
    ensure!(a.limit != Some(0), "--limit must be at least 1");
    let hint = a.arch.hint()?;
    // The network is known (or the error names the file and the flag) before the GPU starts.
    crate::train::arch::resolve(&a.model, &hint)?;
    crate::gpu::init(gpu)?;
    let (model, how) = load_classifier(&a.model, &hint)?;
    if how.inferred && !a.quiet {
        println!(
            "{}: no fastshap metadata; built {} {} from its tensors",
            a.model.display(),
            how.spec.arch,
            how.spec.config
        );
    }
    let (_, test) = crate::data::load_source(&a.data)?;
    let test = TestSet::new(&test, a.limit).data;
    let k = model.classes().unwrap_or(0);
    ensure!(
        k == test.num_classes(),
        "{} predicts {k} classes but the data has {}",
        a.model.display(),
        test.num_classes()
    );
    let mut progress = Progress::new("eval", test.len(), "images", a.quiet);
    let e = eval::evaluate_with(&model, &test, a.batch_size, &mut progress)?;
    progress.finish();
    println!(
        "{}: {} test images, loss {:.4}, accuracy {:.4}",
        a.model.display(),
        test.len(),
        e.loss,
        e.accuracy
    );
    print!("{}", eval::format_confusion(&e.confusion, &test.classes));
    Ok(())
}
