//! `fastshap profile`: where the time of one training step (or one forward pass) goes, kernel by
//! kernel — launches, total and mean time, share of the step, GFLOP/s and GB/s — the table a
//! PyTorch user gets from its profiler. Times come from GPU timestamps around each launch where
//! the adapter has them (`gpu::profile`).

use super::models::Net;
use crate::gpu;
use crate::no_grad;
use anyhow::Result;
use std::collections::HashMap;
use std::time::Instant;

/// What to profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Pass {
    /// Forward in train mode, loss, backward, Adam update.
    Step,
    /// Forward in eval mode without the tape (inference; the explainer's pass for `unet`).
    Forward,
}

/// One kernel (shader file and entry point) summed over its launches.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelRow {
    pub kernel: String,
    /// The shader file without `.wgsl`: the op family.
    pub family: String,
    pub launches: usize,
    pub total_ms: f64,
    pub mean_us: f64,
    /// Share of the summed kernel time, %.
    pub percent: f64,
    pub gflops: Option<f64>,
    pub gbps: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub model: String,
    pub pass: Pass,
    pub batch: usize,
    pub adapter: String,
    pub timer: &'static str,
    /// Wall time of the same pass without profiling (submits and waits included).
    pub wall_ms: f64,
    /// Sum of the per-launch times.
    pub kernels_ms: f64,
    pub launches: usize,
    pub kernels: Vec<KernelRow>,
    /// The same rows summed per family.
    pub families: Vec<KernelRow>,
}

/// Runs the pass once to warm up (pipelines compile), once timed by wall clock, and once
/// profiled; returns the per-kernel table of the profiled run.
pub fn run(net: &Net, model: &str, batch: usize, pass: Pass) -> Result<Report> {
    let mut opt = net.optimizer()?;
    let x = net.input(batch)?;
    run_fn(model, batch, pass, &mut || match pass {
        Pass::Step => net.step(&x, &mut opt),
        Pass::Forward => {
            let _g = no_grad();
            net.forward(&x, false).map(|_| ())
        }
    })
}

/// One explanation pass ([`crate::fastshap::explain_batch`]: the explainer, the surrogate on
/// the full and the empty image, the read-backs) of the explainer checkpoint `path` and its
/// surrogate on `batch` random images.
pub fn run_explainer(path: &std::path::Path, batch: usize) -> Result<Report> {
    let (explainer, sur_path) = crate::fastshap::Explainer::load(path)?;
    let surrogate = crate::fastshap::Surrogate::load(&sur_path)?;
    let x = crate::Tensor::randn(&[batch, 3, 32, 32], 5)?;
    run_fn(
        &path.display().to_string(),
        batch,
        Pass::Forward,
        &mut || crate::fastshap::explain_batch(&explainer, &surrogate, &x).map(|_| ()),
    )
}

/// One batch of `fastshap bench game`'s game `name` (see [`super::game::GAMES`]): the masks'
/// upload, the surrogate, the logits' read-back; `batch` overrides the game's real batch.
pub fn run_game(name: &str, batch: Option<usize>) -> Result<Report> {
    let case = super::game::GameCase::named(name, batch)?;
    let game = case.game()?;
    let masks = case.masks();
    run_fn(
        &format!("game-{name}"),
        case.batch,
        Pass::Forward,
        &mut || crate::shap::Game::eval(&game, &masks).map(|_| ()),
    )
}

/// [`run`] for any pass `once` (which records and submits its work).
fn run_fn(
    model: &str,
    batch: usize,
    pass: Pass,
    once: &mut dyn FnMut() -> Result<()>,
) -> Result<Report> {
    let ctx = gpu::ctx();
    once()?;
    ctx.sync();
    let t0 = Instant::now();
    once()?;
    ctx.sync();
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    let timer = ctx.profile_begin();
    let r = once();
    let launches = ctx.profile_end();
    r?;
    let kernels = summarise(&launches, |l| l.kernel.clone());
    let families = summarise(&launches, |l| family(&l.kernel));
    Ok(Report {
        model: model.to_string(),
        pass,
        batch,
        adapter: ctx.info.name.clone(),
        timer: timer.name(),
        wall_ms,
        kernels_ms: launches.iter().map(|l| l.secs).sum::<f64>() * 1e3,
        launches: launches.len(),
        kernels,
        families,
    })
}

/// `conv.wgsl::conv_fwd` → `conv`.
fn family(kernel: &str) -> String {
    kernel.split(".wgsl").next().unwrap_or(kernel).to_string()
}

fn summarise(
    launches: &[gpu::profile::Launch],
    key: impl Fn(&gpu::profile::Launch) -> String,
) -> Vec<KernelRow> {
    let mut by: HashMap<String, (usize, f64, f64, u64)> = HashMap::new();
    for l in launches {
        let e = by.entry(key(l)).or_default();
        e.0 += 1;
        e.1 += l.secs;
        e.2 += l.flops;
        e.3 += l.bytes;
    }
    let total: f64 = launches.iter().map(|l| l.secs).sum::<f64>().max(1e-12);
    let mut rows: Vec<KernelRow> = by
        .into_iter()
        .map(|(k, (n, secs, flops, bytes))| KernelRow {
            family: family(&k),
            kernel: k,
            launches: n,
            total_ms: secs * 1e3,
            mean_us: secs * 1e6 / n as f64,
            percent: 100.0 * secs / total,
            gflops: (flops > 0.0 && secs > 0.0).then(|| flops / secs / 1e9),
            gbps: if secs > 0.0 {
                bytes as f64 / secs / 1e9
            } else {
                0.0
            },
        })
        .collect();
    rows.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    rows
}

impl Report {
    /// The table as text: families, then the `top` kernels.
    pub fn text(&self, top: usize) -> String {
        let mut s = format!(
            "{} {:?}, batch {}, on {} ({})\n{} launches, kernels {:.1} ms; the same pass unprofiled: {:.1} ms wall ({:.1} img/s)\n",
            self.model,
            self.pass,
            self.batch,
            self.adapter,
            self.timer,
            self.launches,
            self.kernels_ms,
            self.wall_ms,
            self.batch as f64 / (self.wall_ms / 1e3)
        );
        let table = |title: &str, rows: &[KernelRow], n: usize| {
            let mut t = format!(
                "\n{:<44} {:>8} {:>10} {:>10} {:>6} {:>8} {:>7}\n",
                title, "launches", "total ms", "mean us", "%", "GFLOP/s", "GB/s"
            );
            for r in rows.iter().take(n) {
                let gf = r
                    .gflops
                    .map(|g| format!("{g:.2}"))
                    .unwrap_or_else(|| "-".into());
                t += &format!(
                    "{:<44} {:>8} {:>10.2} {:>10.1} {:>6.1} {:>8} {:>7.2}\n",
                    r.kernel, r.launches, r.total_ms, r.mean_us, r.percent, gf, r.gbps
                );
            }
            if rows.len() > n {
                t += &format!("({} more)\n", rows.len() - n);
            }
            t
        };
        s += &table("family", &self.families, usize::MAX);
        s += &table("kernel", &self.kernels, top);
        s
    }
}
