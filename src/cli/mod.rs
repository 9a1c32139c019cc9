//! Command-line interface: one file per subcommand; each parses, calls the library, prints.

mod bench;
mod classifier_eval;
mod compare;
mod demo;
mod devices;
mod explain;
mod explainer_fidelity;
mod fidelity_answer;
mod model_flags;
mod profile;
mod reproduce;
mod run_flags;
mod schedule_flags;
mod tables;
mod train;
mod train_explainer;
mod train_surrogate;
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
    /// Rewrite DIR/report.html from what a reproduction (finished, running or interrupted) left,
    /// and DIR/summary.json too once every stage has finished.
    Report {
        /// The reproduction's --out directory.
        dir: std::path::PathBuf,
    },
    /// Per-kernel time of one training step or forward pass (launches, ms, %, GFLOP/s, GB/s).
    Profile(Box<profile::Args>),
    /// Train a classifier or pre-train an MAE with the paper's recipe (see --help for options).
    Train(Box<train::Args>),
    /// Loss, accuracy and confusion matrix of a classifier checkpoint on a test set.
    Eval(classifier_eval::Args),
    /// Train a surrogate (image + mask channel) of an original classifier on masked inputs.
    Surrogate(Box<train_surrogate::Args>),
    /// Train the FastSHAP UNet explainer of a surrogate.
    Explainer(Box<train_explainer::Args>),
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
    Evaluate(Box<explainer_fidelity::Args>),
    /// A static site that explains dropped images in the browser, on the visitor's GPU
    /// (WebGPU): index.html, the wasm engine and the checkpoints.
    Web(Box<web::Args>),
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
        Command::Report { dir } => crate::reproduce::rewrite_summary(dir)
            .and_then(|_| crate::report::write_report(dir))
            .map(|p| println!("wrote {}", p.display())),
        Command::Profile(a) => profile::run(a, &opts),
        Command::Train(a) => train::run(a, &opts),
        Command::Eval(a) => classifier_eval::run(a, &opts),
        Command::Surrogate(a) => train_surrogate::run(a, &opts),
        Command::Explainer(a) => train_explainer::run(a, &opts),
        Command::Explain(a) => explain::run(a, &opts),
        Command::Web(a) => web::run(a, &opts),
        Command::Compare(a) => compare::run(a, &opts),
        Command::Tables(a) => tables::run(a, &opts),
        Command::WriteAtomic { path, bytes, fill } => {
            crate::io::write_atomic(path, &vec![*fill; *bytes])
        }
        Command::Evaluate(a) => explainer_fidelity::run(a, &opts),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
