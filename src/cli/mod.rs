//! Command-line interface: one file per subcommand; each parses, calls the library, prints.

mod bench;
mod compare;
mod demo;
mod devices;
mod eval;
mod evaluate;
mod explain;
mod explainer;
mod profile;
mod reproduce;
mod surrogate;
mod tables;
mod train;
mod web;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fastshap",
    version,
    about = "Shapley-value explanations of image classifiers on the GPU"
)]
pub struct Cli {
    /// Adapter to use: an index from `fastshap devices` or part of its name (env FASTSHAP_ADAPTER).
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Graphics backend: vulkan, metal, dx12 or gl (env FASTSHAP_BACKEND).
    #[arg(long, global = true, value_parser = ["vulkan", "metal", "dx12", "gl"])]
    backend: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List GPU adapters and the limits that matter.
    Devices,
    /// Microbenchmarks (GFLOP/s, GB/s) on the selected adapter.
    Bench(bench::Args),
    /// The tiny reproduction of the paper on the embedded data into ./fastshap-demo (a device
    /// self-check first); `reproduce` runs any preset on any data.
    Demo(demo::Args),
    /// The paper's whole experiment as one resumable pipeline: originals, surrogates,
    /// explainers, Tables 1-3, figures, evaluation and a self-contained report.html.
    Reproduce(Box<reproduce::Args>),
    /// Rewrite DIR/report.html from what a reproduction (finished, running or interrupted) left.
    Report {
        /// The reproduction's --out directory.
        dir: std::path::PathBuf,
    },
    /// Per-kernel time of one training step or forward pass (launches, ms, %, GFLOP/s, GB/s).
    Profile(Box<profile::Args>),
    /// Train a classifier or pre-train an MAE with the paper's recipe (see --help for options).
    Train(Box<train::Args>),
    /// Loss, accuracy and confusion matrix of a classifier checkpoint on a test set.
    Eval(eval::Args),
    /// Train a surrogate (image + mask channel) of an original classifier on masked inputs.
    Surrogate(Box<surrogate::Args>),
    /// Train the FastSHAP UNet explainer of a surrogate.
    Explainer(Box<explainer::Args>),
    /// Shapley-value heatmaps (PNG), φ files and probabilities from a trained explainer.
    Explain(Box<explain::Args>),
    /// Agreement subsets of two originals (Table 3) and their heatmaps side by side (tasks 2, 3).
    Compare(Box<compare::Args>),
    /// Tables 1 (surrogates) and 2 (originals) as Markdown and CSV beside the paper's numbers.
    Tables(Box<tables::Args>),
    /// Test hook (hidden): writes BYTES bytes of FILL to PATH with the atomic writer, so a test
    /// can kill a writer midway and check the old file survives.
    #[command(hide = true, name = "__write-atomic")]
    WriteAtomic {
        path: std::path::PathBuf,
        bytes: usize,
        fill: u8,
    },
    /// Explainer error against exact/KernelSHAP Shapley values, inclusion/exclusion AUCs,
    /// timing and attention rollout, as Markdown/CSV tables and plots.
    Evaluate(Box<evaluate::Args>),
    /// A static site that explains dropped images in the browser, on the visitor's GPU
    /// (WebGPU): index.html, the wasm engine and the checkpoints.
    Web(Box<web::Args>),
}

/// Fault injection for tests (hidden flags of the training commands).
#[derive(clap::Args, Debug, Default)]
pub(crate) struct Faults {
    /// Make the loss NaN at this global step (with --fault-nan-op: that op's output).
    #[arg(long, hide = true)]
    fault_nan_at_step: Option<u64>,
    /// The op --fault-nan-at-step poisons: OP, OP@LAYER or grad:OP[@LAYER].
    #[arg(long, hide = true, requires = "fault_nan_at_step")]
    fault_nan_op: Option<crate::autograd::trace::Fault>,
}

impl Faults {
    /// Run options with these faults.
    pub(crate) fn run_options(
        &self,
        quiet: bool,
        stop_after_epoch: Option<usize>,
    ) -> crate::train::RunOptions {
        crate::train::RunOptions {
            quiet,
            stop_after_epoch,
            nan_at_step: self.fault_nan_at_step,
            nan_op: self.fault_nan_op.clone(),
        }
    }
}

/// A training command's config, run directory and resume state: read from `--resume DIR`, or
/// built from the flags for a new run into `--out` (bad settings fail before any work).
pub(crate) fn config_or_resume<C: Clone>(
    resume: Option<&std::path::Path>,
    out: Option<&std::path::Path>,
    read: impl FnOnce(&std::path::Path) -> anyhow::Result<crate::train::state::Resumed<C>>,
    build: impl FnOnce() -> anyhow::Result<C>,
) -> anyhow::Result<(
    C,
    std::path::PathBuf,
    Option<crate::train::state::Resumed<C>>,
)> {
    match (resume, out) {
        (Some(dir), _) => {
            let r = read(dir)?;
            Ok((r.config.clone(), dir.to_path_buf(), Some(r)))
        }
        (None, Some(out)) => Ok((build()?, out.to_path_buf(), None)),
        (None, None) => anyhow::bail!("--out DIR is required (where checkpoints and metrics go)"),
    }
}

/// How to build a classifier checkpoint that has no fastshap metadata (a plain PyTorch
/// `state_dict` saved with safetensors): everything else is read from its tensors.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct ArchArgs {
    /// The architecture of a checkpoint without fastshap metadata (a plain PyTorch state dict);
    /// widths, depth, blocks, patch size, classes and input channels come from its tensors.
    #[arg(long, value_enum)]
    arch: Option<crate::train::ClassifierArch>,
    /// Attention heads of a vit / mae-classifier state dict (the weights cannot tell).
    #[arg(long)]
    heads: Option<usize>,
    /// A JSON object of config fields that replace the inferred ones, e.g. {"heads": 12}.
    #[arg(long)]
    arch_config: Option<std::path::PathBuf>,
}

impl ArchArgs {
    pub(crate) fn hint(&self) -> anyhow::Result<crate::train::ArchHint> {
        crate::train::ArchHint::new(
            self.arch,
            self.heads,
            self.arch_config.as_deref(),
            Default::default(),
        )
    }
}

/// The original an explanation is of: `--original` (with `--arch` for a state dict), else the
/// one `surrogate` was trained from when its file is still there.
/// An explainer checkpoint and its surrogate: the one given, else the one the explainer
/// recorded at training time (one clear error when that file is gone). Shared by `explain`,
/// `evaluate` and `web`.
pub(crate) fn explainer_and_surrogate(
    explainer: &std::path::Path,
    surrogate: Option<&std::path::Path>,
) -> anyhow::Result<(
    crate::fastshap::Explainer,
    crate::fastshap::Surrogate,
    std::path::PathBuf,
)> {
    let (explainer, recorded) = crate::fastshap::Explainer::load(explainer)?;
    let path = surrogate.map_or(recorded, std::path::Path::to_path_buf);
    anyhow::ensure!(
        path.exists(),
        "surrogate checkpoint {} not found (pass --surrogate)",
        path.display()
    );
    let surrogate = crate::fastshap::Surrogate::load(&path)?;
    Ok((explainer, surrogate, path))
}

pub(crate) fn original_of(
    surrogate: &crate::fastshap::Surrogate,
    original: Option<&std::path::Path>,
    arch: &ArchArgs,
) -> anyhow::Result<Option<(std::path::PathBuf, crate::train::Model)>> {
    let Some(path) = original else {
        anyhow::ensure!(
            arch.arch.is_none() && arch.heads.is_none() && arch.arch_config.is_none(),
            "--arch, --heads and --arch-config describe --original; give --original too"
        );
        return surrogate.load_original();
    };
    let model = crate::fastshap::surrogate::load_original_as(path, &arch.hint()?)?;
    let (k, ks) = (model.classes().unwrap_or(0), surrogate.classes.len());
    anyhow::ensure!(
        k == ks,
        "--original {} predicts {k} classes but the surrogate {ks}",
        path.display()
    );
    Ok(Some((path.to_path_buf(), model)))
}

impl Cli {
    fn gpu_options(&self) -> crate::gpu::Options {
        let env = crate::gpu::Options::from_env();
        crate::gpu::Options {
            adapter: self.adapter.clone().or(env.adapter),
            backend: self.backend.clone().or(env.backend),
            kernel_class: None,
        }
    }
}

/// Runs the CLI; returns the process exit code. Errors print one clear line (with causes).
pub fn main() -> i32 {
    let cli = Cli::parse();
    let opts = cli.gpu_options();
    let result = match &cli.command {
        Command::Devices => devices::run(&opts),
        Command::Bench(a) => crate::gpu::init(&opts).and_then(|_| bench::run(a)),
        Command::Demo(a) => demo::run(a, &opts),
        Command::Reproduce(a) => reproduce::run(a, &opts),
        Command::Report { dir } => crate::report::write_report(dir).map(|p| {
            println!("wrote {}", p.display());
        }),
        Command::Profile(a) => profile::run(a, &opts),
        Command::Train(a) => train::run(a, &opts),
        Command::Eval(a) => eval::run(a, &opts),
        Command::Surrogate(a) => surrogate::run(a, &opts),
        Command::Explainer(a) => explainer::run(a, &opts),
        Command::Explain(a) => explain::run(a, &opts),
        Command::Web(a) => web::run(a, &opts),
        Command::Compare(a) => compare::run(a, &opts),
        Command::Tables(a) => tables::run(a, &opts),
        Command::WriteAtomic { path, bytes, fill } => {
            crate::io::write_atomic(path, &vec![*fill; *bytes])
        }
        Command::Evaluate(a) => evaluate::run(a, &opts),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
