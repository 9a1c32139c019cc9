//! `fastshap eval`: loss, accuracy and confusion matrix of a classifier checkpoint on a test set.
//! The model is rebuilt from the checkpoint's metadata.

use crate::checkpoint;
use crate::nn::init_rng;
use crate::train::{Model, eval};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Checkpoint (e.g. RUN/best.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// CIFAR-10 source or `embedded`; its test split is evaluated.
    #[arg(long, default_value = "embedded")]
    data: String,
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    if a.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let meta = checkpoint::read_metadata(&a.model)?;
    crate::gpu::init(gpu)?;
    let model = Model::from_metadata(&meta, &mut init_rng(0))?;
    if !model.is_classifier() {
        bail!(
            "{} is an MAE pre-training checkpoint; eval needs a classifier",
            a.model.display()
        );
    }
    checkpoint::load(&model, &a.model)?;
    let (_, test) = crate::data::load_source(&a.data)?;
    let e = eval::evaluate(&model, &test, a.batch_size)?;
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
