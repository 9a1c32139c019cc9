//! `fastshap demo`: the first command of the quick start. A device check and a kernel
//! self-check against the CPU, then, on the embedded CIFAR-10 subset into `./fastshap-demo/`
//! (rerun to resume), the fidelity experiment sized to this adapter (`--preset demo`: an
//! original, a P = 64 surrogate and its ViT explainer, judged against KernelSHAP run to a
//! stated noise floor, in about 7 minutes of stages) — or any fixed-budget preset such as `--preset tiny` (the paper's
//! whole pipeline at small sizes).

use crate::Tensor;
use crate::gpu::{self, Options};
use crate::reproduce::{Plan, ReproOptions, ReproPreset, reproduce};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory.
    #[arg(long, default_value = "fastshap-demo")]
    out: PathBuf,
    /// `demo`: sized to this adapter; `tiny`/`smoke`: the paper's pipeline at fixed budgets.
    #[arg(long, value_enum, default_value = "demo")]
    preset: ReproPreset,
    /// Only the device check and the kernel self-check.
    #[arg(long)]
    check_only: bool,
}

pub fn run(a: &Args, opts: &Options) -> Result<()> {
    let ctx = gpu::init(opts)?;
    println!(
        "device: {} ({:?}, {:?}, kernels for {:?})",
        ctx.info.name,
        ctx.info.backend,
        ctx.info.device_type,
        ctx.kernel_class()
    );
    let t0 = std::time::Instant::now();
    self_check()?;
    println!("self-check passed in {:.2} s", t0.elapsed().as_secs_f64());
    if a.check_only {
        return Ok(());
    }
    let report = reproduce(
        &Plan::new(a.preset),
        "embedded",
        &a.out,
        &ReproOptions::default(),
    )?;
    println!(
        "demo finished in {:.0} s: open {} in a browser",
        t0.elapsed().as_secs_f64(),
        report.display()
    );
    Ok(())
}

/// A matmul and a softmax of random data on the GPU against the same on the CPU.
fn self_check() -> Result<()> {
    let (m, k, n) = (33, 65, 17);
    let a = Tensor::randn(&[m, k], 2)?;
    let b = Tensor::randn(&[k, n], 3)?;
    let got = a.matmul(&b)?.to_vec()?;
    let (ha, hb) = (a.to_vec()?, b.to_vec()?);
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k)
                .map(|t| ha[i * k + t] as f64 * hb[t * n + j] as f64)
                .sum();
            let g = got[i * n + j] as f64;
            if (g - want).abs() > 1e-4 * want.abs().max(1.0) {
                bail!("self-check failed: matmul C[{i},{j}] = {g} on the GPU, {want} on the CPU");
            }
        }
    }

    // Softmax column sums.
    let (rows, n) = (64, 10);
    let x = Tensor::randn(&[rows, n], 1)?;
    let host = x.to_vec()?;
    let got = x.softmax()?.sum(0, false)?.to_vec()?;
    let mut want = vec![0f64; n];
    for r in host.chunks(n) {
        let m = r.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let s: f64 = r.iter().map(|&v| (v as f64 - m).exp()).sum();
        for (w, &v) in want.iter_mut().zip(r) {
            *w += (v as f64 - m).exp() / s;
        }
    }
    for (g, w) in got.iter().zip(&want) {
        if ((*g as f64) - w).abs() > 1e-4 * w.abs().max(1.0) {
            bail!("self-check failed: softmax column sum {g} vs CPU {w}");
        }
    }
    Ok(())
}
