//! Whole networks at full size: forward (eval, no tape) and one training step (forward in train
//! mode, loss, backward, Adam update) per second, at a given batch. Wall clock around a device
//! sync: a step is many passes, so per-pass timestamps would not add up to it.

use super::Row;
use crate::fastshap::{Explainer, ExplainerConfig, Surrogate, explain_batch};
use crate::models::*;
use crate::nn::{Module, init_rng};
use crate::ops::loss::{cross_entropy_indices, mse};
use crate::ops::optim::{Adam, Optimizer};
use crate::train::Model;
use crate::train::config::Preset;
use crate::{Tensor, gpu, no_grad};
use anyhow::Result;
use std::time::Instant;

/// Which networks `run` measures: resnet18, vit, mae (pre-training step), mae-classifier, unet.
pub const ALL: [&str; 5] = ["resnet18", "vit", "mae", "mae-classifier", "unet"];

/// Also accepted, not in the default list: `explain`, FastSHAP inference as
/// [`explain_batch`] does it (the paper's explainer UNet plus the grand value from a ResNet-18
/// surrogate, normalised, read back), so its row's `secs / batch` is the ms per image.
pub const EXPLAIN: &str = "explain";

/// Seconds for `f` (which records GPU work), after one warm-up call, median of `reps`.
fn wall(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    gpu::ctx().sync();
    let mut t = Vec::new();
    for _ in 0..reps.max(1) {
        let t0 = Instant::now();
        f()?;
        gpu::ctx().sync();
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok(t[t.len() / 2])
}

/// Forward and train-step rows for one network: `forward(x, train)` gives the loss's input.
fn measure(
    name: &str,
    batch: usize,
    reps: usize,
    model: &dyn Module,
    forward: &dyn Fn(&Tensor, bool) -> Result<Tensor>,
    loss: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<Vec<Row>> {
    let x = Tensor::randn(&[batch, 3, 32, 32], 1)?;
    let shape = format!("batch {batch}");
    let fwd = wall(reps, || {
        let _g = no_grad();
        forward(&x, false).map(|_| ())
    })?;
    let mut opt = Optimizer::adam(model.parameters(), 1e-4, Adam::default())?;
    let step = wall(reps, || {
        opt.zero_grad();
        loss(&forward(&x, true)?)?.backward()?;
        opt.step()
    })?;
    Ok(vec![
        Row::new(
            format!("model/{name} forward"),
            shape.clone(),
            fwd,
            "wall-clock",
        )
        .images(batch as f64),
        Row::new(
            format!("model/{name} train step"),
            shape,
            step,
            "wall-clock",
        )
        .images(batch as f64),
    ])
}

pub fn run(which: &[String], batch: usize, reps: usize) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut rng = init_rng(0);
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let ce = |logits: &Tensor| cross_entropy_indices(logits, &labels, 0.0);
    for name in which {
        match name.as_str() {
            "resnet18" | "vit" | "mae-classifier" => {
                let m = match name.as_str() {
                    "resnet18" => {
                        Model::ResNet(ResNet::new(ResNetConfig::resnet18(3, 10), &mut rng)?)
                    }
                    "vit" => Model::Vit(Vit::new(VitConfig::cifar(3), &mut rng)?),
                    _ => {
                        let mae = Mae::new(MaeConfig::vit_tiny(), &mut rng)?;
                        Model::MaeClassifier(MaeClassifier::from_mae(mae, 10, &mut rng)?, 10)
                    }
                };
                rows.extend(measure(name, batch, reps, &m, &|x, t| m.logits(x, t), &ce)?);
            }
            "mae" => {
                let m = Mae::new(MaeConfig::vit_tiny(), &mut rng)?;
                let shuffles = random_shuffles(batch, m.encoder.config.patches(), &mut init_rng(1));
                let fwd = |x: &Tensor, _t: bool| Ok(m.forward(x, &shuffles)?.loss);
                rows.extend(measure(name, batch, reps, &m, &fwd, &|l| Ok(l.clone()))?);
            }
            "unet" => {
                let m = UNet::new(UNetConfig::fastshap_cifar(), &mut rng)?;
                let target = Tensor::randn(&[batch, 10, 16, 16], 2)?;
                rows.extend(measure(
                    name,
                    batch,
                    reps,
                    &m,
                    &|x, t| m.forward(x, t),
                    &|y| mse(y, &target),
                )?);
            }
            EXPLAIN => rows.push(explain(batch, reps)?),
            other => anyhow::bail!(
                "unknown model '{other}'; expected one of {} or {EXPLAIN}",
                ALL.join(", ")
            ),
        }
    }
    Ok(rows)
}

/// One [`explain_batch`] call on untrained networks of the paper's sizes (timing needs no
/// training): explainer UNet forward, surrogate forward for the grand value, normalisation.
fn explain(batch: usize, reps: usize) -> Result<Row> {
    let mut rng = init_rng(0);
    let classes: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let surrogate = Surrogate {
        // Surrogates see the image plus the player mask: 4 channels.
        model: Model::ResNet(ResNet::new(ResNetConfig::resnet18(4, 10), &mut rng)?),
        superpixel: 2,
        classes: classes.clone(),
        original: None,
        original_arch: None,
    };
    let config = ExplainerConfig::recipe(Preset::Full, std::path::Path::new(""), "embedded")
        .for_surrogate(&surrogate);
    let explainer = Explainer::new(config, classes)?;
    let x = Tensor::randn(&[batch, 3, 32, 32], 3)?;
    let secs = wall(reps, || {
        explain_batch(&explainer, &surrogate, &x).map(|_| ())
    })?;
    Ok(Row::new(
        "model/explain (unet + resnet18 surrogate)",
        format!("batch {batch}"),
        secs,
        "wall-clock",
    )
    .images(batch as f64))
}
