//! `fastshap bench game`: surrogate-game evaluations per second for the surrogates the fidelity
//! presets use, at their real batch, through exactly the calls `fastshap evaluate` makes
//! (`SurrogateGame::eval`: upload the masks, run the surrogate, read the logits back, apply the
//! link on the host). Each game row is credited with the FLOPs of one evaluation of the plain
//! network on a masked image (the matmul, conv and attention FLOPs its kernels declare), so its
//! GFLOP/s compares with the `matmul` and `conv` reference rows measured in the same run;
//! the FLOPs its own path executes are printed beside it (the coalition path skips most).
//!
//! Games: `vit` is the `cpu`/`demo` presets' surrogate (ViT, 8×8 patches, dim 32, one block,
//! P = 16, batch 4,096), `resnet` the tiny ResNet preset with a mask channel at P = 16
//! (batch 256, the evaluation batch outside the fidelity presets). Each runs through its
//! masked-image path (`-masked`: what a game built with `SurrogateGame::new` runs) and through
//! `SurrogateModel::game` (the network's coalition path where it has one).

use super::{Row, time_gpu};
use crate::fastshap::{Surrogate, SurrogateModel};
use crate::models::{ResNet, Vit};
use crate::nn::init_rng;
use crate::ops::conv::conv2d_raw;
use crate::reproduce::plan::FidelityPlan;
use crate::shap::sampler::UniformSizeSampler;
use crate::shap::{Game, Link, SurrogateGame};
use crate::train::Model;
use crate::train::config::Preset;
use crate::{Tensor, gpu};
use anyhow::{Result, bail};
use std::time::Instant;

/// The games `bench game` and `profile --model game-…` know.
pub const GAMES: [&str; 4] = ["vit", "vit-masked", "resnet", "resnet-masked"];

/// Superpixel side of the fidelity presets: P = 16 players on a 32×32 image.
const SUPERPIXEL: usize = 8;

/// A surrogate with random weights and one image to explain.
pub struct GameCase {
    pub name: String,
    pub surrogate: Surrogate,
    pub image: Tensor,
    /// Coalitions per surrogate call.
    pub batch: usize,
    /// Through `SurrogateGame::new` (masked images) rather than `SurrogateModel::game`.
    pub masked: bool,
}

impl GameCase {
    /// One of [`GAMES`]; `batch` overrides the network's real batch.
    pub fn named(name: &str, batch: Option<usize>) -> Result<GameCase> {
        let mut rng = init_rng(0);
        let (model, default_batch) = match name.trim_end_matches("-masked") {
            "vit" => (
                Model::Vit(Vit::new(FidelityPlan::new().surrogate, &mut rng)?),
                4096,
            ),
            "resnet" => (
                Model::ResNet(ResNet::new(Preset::Tiny.resnet(4), &mut rng)?),
                256,
            ),
            _ => bail!(
                "unknown game '{name}'; expected one of {}",
                GAMES.join(", ")
            ),
        };
        Ok(GameCase {
            name: name.to_string(),
            surrogate: Surrogate {
                model,
                superpixel: SUPERPIXEL,
                classes: (0..10).map(|i| format!("class {i}")).collect(),
                original: None,
                original_arch: None,
            },
            image: Tensor::randn(&[1, 3, 32, 32], 5)?,
            batch: batch.unwrap_or(default_batch),
            masked: name.ends_with("-masked"),
        })
    }

    /// The game as `fastshap evaluate` builds it.
    pub fn game(&self) -> Result<SurrogateGame<'_>> {
        let s = &self.surrogate;
        if self.masked {
            SurrogateGame::masked(
                Box::new(move |x: &Tensor| s.logits(x)),
                self.image.clone(),
                SUPERPIXEL,
                Link::LogSoftmax,
                self.batch,
            )
        } else {
            s.game(self.image.clone(), Link::LogSoftmax, self.batch)
        }
    }

    /// One batch of random coalitions (|S| uniform, as the surrogate was trained).
    pub fn masks(&self) -> Vec<f32> {
        UniformSizeSampler::new(crate::fastshap::players(SUPERPIXEL), 3).sample(self.batch)
    }
}

/// FLOPs per evaluation that the kernels declare (matmul, conv, attention) for one call of `f`
/// over `n` evaluations.
fn declared_flops(n: usize, f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let ctx = gpu::ctx();
    ctx.profile_begin();
    let r = f();
    let launches = ctx.profile_end();
    r?;
    Ok(launches.iter().map(|l| l.flops).sum::<f64>() / n as f64)
}

/// Wall seconds of `f`, median of `reps` after one warm-up.
fn wall(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t0 = Instant::now();
        f()?;
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

/// A game row and a line saying what it executes, for `name` (one of [`GAMES`]).
pub fn measure(name: &str, batch: Option<usize>, reps: usize) -> Result<(Row, String)> {
    let case = GameCase::named(name, batch)?;
    let masks = case.masks();
    let n = case.batch;
    // The plain network's FLOPs per evaluation (the credit), and what this path executes.
    let plain = GameCase {
        masked: true,
        ..GameCase::named(name, batch)?
    };
    let plain_game = plain.game()?;
    let nominal = declared_flops(n, || plain_game.eval(&masks).map(|_| ()))?;
    let game = case.game()?;
    let executed = declared_flops(n, || game.eval(&masks).map(|_| ()))?;
    let secs = wall(reps, || game.eval(&masks).map(|_| ()))?;
    let row = Row::new(
        format!("game/{name}"),
        format!("P16 N{n}"),
        secs,
        "wall-clock",
    )
    .flops(nominal * n as f64)
    .images(n as f64);
    let note = format!(
        "game/{name}: {:.0} evaluations/s; {:.3} MFLOP/evaluation credited (the plain network), \
         {:.3} MFLOP executed by this path",
        n as f64 / secs,
        nominal / 1e6,
        executed / 1e6
    );
    Ok((row, note))
}

/// The reference rates of the same run: the matmul kernel at 1024³ and the conv forward on
/// ResNet18's 64 > 64 3×3 shape (batch 8), with the adapter's default kernels.
pub fn references() -> Result<Vec<Row>> {
    let class = gpu::ctx().kernel_class();
    let a = Tensor::randn(&[1024, 1024], 1)?;
    let b = Tensor::randn(&[1024, 1024], 2)?;
    let mut err = None;
    let (secs, timer) = time_gpu(1, 5, || {
        if let Err(e) = a.matmul(&b) {
            err.get_or_insert(e);
        }
    });
    let mm = Row::new(format!("matmul/{class:?}"), "1024x1024x1024", secs, timer)
        .flops(2.0 * 1024f64.powi(3));
    let x = Tensor::randn(&[8, 64, 32, 32], 3)?;
    let w = Tensor::randn(&[64, 64, 3, 3], 4)?;
    let (secs, timer) = time_gpu(1, 5, || {
        if let Err(e) = conv2d_raw(&x, &w, None, 1, 1) {
            err.get_or_insert(e);
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    let conv = Row::new(
        format!("conv/fwd/{class:?}"),
        "8x64x32x32>64 k3s1",
        secs,
        timer,
    )
    .flops(2.0 * (8 * 64 * 32 * 32 * 64 * 9) as f64);
    Ok(vec![mm, conv])
}

/// Every game in `games` after the reference rows; the notes say what each path executes and
/// each game's share of its reference rate (matmul for the ViT, conv for the ResNet).
pub fn run(games: &[String], batch: Option<usize>, reps: usize) -> Result<(Vec<Row>, Vec<String>)> {
    let mut rows = references()?;
    let (mm, conv) = (rows[0].gflops.unwrap_or(0.0), rows[1].gflops.unwrap_or(0.0));
    let mut notes = Vec::new();
    for g in games {
        let (row, note) = measure(g, batch, reps)?;
        let (what, base) = if g.starts_with("resnet") {
            ("conv", conv)
        } else {
            ("matmul", mm)
        };
        notes.push(format!(
            "{note}; {:.0}% of the {what} kernel's GFLOP/s",
            100.0 * row.gflops.unwrap_or(0.0) / base.max(1e-12)
        ));
        rows.push(row);
    }
    Ok((rows, notes))
}
