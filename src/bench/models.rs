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

/// A network ready to run at one batch size: its forward (train or eval mode) and its loss on
/// fixed random targets. Shared by `bench models` and `fastshap profile`.
pub enum Net {
    Classifier(Model, Vec<u32>),
    Mae(Mae, Vec<Vec<u32>>),
    UNet(UNet, Tensor),
}

impl Net {
    /// A freshly initialised network by name (one of [`ALL`]).
    pub fn named(name: &str, batch: usize) -> Result<Net> {
        let mut rng = init_rng(0);
        let m = match name {
            "resnet18" => Model::ResNet(ResNet::new(ResNetConfig::resnet18(3, 10), &mut rng)?),
            "vit" => Model::Vit(Vit::new(VitConfig::cifar(3), &mut rng)?),
            "mae-classifier" => {
                let mae = Mae::new(MaeConfig::vit_tiny(), &mut rng)?;
                Model::MaeClassifier(MaeClassifier::from_mae(mae, 10, &mut rng)?, 10)
            }
            "mae" => Model::Mae(Mae::new(MaeConfig::vit_tiny(), &mut rng)?),
            "unet" => {
                let m = UNet::new(UNetConfig::fastshap_cifar(), &mut rng)?;
                let target = Tensor::randn(&[batch, m.config.classes, 16, 16], 2)?;
                return Ok(Net::UNet(m, target));
            }
            other => anyhow::bail!(
                "unknown model '{other}'; expected one of {} or {EXPLAIN}",
                ALL.join(", ")
            ),
        };
        Net::from_model(m, batch)
    }

    /// A loaded network (e.g. a checkpoint) with random targets for its loss.
    pub fn from_model(m: Model, batch: usize) -> Result<Net> {
        Ok(match m {
            Model::Mae(mae) => {
                let patches = mae.encoder.config.patches();
                Net::Mae(mae, random_shuffles(batch, patches, &mut init_rng(1)))
            }
            m => Net::Classifier(m, (0..batch as u32).map(|i| i % 10).collect()),
        })
    }

    pub fn module(&self) -> &dyn Module {
        match self {
            Net::Classifier(m, _) => m,
            Net::Mae(m, _) => m,
            Net::UNet(m, _) => m,
        }
    }

    /// Channels of the input image (4 for a surrogate: image + mask).
    pub fn in_channels(&self) -> usize {
        match self {
            Net::Classifier(Model::ResNet(m), _) => m.config.in_channels,
            Net::Classifier(Model::Vit(m), _) => m.config.in_channels,
            Net::Classifier(Model::MaeClassifier(m, _), _) => m.encoder.config.in_channels,
            Net::Classifier(Model::Mae(m), _) | Net::Mae(m, _) => m.encoder.config.in_channels,
            Net::UNet(m, _) => m.config.in_channels,
        }
    }

    /// A random input batch of the right shape.
    pub fn input(&self, batch: usize) -> Result<Tensor> {
        Tensor::randn(&[batch, self.in_channels(), 32, 32], 1)
    }

    /// The network's output (for MAE: its reconstruction loss).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Net::Classifier(m, _) => m.logits(x, train),
            Net::Mae(m, shuffles) => Ok(m.forward(x, shuffles)?.loss),
            Net::UNet(m, _) => m.forward(x, train),
        }
    }

    /// The training loss of an output of [`Net::forward`].
    pub fn loss(&self, y: &Tensor) -> Result<Tensor> {
        match self {
            Net::Classifier(_, labels) => cross_entropy_indices(y, labels, 0.0),
            Net::Mae(..) => Ok(y.clone()),
            Net::UNet(_, target) => mse(y, target),
        }
    }

    /// One training step on `x`: forward in train mode, loss, backward, optimizer update.
    pub fn step(&self, x: &Tensor, opt: &mut Optimizer) -> Result<()> {
        opt.zero_grad();
        self.loss(&self.forward(x, true)?)?.backward()?;
        opt.step()
    }

    pub fn optimizer(&self) -> Result<Optimizer> {
        Optimizer::adam(self.module().parameters(), 1e-4, Adam::default())
    }
}

/// Forward and train-step rows for one network.
fn measure(name: &str, batch: usize, reps: usize, net: &Net) -> Result<Vec<Row>> {
    let x = net.input(batch)?;
    let shape = format!("batch {batch}");
    let fwd = wall(reps, || {
        let _g = no_grad();
        net.forward(&x, false).map(|_| ())
    })?;
    let mut opt = net.optimizer()?;
    let step = wall(reps, || net.step(&x, &mut opt))?;
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
    for name in which {
        if name == EXPLAIN {
            rows.push(explain(batch, reps)?);
            continue;
        }
        let net = Net::named(name, batch)?;
        rows.extend(measure(name, batch, reps, &net)?);
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
