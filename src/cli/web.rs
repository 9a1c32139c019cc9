//! `fastshap web`: a self-contained static site that explains images in the visitor's browser,
//! on their GPU through WebGPU: index.html, the engine built for wasm32 with its JS glue
//! (tools/build_web.sh builds them into target/web-pkg), and the explainer's and surrogate's
//! checkpoints. No server code: any static host, or `python3 -m http.server`, serves it.

use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The explainer's checkpoint (from `fastshap explainer`).
    #[arg(long)]
    explainer: PathBuf,
    /// The surrogate's checkpoint (default: the one the explainer was trained with).
    #[arg(long)]
    surrogate: Option<PathBuf>,
    /// Output directory for the site.
    #[arg(long)]
    out: PathBuf,
    /// The wasm engine and its glue (fastshap_web_bg.wasm, fastshap_web.js), as
    /// tools/build_web.sh writes them.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/web-pkg"))]
    pkg: PathBuf,
}

/// The page; the engine files come from `--pkg`.
const INDEX_HTML: &str = include_str!("../../web/index.html");
const ENGINE_FILES: [&str; 2] = ["fastshap_web_bg.wasm", "fastshap_web.js"];

pub fn run(a: &Args, gpu: &crate::gpu::Options) -> Result<()> {
    for f in ENGINE_FILES {
        ensure!(
            a.pkg.join(f).is_file(),
            "{} not found: build the browser engine first with tools/build_web.sh (needs \
             `rustup target add wasm32-unknown-unknown` and wasm-bindgen-cli 0.2.130)",
            a.pkg.join(f).display()
        );
    }
    // Load both checkpoints natively first, so a site is never written with weights that do
    // not load or do not belong together.
    crate::gpu::init(gpu)?;
    let (explainer, surrogate, sur_path) =
        super::model_flags::explainer_and_surrogate(&a.explainer, a.surrogate.as_deref())?;
    crate::fastshap::explainer::check_pair(&explainer.config, &surrogate)?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let copy = |from: &Path, to: &str| -> Result<()> {
        let bytes =
            std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
        crate::io::write_atomic(&a.out.join(to), &bytes)
    };
    for f in ENGINE_FILES {
        copy(&a.pkg.join(f), f)?;
    }
    copy(&a.explainer, "explainer.safetensors")?;
    copy(&sur_path, "surrogate.safetensors")?;
    crate::io::write_atomic(&a.out.join("index.html"), INDEX_HTML.as_bytes())?;
    println!(
        "wrote {}/index.html: serve the folder (e.g. `python3 -m http.server -d {}`) and open it \
         in a browser with WebGPU",
        a.out.display(),
        a.out.display()
    );
    Ok(())
}
