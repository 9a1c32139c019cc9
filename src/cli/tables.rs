//! `fastshap tables`: the paper's Table 2 (each original's loss and accuracy on the test set,
//! evaluated now) and Table 1 (each original-by-surrogate pair's validation CE, accuracy and KL
//! at the surrogate run's best epoch) as `table2.md/.csv` and `table1.md/.csv`, with the
//! paper's numbers beside ours for rows whose names match the paper's ("ViT", "ResNet by ViT").

use crate::fastshap::compare::TestSet;
use crate::fastshap::surrogate::load_original;
use crate::fastshap::tables::{TABLE1_NOTES, best_surrogate_epoch, parse_named, table1, table2};
use crate::progress::Progress;
use crate::train::eval;
use crate::train::run_dir::resolve_checkpoint;
use anyhow::{Context, Result, ensure};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Originals for Table 2 as NAME=RUN (checkpoint or run directory), comma-separated.
    #[arg(long, value_delimiter = ',')]
    originals: Vec<String>,
    /// Surrogate runs for Table 1 as NAME=RUN, e.g. "ResNet by ViT=runs/sur-rv", comma-separated.
    #[arg(long, value_delimiter = ',')]
    surrogates: Vec<String>,
    /// CIFAR-10 source or `embedded`; Table 2 uses its test split.
    #[arg(long, default_value = "embedded")]
    data: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Evaluate the originals on this many test images, spread over the classes (default: all).
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// No progress and no throughput line.
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    ensure!(
        !a.originals.is_empty() || !a.surrogates.is_empty(),
        "nothing to tabulate: give --originals NAME=RUN,... and/or --surrogates NAME=RUN,..."
    );
    ensure!(a.batch_size >= 1, "--batch-size must be at least 1");
    ensure!(a.limit != Some(0), "--limit must be at least 1");
    let originals = a
        .originals
        .iter()
        .map(|s| {
            let (n, p) = parse_named(s, "--originals")?;
            Ok((
                n.clone(),
                resolve_checkpoint(&p, &format!("original {n:?}"))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // Read every surrogate run before any GPU work, so a bad one fails at once.
    let surrogates = a
        .surrogates
        .iter()
        .map(|s| {
            let (n, p) = parse_named(s, "--surrogates")?;
            let m = best_surrogate_epoch(&p).with_context(|| format!("surrogate {n:?}"))?;
            Ok((n, m))
        })
        .collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;

    if !originals.is_empty() {
        crate::gpu::init(gpu)?;
        let (_, full) = crate::data::load_source(&a.data)?;
        let test = TestSet::new(&full, a.limit);
        let mut rows = Vec::new();
        let n = originals.len() * test.data.len();
        let mut progress = Progress::new("tables", n, "images", a.quiet);
        for (name, path) in &originals {
            let model = load_original(path).with_context(|| format!("original {name:?}"))?;
            let e = eval::evaluate_with(&model, &test.data, a.batch_size, &mut progress)
                .with_context(|| format!("original {name:?}"))?;
            rows.push((name.clone(), test.data.len(), e));
        }
        progress.finish();
        let t = table2(&rows);
        let notes = format!(
            "Ours on {} test images of {}; the paper's on the 10,000 CIFAR-10 test images.",
            test.data.len(),
            a.data
        );
        t.write(&a.out, "table2", "Table 2: original models", &notes)?;
        println!("Table 2\n{}", t.markdown());
    }
    if !surrogates.is_empty() {
        let t = table1(&surrogates);
        t.write(&a.out, "table1", "Table 1: surrogates", TABLE1_NOTES)?;
        println!("Table 1\n{}", t.markdown());
    }
    println!("tables written to {}", a.out.display());
    Ok(())
}
