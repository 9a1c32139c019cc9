//! Fused elementwise chains the models run (`shaders/fused.wgsl`), each with its backward:
//! `add_relu` (ResNet's residual add + ReLU) and `bias_gelu` (a Linear's bias + GELU in the
//! transformer MLP). One pass over memory instead of two (forward) or three (backward), on both
//! kernel families; the same f32 operations as the unfused ops, so the values agree to rounding.

use super::divisor::Divisor;
use super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

const WG: u32 = 256;

/// Runs one fused kernel over `out`'s elements; `cols` is the bias length (bias_gelu*).
fn run(entry: &'static str, ins: &[&Tensor], out: &Tensor, cols: usize) -> Result<()> {
    let n = out.numel();
    let mut binds = vec![ins[0].bind(), ins[1].bind(), out.bind()];
    binds.extend(ins.get(2).map(|g| g.bind()));
    let d = Divisor::new(cols as u32);
    launch(
        &shader!("fused", "_erfc", "_udiv"),
        entry,
        &[],
        &[n as u32, cols as u32, d.magic, d.shifts],
        &binds,
        n,
        WG,
    )
}

/// `bias_gelu` / `bias_gelu_grad` over `out`'s elements for a bias of `cols`: four at a time
/// (`shaders/fused_bias4.wgsl`) when `cols` is divisible by 4, else one at a time.
fn run_bias(entry: &'static str, ins: &[&Tensor], out: &Tensor, cols: usize) -> Result<()> {
    if !cols.is_multiple_of(4) {
        return run(entry, ins, out, cols);
    }
    let n4 = out.numel() / 4;
    let mut binds = vec![ins[0].bind_vec4(), ins[1].bind_vec4(), out.bind_vec4()];
    binds.extend(ins.get(2).map(|g| g.bind_vec4()));
    let d = Divisor::new((cols / 4) as u32);
    let entry4 = match entry {
        "bias_gelu" => "bias_gelu4",
        _ => "bias_gelu_grad4",
    };
    launch(
        &shader!("fused_bias4", "_erfc", "_udiv"),
        entry4,
        &[],
        &[n4 as u32, (cols / 4) as u32, d.magic, d.shifts],
        &binds,
        n4,
        WG,
    )
}

/// g where `y` (the output of a ReLU) is positive, else 0: the backward of any op that ends in
/// a ReLU, in one pass.
pub(crate) fn relu_grad(y: &Tensor, g: &Tensor) -> Result<Tensor> {
    let d = Tensor::empty(y.shape())?;
    if d.numel() > 0 {
        run("relu_grad", &[&y.detach(), g], &d, 1)?;
    }
    Ok(d)
}

impl Tensor {
    /// relu(self + other) for tensors of one shape, in one kernel.
    pub fn add_relu(&self, other: &Tensor) -> Result<Tensor> {
        if self.shape() != other.shape() {
            bail!(
                "add_relu: shapes {:?} and {:?} differ (no broadcasting)",
                self.shape(),
                other.shape()
            );
        }
        let y = Tensor::empty(self.shape())?;
        if y.numel() > 0 {
            run("add_relu", &[self, other], &y, 1)?;
        }
        Ok(Tensor::from_op(y, "add_relu", &[self, other], |out, g| {
            // d(a + b) = g where the output is positive; the same tensor for both inputs.
            let d = relu_grad(out, g)?;
            Ok(vec![Some(d.clone()), Some(d)])
        }))
    }

    /// gelu(self + bias) with `bias` [N] added along the last axis (self [..., N]), in one kernel.
    pub fn bias_gelu(&self, bias: &Tensor) -> Result<Tensor> {
        let n = if self.rank() == 0 { 0 } else { self.dim(-1) };
        if self.rank() == 0 || bias.shape() != [n] || n == 0 {
            bail!(
                "bias_gelu: bias {:?} must be [N] for input {:?} [..., N]",
                bias.shape(),
                self.shape()
            );
        }
        let y = Tensor::empty(self.shape())?;
        run_bias("bias_gelu", &[self, bias], &y, n)?;
        Ok(Tensor::from_op(
            y,
            "bias_gelu",
            &[self, bias],
            move |out, g| {
                let i = out.op_inputs();
                let d = Tensor::empty(i[0].shape())?;
                run_bias("bias_gelu_grad", &[&i[0], &i[1], g], &d, n)?;
                let db = if i[1].requires_grad() {
                    Some(d.reshape(&[usize::MAX, n])?.sum(0, false)?)
                } else {
                    None
                };
                Ok(vec![Some(d), db])
            },
        ))
    }
}
