//! Reductions over one axis (`shaders/reduce.wgsl`): sum, mean, max, argmax; plus `sum_to`
//! (the adjoint of broadcasting) and `broadcast_to`.

use super::elementwise::{Binary, binary_raw, broadcast_shape};
use super::launch;
use super::rows::tiled;
use super::variant::Variant;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

const SUM: u32 = 0;
const MAX: u32 = 1;
const ARGMAX: u32 = 2;
/// Values one invocation reduces per launch; longer axes take several launches.
const CHUNK: usize = 256;
/// llvmpipe (lavapipe) silently stops a shader loop after 65,536 iterations, so no invocation
/// may loop longer than this.
const MAX_LOOP: usize = 65_536;

/// Reduces axis `axis` of `x` viewed as (outer, n, inner); the result keeps the axis with size 1.
fn reduce_raw(x: &Tensor, axis: usize, op: u32) -> Result<Tensor> {
    let shape = x.shape();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let mut n = shape[axis];
    if n == 0 {
        bail!("cannot reduce an empty axis of shape {shape:?}");
    }
    if op == SUM && inner == 1 && Variant::current() == Variant::Tiled && tiled::fits(n) {
        let mut out_shape = shape.to_vec();
        out_shape[axis] = 1;
        let y = Tensor::empty(&out_shape)?;
        tiled::sum_rows(x, &y, outer, n)?;
        return Ok(y);
    }
    let mut cur = x.clone();
    loop {
        // Argmax in one pass (its partial results would be indices, not values).
        if op == ARGMAX && n > MAX_LOOP {
            bail!(
                "argmax over an axis of {n} values: at most {MAX_LOOP} are supported (shape {shape:?})"
            );
        }
        let chunk = if op == ARGMAX { n } else { CHUNK };
        let nchunks = n.div_ceil(chunk);
        let mut out_shape = shape.to_vec();
        out_shape[axis] = nchunks;
        let y = Tensor::empty(&out_shape)?;
        let params = [outer, n, inner, chunk, nchunks].map(|v| v as u32);
        launch(
            &shader!("reduce"),
            "reduce",
            &[("OP", op as f64)],
            &params,
            &[cur.bind(), y.bind()],
            outer * nchunks * inner,
            256,
        )?;
        if nchunks == 1 {
            return Ok(y);
        }
        cur = y;
        n = nchunks;
    }
}

fn squeeze(shape: &[usize], axis: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.remove(axis);
    s
}

impl Tensor {
    /// Sum over `axis` (negative counts from the end).
    pub fn sum(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let ax = self.axis(axis);
        let y = reduce_raw(self, ax, SUM)?;
        let y = if keepdim {
            y
        } else {
            y.reshape(&squeeze(self.shape(), ax))?
        };
        let in_shape = self.shape().to_vec();
        let kept = y.shape().len() == in_shape.len();
        Ok(Tensor::from_op(y, "sum", &[self], move |_, g| {
            let mut ks = in_shape.clone();
            ks[ax] = 1;
            let g = if kept { g.clone() } else { g.reshape(&ks)? };
            Ok(vec![Some(g.broadcast_to(&in_shape)?)])
        }))
    }

    pub fn mean(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let n = self.dim(axis) as f32;
        self.sum(axis, keepdim)?.mul_scalar(1.0 / n)
    }

    /// Sum of all values, shape [].
    pub fn sum_all(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.sum(0, false)
    }

    pub fn mean_all(&self) -> Result<Tensor> {
        let n = self.numel() as f32;
        self.sum_all()?.mul_scalar(1.0 / n)
    }

    /// Maximum over `axis`; the gradient flows to every position equal to the maximum.
    pub fn max(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let ax = self.axis(axis);
        let yk = reduce_raw(self, ax, MAX)?;
        let y = if keepdim {
            yk.clone()
        } else {
            yk.reshape(&squeeze(self.shape(), ax))?
        };
        let in_shape = self.shape().to_vec();
        Ok(Tensor::from_op(y, "max", &[self], move |out, g| {
            let x = &out.op_inputs()[0];
            let mut ks = in_shape.clone();
            ks[ax] = 1;
            let m = out.detach().reshape(&ks)?;
            let mask = binary_raw(x, &m, Binary::Ge)?;
            let g = g.reshape(&ks)?;
            Ok(vec![Some(binary_raw(&mask, &g, Binary::Mul)?)])
        }))
    }

    /// Index of the first maximum along `axis` (as f32 values; not differentiable).
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let ax = self.axis(axis);
        let y = reduce_raw(self, ax, ARGMAX)?;
        if keepdim {
            Ok(y)
        } else {
            y.reshape(&squeeze(self.shape(), ax))
        }
    }

    /// Sums a broadcast result back down to `shape` (the backward of broadcasting).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let r = self.rank();
        if shape.len() > r || broadcast_shape(shape, self.shape())? != self.shape() {
            bail!("cannot sum shape {:?} down to {shape:?}", self.shape());
        }
        let mut cur = self.clone();
        for ax in 0..r {
            let target = if ax + shape.len() >= r {
                shape[ax + shape.len() - r]
            } else {
                1
            };
            if target == 1 && cur.shape()[ax] != 1 {
                cur = cur.sum(ax as isize, true)?;
            }
        }
        cur.reshape(shape)
    }

    /// Repeats size-1 axes (NumPy rules) to `shape`; the backward sums back.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        if broadcast_shape(self.shape(), shape)? != shape {
            bail!("cannot broadcast {:?} to {shape:?}", self.shape());
        }
        // A zero-stride copy: the broadcasting kernel with an op that returns its first operand.
        let zero = Tensor::empty(&[1])?;
        let y = super::elementwise::binary_raw_to(self, &zero, shape)?;
        let from = self.shape().to_vec();
        Ok(Tensor::from_op(y, "broadcast_to", &[self], move |_, g| {
            Ok(vec![Some(g.sum_to(&from)?)])
        }))
    }
}
