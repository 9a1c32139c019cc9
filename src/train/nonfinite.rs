//! What every trainer does when a loss turns non-finite: find the first op that produced it.
//!
//! Training steps run unchecked: every few steps the epoch loop ([`super::readback`]) reads back
//! the losses with one value that says whether the model's weights and buffers are all finite
//! ([`weights_flag`]). When a loss or the model is not finite ([`NonFiniteLoss`]), the loop
//! restores the model and optimizer to the epoch's start from an on-device
//! [`Snapshot`], replays the epoch's steps on the same batches (everything random is seeded by
//! step), checking after each backward that the loss and every gradient are finite, and reruns
//! the first bad step with per-op checks ([`crate::autograd::trace`]). Nothing is written: the
//! last good checkpoint stays as it was.

use super::options::RunOptions;
use crate::Tensor;
use crate::autograd::trace::{self, NonFinite};
use crate::data::Batch;
use crate::nn::{Kind, Module};
use crate::ops::{self, optim::Optimizer};
use anyhow::Result;

/// The model's tensors (parameters and buffers) and the optimizer state at an epoch's start,
/// copied on the device.
pub struct Snapshot {
    tensors: Vec<Tensor>,
    optim: Vec<(Vec<Tensor>, u64)>,
}

impl Snapshot {
    pub fn take(model: &dyn Module, opt: &Optimizer) -> Result<Snapshot> {
        let tensors = model
            .named_tensors()
            .iter()
            .map(|(_, t, _)| t.deep_clone())
            .collect::<Result<_>>()?;
        let optim = (0..opt.params().len())
            .map(|i| {
                let slots = opt.state(i).iter().map(Tensor::deep_clone);
                Ok((slots.collect::<Result<_>>()?, opt.steps(i)))
            })
            .collect::<Result<_>>()?;
        Ok(Snapshot { tensors, optim })
    }

    pub fn restore(&self, model: &dyn Module, opt: &mut Optimizer) -> Result<()> {
        for ((_, t, _), saved) in model.named_tensors().iter().zip(&self.tensors) {
            t.assign(saved)?;
        }
        for (i, (slots, steps)) in self.optim.iter().enumerate() {
            let copies = slots
                .iter()
                .map(Tensor::deep_clone)
                .collect::<Result<_>>()?;
            opt.restore(i, copies, *steps)?;
        }
        Ok(())
    }
}

/// The model's parameters with their names, for naming layers.
pub fn named_params(model: &dyn Module) -> Vec<(String, Tensor)> {
    model
        .named_tensors()
        .into_iter()
        .filter(|(_, _, k)| *k == Kind::Param)
        .map(|(n, t, _)| (n, t))
        .collect()
}

/// Forward (`loss`) and backward of step `step`, with the fault `opts` injects at that step
/// (the loss times NaN, or a NaN from the named op), and per-op checks when `check`.
pub fn forward_backward(
    opts: &RunOptions,
    step: u64,
    params: &[(String, Tensor)],
    check: bool,
    loss: impl FnOnce() -> Result<Tensor>,
) -> (Result<Tensor>, Option<NonFinite>) {
    let faulty = opts.nan_at_step == Some(step);
    let fault = opts.nan_op.clone().filter(|_| faulty);
    let body = || {
        let mut l = loss()?;
        if faulty && opts.nan_op.is_none() {
            l = l.mul_scalar(f32::NAN)?;
        }
        l.backward()?;
        Ok(l)
    };
    if check || fault.is_some() {
        trace::watch(params, check, fault, body)
    } else {
        (body(), None)
    }
}

/// One device value, 0 when every tensor of `parts` is finite and NaN otherwise: Σ 0·x is NaN
/// exactly when some x is NaN or infinite, and never overflows.
fn finite_flag<'a>(parts: impl IntoIterator<Item = &'a Tensor>) -> Result<Tensor> {
    let _g = crate::no_grad();
    let sums = parts
        .into_iter()
        .map(|t| t.detach().mul_scalar(0.0)?.sum_all()?.reshape(&[1]))
        .collect::<Result<Vec<_>>>()?;
    ops::plumbing::concat(&sums.iter().collect::<Vec<_>>(), 0)?
        .sum_all()?
        .reshape(&[1])
}

/// [`finite_flag`] of the model's parameters and buffers [1], for the trainers to read back
/// with the losses every few steps: a NaN gradient makes the next update's weights NaN (and a
/// NaN activation BatchNorm's running statistics) even where the loss stays finite (a ReLU
/// turns NaN into 0), so this catches them at the cost of one reduction per tensor per
/// read-back, not per step.
pub fn weights_flag(model: &dyn Module) -> Result<Tensor> {
    let tensors = model.named_tensors();
    finite_flag(tensors.iter().map(|(_, t, _)| t))
}

/// A non-finite model found by [`weights_flag`], as text: which tensors.
fn bad_tensors(model: &dyn Module) -> Result<String> {
    let mut bad = Vec::new();
    for (name, t, _) in model.named_tensors() {
        if t.to_vec()?.iter().any(|v| !v.is_finite()) {
            bad.push(name);
        }
    }
    let n = bad.len();
    bad.truncate(3);
    Ok(format!(
        "{}{}",
        bad.join(", "),
        if n > 3 {
            format!(" and {} more", n - 3)
        } else {
            String::new()
        }
    ))
}

/// A training loss (or, after finite losses, the model) that is not finite, with the step it
/// belongs to: what a read-back found, before the replay names the op.
#[derive(Debug)]
pub struct NonFiniteLoss {
    pub step: u64,
    /// "training loss is NaN at epoch 2 step 2 (global step 3)".
    pub what: String,
}

impl NonFiniteLoss {
    /// Step `step` (the `in_epoch`-th, 0-based, of 0-based `epoch`) of a `what` ("training")
    /// run: "training loss is NaN at epoch 2 step 2 (global step 3)" when its `loss` is not
    /// finite, else (the model's weights or buffers are) "training weights are not finite
    /// after epoch 2 step 2 (global step 3; every loss was finite)".
    pub fn at(step: u64, what: &str, loss: f32, epoch: usize, in_epoch: usize) -> NonFiniteLoss {
        let at = format!(
            "epoch {} step {} (global step {step}",
            epoch + 1,
            in_epoch + 1
        );
        NonFiniteLoss {
            step,
            what: if loss.is_finite() {
                format!("{what} weights are not finite after {at}; every loss was finite)")
            } else {
                format!("{what} loss is {loss} at {at})")
            },
        }
    }
}

impl std::fmt::Display for NonFiniteLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for NonFiniteLoss {}

/// Where the replay found the first non-finite value.
pub struct Located {
    /// The global step whose loss, gradients or updated weights were first non-finite.
    pub step: u64,
    pub what: Found,
}

pub enum Found {
    /// The loss or a gradient, and the op per-op checks blame (none if they saw nothing).
    Op(Option<NonFinite>),
    /// The optimizer's update made these tensors non-finite from finite gradients.
    Update(String),
    /// Replaying did not reproduce it.
    Nothing,
}

impl Located {
    /// What was found, for a stop seen at step `seen`.
    pub fn describe(&self, seen: u64) -> String {
        let at = if self.step == seen {
            String::new()
        } else {
            format!("replayed, it starts at global step {}: ", self.step)
        };
        match &self.what {
            Found::Op(Some(f)) => format!("{at}{f}"),
            Found::Op(None) => format!("{at}the per-op checks found no op that produced it"),
            Found::Update(t) => format!("{at}the optimizer update made {t} non-finite"),
            Found::Nothing => "replaying the epoch did not reproduce it".to_string(),
        }
    }
}

/// Replays steps `first..=bad` on `batches` (the epoch's, from its start) after restoring
/// `snap`; `lr(step)` sets the rate, `loss(batch, step)` computes the loss (recording), `clip`
/// clips gradients. After every step's backward the loss, the gradients and the buffers are
/// checked, after its update the weights; the first step where one is not finite is rerun
/// with per-op checks to name the op.
#[allow(clippy::too_many_arguments)]
pub fn locate(
    model: &dyn Module,
    opt: &mut Optimizer,
    snap: &Snapshot,
    opts: &RunOptions,
    batches: impl Iterator<Item = Batch>,
    (first, bad): (u64, u64),
    lr: &dyn Fn(u64) -> f64,
    clip: Option<f32>,
    loss: &mut dyn FnMut(&Batch, u64) -> Result<Tensor>,
) -> Result<Located> {
    snap.restore(model, opt)?;
    let params = named_params(model);
    let tensors = model.named_tensors();
    for (step, batch) in (first..=bad).zip(batches) {
        opt.set_lr(lr(step) as f32);
        opt.zero_grad();
        let l = forward_backward(opts, step, &params, false, || loss(&batch, step)).0?;
        let grads: Vec<Tensor> = opt.params().iter().filter_map(Tensor::grad).collect();
        let parts = [&l]
            .into_iter()
            .chain(&grads)
            .chain(tensors.iter().map(|t| &t.1));
        if finite_flag(parts)?.item()? != 0.0 {
            opt.zero_grad();
            let (r, found) = forward_backward(opts, step, &params, true, || loss(&batch, step));
            r?;
            return Ok(Located {
                step,
                what: Found::Op(found),
            });
        }
        if let Some(c) = clip {
            ops::optim::clip_grad_norm(opt.params(), c)?;
        }
        opt.step()?;
        if weights_flag(model)?.item()? != 0.0 {
            return Ok(Located {
                step,
                what: Found::Update(bad_tensors(model)?),
            });
        }
    }
    Ok(Located {
        step: bad,
        what: Found::Nothing,
    })
}
