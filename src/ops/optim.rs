//! Optimizers as fused kernels (`shaders/optim.wgsl`): one dispatch per parameter tensor updates
//! the parameter and its state buffers in place, with no host sync. SGD, Adam and AdamW follow
//! `torch.optim.{SGD, Adam, AdamW}` (including their order of floating-point operations);
//! [`clip_grad_norm`] follows `torch.nn.utils.clip_grad_norm_` (`shaders/optim_clip.wgsl`).
//!
//! Not supported: Adam's `amsgrad`, `maximize`, per-parameter groups (one lr for all).

use super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail, ensure};

/// `torch.optim.SGD` settings (defaults as PyTorch's).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sgd {
    pub momentum: f32,
    pub dampening: f32,
    pub nesterov: bool,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
}

/// `torch.optim.Adam` / `AdamW` settings. [`Adam::default`] is Adam's defaults (no weight
/// decay); [`Adam::adamw`] is AdamW's (weight decay 0.01).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub betas: (f32, f32),
    /// Added outside the square root, as PyTorch does.
    pub eps: f32,
    pub weight_decay: f32,
}

impl Default for Adam {
    fn default() -> Adam {
        Adam {
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl Adam {
    pub fn adamw() -> Adam {
        Adam {
            weight_decay: 1e-2,
            ..Adam::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Sgd(Sgd),
    /// Coupled L2 decay (added to the gradient before the moments).
    Adam(Adam),
    /// Decoupled decay (the parameter shrinks by lr·wd before the Adam step).
    AdamW(Adam),
}

/// Parameters, their optimizer state and step counts. `step()` updates every parameter that has
/// a gradient; parameters without one are skipped and their state and step count stay as they
/// are (as in PyTorch, where Adam's bias correction uses each parameter's own step count).
pub struct Optimizer {
    params: Vec<Tensor>,
    method: Method,
    lr: f32,
    /// Per parameter: none until its first update, then [momentum buffer] (SGD with momentum)
    /// or [exp_avg, exp_avg_sq] (Adam/AdamW).
    state: Vec<Vec<Tensor>>,
    steps: Vec<u64>,
}

const WG: u32 = 256;

impl Optimizer {
    pub fn new(params: Vec<Tensor>, lr: f32, method: Method) -> Result<Optimizer> {
        for (i, p) in params.iter().enumerate() {
            ensure!(
                p.requires_grad() && p.is_leaf(),
                "optimizer parameter {i} (shape {:?}) is not a leaf that requires grad; use .param()",
                p.shape()
            );
        }
        match method {
            Method::Sgd(s) => ensure!(
                !s.nesterov || (s.momentum > 0.0 && s.dampening == 0.0),
                "SGD: Nesterov momentum requires a momentum and zero dampening"
            ),
            Method::Adam(a) | Method::AdamW(a) => ensure!(
                (0.0..1.0).contains(&a.betas.0) && (0.0..1.0).contains(&a.betas.1),
                "Adam: betas {:?} must lie in [0, 1)",
                a.betas
            ),
        }
        let n = params.len();
        Ok(Optimizer {
            params,
            method,
            lr,
            state: vec![Vec::new(); n],
            steps: vec![0; n],
        })
    }

    pub fn sgd(params: Vec<Tensor>, lr: f32, s: Sgd) -> Result<Optimizer> {
        Optimizer::new(params, lr, Method::Sgd(s))
    }

    pub fn adam(params: Vec<Tensor>, lr: f32, a: Adam) -> Result<Optimizer> {
        Optimizer::new(params, lr, Method::Adam(a))
    }

    pub fn adamw(params: Vec<Tensor>, lr: f32, a: Adam) -> Result<Optimizer> {
        Optimizer::new(params, lr, Method::AdamW(a))
    }

    pub fn lr(&self) -> f32 {
        self.lr
    }

    /// Sets the learning rate used from the next `step()` on (schedules call this).
    pub fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The state tensors of parameter `i` (empty before its first update).
    pub fn state(&self, i: usize) -> &[Tensor] {
        &self.state[i]
    }

    /// How many updates parameter `i` has received.
    pub fn steps(&self, i: usize) -> u64 {
        self.steps[i]
    }

    /// Replaces parameter `i`'s state and step count (resuming from a saved run). `state` must
    /// be what [`Optimizer::state`] held: empty, or one/two tensors of the parameter's shape.
    pub fn restore(&mut self, i: usize, state: Vec<Tensor>, steps: u64) -> Result<()> {
        ensure!(i < self.params.len(), "optimizer: no parameter {i}");
        let want = match self.method {
            Method::Sgd(s) if s.momentum == 0.0 => 0,
            Method::Sgd(_) => 1,
            Method::Adam(_) | Method::AdamW(_) => 2,
        };
        let shape = self.params[i].shape();
        ensure!(
            (state.is_empty() || state.len() == want) && state.iter().all(|t| t.shape() == shape),
            "optimizer: state for parameter {i} must be 0 or {want} tensors of shape {shape:?}"
        );
        self.state[i] = state;
        self.steps[i] = steps;
        Ok(())
    }

    /// Drops every parameter's gradient (PyTorch's default `set_to_none=True`).
    pub fn zero_grad(&self) {
        for p in &self.params {
            p.zero_grad();
        }
    }

    /// One update of every parameter that has a gradient: one fused dispatch each.
    pub fn step(&mut self) -> Result<()> {
        for i in 0..self.params.len() {
            let p = &self.params[i];
            let Some(g) = p.grad() else { continue };
            if g.numel() != p.numel() {
                bail!(
                    "optimizer: gradient {:?} does not match parameter {i} {:?}",
                    g.shape(),
                    p.shape()
                );
            }
            if p.numel() == 0 {
                continue;
            }
            self.steps[i] += 1;
            let t = self.steps[i];
            let n = p.numel();
            let state = &mut self.state[i];
            let mut w = [0u32; 9];
            w[0] = n as u32;
            w[1] = self.lr.to_bits();
            match self.method {
                Method::Sgd(s) => {
                    w[2] = s.weight_decay.to_bits();
                    if s.momentum == 0.0 {
                        let b = [p.bind(), g.bind()];
                        launch(&shader!("optim"), "sgd_plain", &[], &w, &b, n, WG)?;
                        continue;
                    }
                    if state.is_empty() {
                        // Written before it is read: the first step stores d_p.
                        state.push(Tensor::empty(p.shape())?);
                    }
                    w[3] = s.momentum.to_bits();
                    w[4] = s.dampening.to_bits();
                    w[8] = s.nesterov as u32 | if t == 1 { 2 } else { 0 };
                    let b = [p.bind(), g.bind(), state[0].bind()];
                    launch(&shader!("optim"), "sgd_momentum", &[], &w, &b, n, WG)?;
                }
                Method::Adam(a) | Method::AdamW(a) => {
                    if state.is_empty() {
                        state.push(Tensor::zeros(p.shape())?);
                        state.push(Tensor::zeros(p.shape())?);
                    }
                    // Bias corrections in f64 on the host, like PyTorch's Python floats.
                    let (b1, b2) = (a.betas.0 as f64, a.betas.1 as f64);
                    let bc1 = 1.0 - b1.powf(t as f64);
                    let bc2 = 1.0 - b2.powf(t as f64);
                    w[2] = a.weight_decay.to_bits();
                    w[3] = a.betas.0.to_bits();
                    w[4] = a.betas.1.to_bits();
                    w[5] = a.eps.to_bits();
                    w[6] = ((self.lr as f64 / bc1) as f32).to_bits();
                    w[7] = (bc2.sqrt() as f32).to_bits();
                    w[8] = matches!(self.method, Method::AdamW(_)) as u32;
                    let b = [p.bind(), g.bind(), state[0].bind(), state[1].bind()];
                    launch(&shader!("optim"), "adam", &[], &w, &b, n, WG)?;
                }
            }
        }
        Ok(())
    }
}

/// Values one invocation squares and sums in [`clip_grad_norm`]'s first pass.
const CHUNK: usize = 256;

/// `torch.nn.utils.clip_grad_norm_(params, max_norm)` (L2 norm): the total norm of all gradients
/// taken together, and every gradient scaled by min(1, max_norm / (total + 1e-6)). Everything
/// stays on the device; the total norm comes back as a scalar tensor (`.item()` reads it).
/// Parameters without a gradient are skipped; with none at all the norm is 0.
///
/// The scaled gradients are new tensors set as each parameter's `.grad` rather than written in
/// place: after `backward()` several parameters can share one gradient tensor (e.g. both inputs
/// of an `add`), which an in-place scale would scale twice.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f32) -> Result<Tensor> {
    let grads: Vec<(&Tensor, Tensor)> = params
        .iter()
        .filter_map(|p| p.grad().map(|g| (p, g)))
        .filter(|(_, g)| g.numel() > 0)
        .collect();
    let total_chunks: usize = grads.iter().map(|(_, g)| g.numel().div_ceil(CHUNK)).sum();
    if total_chunks == 0 {
        return Tensor::scalar(0.0);
    }
    let partials = Tensor::empty(&[total_chunks])?;
    let mut offset = 0;
    for (_, g) in &grads {
        let chunks = g.numel().div_ceil(CHUNK);
        let w = [g.numel() as u32, CHUNK as u32, offset as u32, 0];
        let b = [g.bind(), partials.bind()];
        launch(&shader!("optim_clip"), "sumsq", &[], &w, &b, chunks, WG)?;
        offset += chunks;
    }
    // The partials take no gradient: these reductions record nothing on the tape.
    let sumsq = partials.sum_all()?;
    for (p, g) in &grads {
        let scaled = Tensor::empty(g.shape())?;
        let w = [g.numel() as u32, CHUNK as u32, 0, max_norm.to_bits()];
        let b = [g.bind(), scaled.bind(), sumsq.bind()];
        launch(&shader!("optim_clip"), "scale", &[], &w, &b, g.numel(), WG)?;
        p.set_grad(Some(scaled));
    }
    crate::autograd::with_no_grad(|| sumsq.sqrt())
}
