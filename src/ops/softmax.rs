//! Softmax and log-softmax over the last axis (`shaders/softmax.wgsl`), max-subtracted.

use super::launch;
use super::variant::Variant;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

fn softmax_raw(x: &Tensor, log: bool) -> Result<Tensor> {
    if x.rank() == 0 {
        bail!("softmax needs at least one axis, got a scalar");
    }
    let n = x.dim(-1);
    let rows = x.numel() / n;
    let y = Tensor::empty(x.shape())?;
    match Variant::current() {
        Variant::Tiled => super::rows::tiled::softmax(x, &y, rows, n, log)?,
        Variant::Subgroup | Variant::Regblock => launch(
            &shader!("softmax"),
            "softmax",
            &[("LOG", if log { 1.0 } else { 0.0 })],
            &[rows as u32, n as u32],
            &[x.bind(), y.bind()],
            rows,
            64,
        )?,
    }
    Ok(y)
}

impl Tensor {
    /// softmax over the last axis.
    pub fn softmax(&self) -> Result<Tensor> {
        let y = softmax_raw(self, false)?;
        Ok(Tensor::from_op(y, "softmax", &[self], |out, g| {
            // dx = y ⊙ (g − Σ g⊙y)
            let y = out.detach();
            let s = g.mul(&y)?.sum(-1, true)?;
            Ok(vec![Some(y.mul(&g.sub(&s)?)?)])
        }))
    }

    /// log(softmax) over the last axis.
    pub fn log_softmax(&self) -> Result<Tensor> {
        let y = softmax_raw(self, true)?;
        Ok(Tensor::from_op(y, "log_softmax", &[self], |out, g| {
            // dx = g − softmax(x) ⊙ Σ g
            let p = out.detach().exp()?;
            let s = g.sum(-1, true)?;
            Ok(vec![Some(g.sub(&p.mul(&s)?)?)])
        }))
    }
}
