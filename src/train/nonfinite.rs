//! What every trainer does when a loss turns non-finite: find the first op that produced it.
//!
//! Training steps run unchecked, but for one value per step ([`finite_flag`]) read back with
//! the loss every few steps. When the loss or a gradient is not finite, the trainer restores the model and optimizer to the epoch's start from an on-device
//! [`Snapshot`], replays the epoch's steps on the same batches (everything random is seeded by
//! step), checking after each backward that the loss and every gradient are finite, and reruns
//! the first bad step with per-op checks ([`crate::autograd::trace`]). Nothing is written: the
//! last good checkpoint stays as it was.

use super::trainer::RunOptions;
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

/// One device value, 0 when `loss` and every gradient of `params` are finite and NaN
/// otherwise: Σ 0·x is NaN exactly when some x is NaN or infinite, and never overflows. The
/// trainers read it back with the loss, so a NaN gradient stops the run even where the loss
/// stays finite (a ReLU turns NaN into 0).
pub fn finite_flag(loss: &Tensor, params: &[Tensor]) -> Result<Tensor> {
    let _g = crate::no_grad();
    let mut parts = vec![loss.detach().mul_scalar(0.0)?.reshape(&[1])?];
    for p in params {
        if let Some(g) = p.grad() {
            parts.push(g.mul_scalar(0.0)?.sum_all()?.reshape(&[1])?);
        }
    }
    ops::plumbing::concat(&parts.iter().collect::<Vec<_>>(), 0)?
        .sum_all()?
        .reshape(&[1])
}

/// Where the replay found the first non-finite value.
pub struct Located {
    /// The global step whose loss or gradients were first non-finite.
    pub step: u64,
    /// The op, when the per-op rerun saw it (else the replay did not reproduce the NaN).
    pub found: Option<NonFinite>,
}

impl Located {
    /// What was found, for a stop at step `seen` (where the loss was read back).
    pub fn describe(&self, seen: u64) -> String {
        match &self.found {
            Some(f) if self.step == seen => f.to_string(),
            Some(f) => format!("replayed, it starts at global step {}: {f}", self.step),
            None => "replaying the epoch did not reproduce it".to_string(),
        }
    }
}

/// Replays steps `first..=bad` on `batches` (the epoch's, from its start) after restoring
/// `snap`; `lr(step)` sets the rate, `loss(batch, step)` computes the loss (recording), `clip`
/// clips gradients. Returns the first step whose loss or gradients are non-finite and the op
/// per-op checks blame.
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
    for (step, batch) in (first..=bad).zip(batches) {
        opt.set_lr(lr(step) as f32);
        opt.zero_grad();
        let l = forward_backward(opts, step, &params, false, || loss(&batch, step)).0?;
        if finite_flag(&l, opt.params())?.item()? != 0.0 {
            opt.zero_grad();
            let (r, found) = forward_backward(opts, step, &params, true, || loss(&batch, step));
            r?;
            return Ok(Located { step, found });
        }
        if let Some(c) = clip {
            ops::optim::clip_grad_norm(opt.params(), c)?;
        }
        opt.step()?;
    }
    Ok(Located {
        step: bad,
        found: None,
    })
}
