//! Layers with PyTorch's parameter names, layouts and default initialisation.
//!
//! A module holds its parameters as leaf tensors (`Tensor::param`) and exposes them, with
//! buffers such as BatchNorm's running statistics, through [`Module::visit`] under
//! `layer1.0.conv1.weight`-style names. Train/eval mode is an argument of `forward`, so a model
//! can never be left in the wrong mode by accident.

pub mod layers;
mod transformer;

pub use layers::{BatchNorm2d, Conv2d, LayerNorm, Linear};
pub use transformer::{Block, Mlp, MultiHeadAttention, QkvLayout};

use crate::Tensor;
use rand::SeedableRng;

/// What a named tensor is to the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Trained by the optimizer.
    Param,
    /// State saved with the model but not trained (BatchNorm running statistics).
    Buffer,
}

pub trait Module {
    /// Calls `f` for every named parameter and buffer, names prefixed with `prefix`.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Tensor, Kind));

    /// Trainable parameters in a stable order.
    fn parameters(&self) -> Vec<Tensor> {
        let mut v = Vec::new();
        self.visit("", &mut |_, t, k| {
            if k == Kind::Param {
                v.push(t.clone())
            }
        });
        v
    }

    /// Every named tensor (parameters and buffers), as saved in a checkpoint.
    fn named_tensors(&self) -> Vec<(String, Tensor, Kind)> {
        let mut v = Vec::new();
        self.visit("", &mut |n, t, k| v.push((n, t.clone(), k)));
        v
    }

    fn parameter_count(&self) -> usize {
        self.parameters().iter().map(|t| t.numel()).sum()
    }
}

/// `prefix.name`, or `name` at the root.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A visitor of a module's tensors, as [`Module::visit`] takes one.
pub type Visitor<'a> = &'a mut dyn FnMut(String, &Tensor, Kind);

/// Copies each tensor `src` visits into the one `dst` visits at the same place: a backbone
/// taken from a trained network of the same layout (the callers check the configs match).
pub fn copy_visited(dst: impl FnOnce(Visitor), src: impl FnOnce(Visitor)) -> anyhow::Result<()> {
    let (mut to, mut from) = (Vec::new(), Vec::new());
    dst(&mut |_, t, _| to.push(t.clone()));
    src(&mut |_, t, _| from.push(t.clone()));
    anyhow::ensure!(
        to.len() == from.len(),
        "copying {} tensors into {}",
        from.len(),
        to.len()
    );
    for (d, s) in to.iter().zip(&from) {
        d.assign(s)?;
    }
    Ok(())
}

/// The seeded generator every initialiser draws from.
pub type InitRng = rand::rngs::StdRng;

pub fn init_rng(seed: u64) -> InitRng {
    InitRng::seed_from_u64(seed)
}
