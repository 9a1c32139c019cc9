//! `Tensor`: f32 data on the GPU with a contiguous row-major shape, plus its place in the
//! autograd graph (the [`Node`] that made it). Cloning is cheap (shared handle); views share the
//! buffer; permutes and slices are explicit copies (see `ops::plumbing`).
//!
//! This file is the floor under the tape: it holds what a recorded op leaves behind but records
//! nothing itself. Recording (`Tensor::from_op`), grad mode and `backward` are the tape's
//! (`autograd`), one floor up, so tensor imports only `gpu`.

use crate::gpu::{self, Binding, GpuBuffer};
use anyhow::{Result, bail};
use rand::{RngExt, SeedableRng};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<Inner>);

pub(crate) struct Inner {
    pub(crate) id: usize,
    pub(crate) buf: Arc<GpuBuffer>,
    pub(crate) shape: Vec<usize>,
    pub(crate) requires_grad: bool,
    /// How this tensor was computed, when it needs a gradient and is not a leaf.
    pub(crate) node: Option<Node>,
    /// Accumulated gradient of a leaf that requires grad (a parameter).
    pub(crate) grad: RefCell<Option<Tensor>>,
}

/// Backward rule: given the op's output and the gradient flowing into it, the gradient for each
/// input (`None` where an input needs none).
pub type BackwardFn = Box<dyn Fn(&Tensor, &Tensor) -> Result<Vec<Option<Tensor>>>>;

/// How a tensor was computed: the op, its inputs and its backward rule (recorded by the tape).
pub struct Node {
    pub name: &'static str,
    pub inputs: Vec<Tensor>,
    pub backward: BackwardFn,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?}", self.shape())
    }
}

impl Tensor {
    pub(crate) fn wrap(
        buf: Arc<GpuBuffer>,
        shape: Vec<usize>,
        requires_grad: bool,
        node: Option<Node>,
    ) -> Tensor {
        Tensor(Rc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            buf,
            shape,
            requires_grad,
            node,
            grad: RefCell::new(None),
        }))
    }

    /// A tensor with uninitialised contents (kernels write every element).
    pub fn empty(shape: &[usize]) -> Result<Tensor> {
        let ctx = gpu::ctx();
        let buf = ctx.alloc((numel(shape) * 4) as u64)?;
        let t = Tensor::wrap(buf, shape.to_vec(), false, None);
        if ctx.poison() {
            t.fill(f32::NAN)?;
        }
        Ok(t)
    }

    pub fn from_slice(data: &[f32], shape: &[usize]) -> Result<Tensor> {
        if data.len() != numel(shape) {
            bail!(
                "{} values cannot fill a tensor of shape {shape:?}",
                data.len()
            );
        }
        let t = Tensor::empty(shape)?;
        gpu::ctx().upload(&t.0.buf, bytemuck::cast_slice(data));
        Ok(t)
    }

    pub fn scalar(v: f32) -> Result<Tensor> {
        Tensor::from_slice(&[v], &[])
    }

    pub fn full(shape: &[usize], v: f32) -> Result<Tensor> {
        let t = Tensor::empty(shape)?;
        t.fill(v)?;
        Ok(t)
    }

    pub fn zeros(shape: &[usize]) -> Result<Tensor> {
        Tensor::full(shape, 0.0)
    }

    pub fn ones(shape: &[usize]) -> Result<Tensor> {
        Tensor::full(shape, 1.0)
    }

    /// Standard normal values from a seeded generator (same seed, same values, any device).
    pub fn randn(shape: &[usize], seed: u64) -> Result<Tensor> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let normal = rand_distr::StandardNormal;
        let data: Vec<f32> = (0..numel(shape))
            .map(|_| rng.sample::<f32, _>(normal))
            .collect();
        Tensor::from_slice(&data, shape)
    }

    /// Uniform values in [lo, hi) from a seeded generator.
    pub fn rand(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Result<Tensor> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let data: Vec<f32> = (0..numel(shape))
            .map(|_| rng.random_range(lo..hi))
            .collect();
        Tensor::from_slice(&data, shape)
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    pub fn numel(&self) -> usize {
        numel(&self.0.shape)
    }

    pub fn id(&self) -> usize {
        self.0.id
    }

    pub fn buffer(&self) -> &Arc<GpuBuffer> {
        &self.0.buf
    }

    /// This tensor bound to a kernel (exactly its bytes, not the pooled buffer's size class).
    pub fn bind(&self) -> Binding<'_> {
        Binding {
            buffer: &self.0.buf,
            bytes: (self.numel() * 4) as u64,
        }
    }

    /// This tensor bound as whole vec4s (for kernels that read vec4 arrays): pooled buffers are
    /// multiples of 32 bytes, so the padding exists and belongs to this tensor alone.
    pub fn bind_vec4(&self) -> Binding<'_> {
        Binding {
            buffer: &self.0.buf,
            bytes: (self.numel().next_multiple_of(4) * 4) as u64,
        }
    }

    /// Overwrites every value with `v`, in stream order, recording nothing (creation, test
    /// poisoning, fault injection).
    pub(crate) fn fill(&self, v: f32) -> Result<()> {
        gpu::fill(self.bind_vec4(), self.numel(), v)
    }

    /// Size of dimension `d`; negative counts from the end.
    pub fn dim(&self, d: isize) -> usize {
        self.0.shape[self.axis(d)]
    }

    /// Resolves a possibly negative axis.
    pub fn axis(&self, d: isize) -> usize {
        let r = self.rank() as isize;
        let a = if d < 0 { d + r } else { d };
        assert!(
            (0..r).contains(&a),
            "axis {d} out of range for shape {:?}",
            self.shape()
        );
        a as usize
    }

    /// Copies the data to the host (waits for all work recorded so far).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        let bytes = gpu::ctx()
            .read_async(&self.0.buf, (self.numel() * 4) as u64)
            .wait()?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// [`Tensor::to_vec`] without blocking (what a browser page must use).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        let bytes = gpu::ctx()
            .read_async(&self.0.buf, (self.numel() * 4) as u64)
            .wait_async()
            .await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            bail!(
                "item() needs a one-element tensor, got shape {:?}",
                self.shape()
            );
        }
        Ok(self.to_vec()?[0])
    }

    /// A view with another shape over the same data, not part of the graph (`reshape` records
    /// it); one dimension may be `usize::MAX` (-1).
    pub(crate) fn view(&self, shape: &[usize]) -> Result<Tensor> {
        let mut shape = shape.to_vec();
        if let Some(pos) = shape.iter().position(|&d| d == usize::MAX) {
            let rest: usize = shape.iter().filter(|&&d| d != usize::MAX).product();
            if rest == 0 || !self.numel().is_multiple_of(rest) {
                bail!("cannot reshape {:?} to {:?}", self.shape(), shape);
            }
            shape[pos] = self.numel() / rest;
        }
        if numel(&shape) != self.numel() {
            bail!(
                "cannot reshape {:?} ({} values) to {:?}",
                self.shape(),
                self.numel(),
                shape
            );
        }
        Ok(Tensor::wrap(self.0.buf.clone(), shape, false, None))
    }

    /// A copy of the data that is not part of the graph.
    pub fn detach(&self) -> Tensor {
        Tensor::wrap(self.0.buf.clone(), self.0.shape.clone(), false, None)
    }

    // ---- autograd surface ----

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// A leaf that accumulates a gradient (a parameter): shares this tensor's data.
    pub fn param(&self) -> Tensor {
        Tensor::wrap(self.0.buf.clone(), self.0.shape.clone(), true, None)
    }

    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// The inputs of the op that made this tensor, in the order the op recorded them. Backward
    /// rules call it on their output, which always has a node.
    pub(crate) fn op_inputs(&self) -> &[Tensor] {
        &self
            .0
            .node
            .as_ref()
            .expect("a recorded op's output has a node")
            .inputs
    }

    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.borrow().clone()
    }

    pub fn set_grad(&self, g: Option<Tensor>) {
        *self.0.grad.borrow_mut() = g;
    }

    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// Overwrites this tensor's data with `src`'s (same number of values), in stream order.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        if src.numel() != self.numel() {
            bail!("cannot assign {:?} to {:?}", src.shape(), self.shape());
        }
        gpu::ctx().copy(&src.0.buf, 0, &self.0.buf, 0, (self.numel() * 4) as u64);
        Ok(())
    }

    /// A new tensor with a copy of the data (not part of the graph).
    pub fn deep_clone(&self) -> Result<Tensor> {
        let t = Tensor::empty(self.shape())?;
        t.assign(self)?;
        Ok(t)
    }
}

/// Checks that two shapes are equal, naming both in the error.
pub fn same_shape(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.shape() != b.shape() {
        bail!("{op}: shapes {:?} and {:?} differ", a.shape(), b.shape());
    }
    Ok(())
}
