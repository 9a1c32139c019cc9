//! Elementwise ops: unary (`shaders/unary.wgsl`), binary with NumPy broadcasting
//! (`shaders/binary.wgsl`, `shaders/binary_bcast.wgsl`), and scalar variants
//! (the raw fill a tensor is created with is `gpu::fill`, below the tape).
//! Backward rules are built from the same ops (the gradient of `exp` is `g * exp(x)`, ...).

use super::divisor::{Axis, axis_words, merge_axes};
use super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// Unary op codes; must match the constants at the top of `shaders/unary.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Unary {
    Neg = 0,
    Exp = 1,
    Log = 2,
    Sqrt = 3,
    Rsqrt = 4,
    Relu = 5,
    Gelu = 6,
    Sigmoid = 7,
    Tanh = 8,
    Abs = 9,
    Affine = 10,
    PowScalar = 11,
    Step = 12,
    Sign = 13,
    GeluGrad = 14,
    Recip = 15,
}

/// Binary op codes; must match `shaders/_binary_ops.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Binary {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Max = 4,
    Min = 5,
    Pow = 6,
    Ge = 7,
    Lt = 8,
    Le = 9,
    Gt = 10,
}

/// Runs a unary kernel without recording anything on the tape.
pub fn unary_raw(x: &Tensor, op: Unary, a: f32, b: f32) -> Result<Tensor> {
    let y = Tensor::empty(x.shape())?;
    let n4 = x.numel().div_ceil(4);
    launch(
        &shader!("unary", "_erfc"),
        "unary",
        &[("OP", op as u32 as f64)],
        &[n4 as u32, a.to_bits(), b.to_bits()],
        &[x.bind_vec4(), y.bind_vec4()],
        n4,
        256,
    )?;
    Ok(y)
}

/// NumPy broadcasting of two shapes (aligned at the trailing axis).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => bail!("shapes {a:?} and {b:?} cannot be broadcast together"),
        };
    }
    Ok(out)
}

/// Strides of `shape` read as the broadcast `out` shape (0 along broadcast axes).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let mut strides = vec![0; r];
    let mut s = 1usize;
    for i in (0..shape.len()).rev() {
        let oi = i + r - shape.len();
        strides[oi] = if shape[i] == 1 && out[oi] != 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

const MAX_RANK: usize = 8;

/// Runs a binary kernel without recording anything on the tape.
pub fn binary_raw(a: &Tensor, b: &Tensor, op: Binary) -> Result<Tensor> {
    let opc = [("OP", op as u32 as f64)];
    if a.shape() == b.shape() {
        let y = Tensor::empty(a.shape())?;
        let n4 = a.numel().div_ceil(4);
        launch(
            &shader!("binary", "_binary_ops"),
            "binary_same",
            &opc,
            &[n4 as u32],
            &[a.bind_vec4(), b.bind_vec4(), y.bind_vec4()],
            n4,
            256,
        )?;
        return Ok(y);
    }
    let out = broadcast_shape(a.shape(), b.shape())?;
    bcast_launch(a, b, &out, op as u32)
}

/// Copies `a` broadcast to `shape` (the kernel's default op returns its first operand; `b` is
/// bound but never read).
pub(crate) fn binary_raw_to(a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    const FIRST: u32 = 99;
    bcast_launch(a, b, shape, FIRST)
}

fn bcast_launch(a: &Tensor, b: &Tensor, out: &[usize], op: u32) -> Result<Tensor> {
    if out.len() > MAX_RANK {
        bail!("broadcasting supports rank up to {MAX_RANK}, got {out:?}");
    }
    let y = Tensor::empty(out)?;
    // [B, T, D] + [T, D] runs as [B, T·D]: each axis left costs the kernel a division.
    let axes = merge_axes(
        out,
        &broadcast_strides(a.shape(), out),
        &broadcast_strides(b.shape(), out),
    );
    if let Some(axes4) = in_fours(&axes) {
        return bcast4_launch(a, b, y, &axes4, op);
    }
    let w = axis_words([y.numel(), axes.len(), 0, 0], &axes);
    launch(
        &shader!("binary_bcast", "_binary_ops", "_udiv"),
        "binary_bcast",
        &[("OP", op as f64)],
        &w,
        &[a.bind(), b.bind(), y.bind()],
        y.numel(),
        256,
    )?;
    Ok(y)
}

/// The axes with the innermost counted in groups of four, when `binary_bcast4` can run them:
/// the innermost length divisible by 4 and each operand's stride there 1 (then every outer
/// stride of it divisible by 4, so each group is one of its vec4s) or 0 (one value repeated).
fn in_fours(axes: &[Axis]) -> Option<Vec<Axis>> {
    let (&(n, sa, sb), outer) = axes.split_last()?;
    let aligned = |inner: usize, stride: fn(&Axis) -> usize| match inner {
        0 => true,
        1 => outer.iter().all(|x| stride(x).is_multiple_of(4)),
        _ => false,
    };
    let fits = n.is_multiple_of(4) && aligned(sa, |x| x.1) && aligned(sb, |x| x.2);
    fits.then(|| {
        let mut v = outer.to_vec();
        v.push((n / 4, sa, sb));
        v
    })
}

fn bcast4_launch(a: &Tensor, b: &Tensor, y: Tensor, axes: &[Axis], op: u32) -> Result<Tensor> {
    let groups = y.numel() / 4;
    let &(_, sa, sb) = axes.last().expect("an innermost axis");
    let w = axis_words([groups, axes.len(), sa, sb], axes);
    launch(
        &shader!("binary_bcast4", "_binary_ops", "_udiv"),
        "binary_bcast4",
        &[("OP", op as f64)],
        &w,
        &[a.bind_vec4(), b.bind_vec4(), y.bind_vec4()],
        groups,
        256,
    )?;
    Ok(y)
}

/// Generates a unary method whose backward is `g * rule(x, y)`.
macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:ident, |$x:ident, $y:ident| $grad:expr;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Result<Tensor> {
                    let y = unary_raw(self, Unary::$op, 0.0, 0.0)?;
                    Ok(Tensor::from_op(y, stringify!($name), &[self], |out, g| {
                        let $x = &out.op_inputs()[0];
                        let $y = out;
                        let local: Tensor = $grad?;
                        Ok(vec![Some(g.mul(&local)?)])
                    }))
                }
            )*
        }
    };
}

unary_ops! {
    /// e^x
    exp => Exp, |_x, y| Ok::<_, anyhow::Error>(y.detach());
    /// Natural logarithm.
    log => Log, |x, _y| unary_raw(x, Unary::Recip, 0.0, 0.0);
    sqrt => Sqrt, |_x, y| unary_raw(y, Unary::Recip, 0.0, 0.0).and_then(|r| r.mul_scalar(0.5));
    /// 1/√x
    rsqrt => Rsqrt, |_x, y| unary_raw(y, Unary::PowScalar, 3.0, 0.0).and_then(|r| r.mul_scalar(-0.5));
    relu => Relu, |x, _y| unary_raw(x, Unary::Step, 0.0, 0.0);
    /// GELU, exact erf form (as PyTorch's `nn.GELU()`).
    gelu => Gelu, |x, _y| unary_raw(x, Unary::GeluGrad, 0.0, 0.0);
    sigmoid => Sigmoid, |_x, y| unary_raw(y, Unary::Affine, -1.0, 1.0).and_then(|one_minus| binary_raw(y, &one_minus, Binary::Mul));
    tanh => Tanh, |_x, y| unary_raw(y, Unary::PowScalar, 2.0, 0.0).and_then(|y2| unary_raw(&y2, Unary::Affine, -1.0, 1.0));
    abs => Abs, |x, _y| unary_raw(x, Unary::Sign, 0.0, 0.0);
    /// 1/x
    recip => Recip, |_x, y| unary_raw(y, Unary::PowScalar, 2.0, 0.0).and_then(|y2| y2.mul_scalar(-1.0));
}

impl Tensor {
    pub fn neg(&self) -> Result<Tensor> {
        self.affine(-1.0, 0.0)
    }

    /// x·a + b
    pub fn affine(&self, a: f32, b: f32) -> Result<Tensor> {
        let y = unary_raw(self, Unary::Affine, a, b)?;
        Ok(Tensor::from_op(y, "affine", &[self], move |_, g| {
            Ok(vec![Some(g.mul_scalar(a)?)])
        }))
    }

    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.affine(1.0, s)
    }

    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        self.affine(s, 0.0)
    }

    /// x^e for a constant exponent (integer exponents accept negative x).
    pub fn pow_scalar(&self, e: f32) -> Result<Tensor> {
        let y = unary_raw(self, Unary::PowScalar, e, 0.0)?;
        Ok(Tensor::from_op(y, "pow_scalar", &[self], move |out, g| {
            let x = &out.op_inputs()[0];
            let d = unary_raw(x, Unary::PowScalar, e - 1.0, 0.0)?.mul_scalar(e)?;
            Ok(vec![Some(g.mul(&d)?)])
        }))
    }

    pub fn square(&self) -> Result<Tensor> {
        self.pow_scalar(2.0)
    }

    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        let y = binary_raw(self, o, Binary::Add)?;
        let (sa, sb) = (self.shape().to_vec(), o.shape().to_vec());
        Ok(Tensor::from_op(y, "add", &[self, o], move |_, g| {
            Ok(vec![Some(g.sum_to(&sa)?), Some(g.sum_to(&sb)?)])
        }))
    }

    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        let y = binary_raw(self, o, Binary::Sub)?;
        let (sa, sb) = (self.shape().to_vec(), o.shape().to_vec());
        Ok(Tensor::from_op(y, "sub", &[self, o], move |_, g| {
            Ok(vec![
                Some(g.sum_to(&sa)?),
                Some(g.mul_scalar(-1.0)?.sum_to(&sb)?),
            ])
        }))
    }

    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        let y = binary_raw(self, o, Binary::Mul)?;
        Ok(Tensor::from_op(y, "mul", &[self, o], |out, g| {
            let i = out.op_inputs();
            let (a, b) = (&i[0], &i[1]);
            let ga = if a.requires_grad() {
                Some(binary_raw(g, b, Binary::Mul)?.sum_to(a.shape())?)
            } else {
                None
            };
            let gb = if b.requires_grad() {
                Some(binary_raw(g, a, Binary::Mul)?.sum_to(b.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }))
    }

    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        let y = binary_raw(self, o, Binary::Div)?;
        Ok(Tensor::from_op(y, "div", &[self, o], |out, g| {
            let i = out.op_inputs();
            let (a, b) = (&i[0], &i[1]);
            let gb_over = binary_raw(g, b, Binary::Div)?; // g / b
            let ga = if a.requires_grad() {
                Some(gb_over.sum_to(a.shape())?)
            } else {
                None
            };
            let gb = if b.requires_grad() {
                // -g·a/b² = -(g/b)·(y)  with y = a/b
                let t = binary_raw(&gb_over, &out.detach(), Binary::Mul)?.mul_scalar(-1.0)?;
                Some(t.sum_to(b.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }))
    }

    /// Elementwise maximum; at ties the gradient goes to `self`.
    pub fn maximum(&self, o: &Tensor) -> Result<Tensor> {
        self.select_binary(o, Binary::Max, Binary::Ge, Binary::Lt, "maximum")
    }

    /// Elementwise minimum; at ties the gradient goes to `self`.
    pub fn minimum(&self, o: &Tensor) -> Result<Tensor> {
        self.select_binary(o, Binary::Min, Binary::Le, Binary::Gt, "minimum")
    }

    fn select_binary(
        &self,
        o: &Tensor,
        op: Binary,
        pick_a: Binary,
        pick_b: Binary,
        name: &'static str,
    ) -> Result<Tensor> {
        let y = binary_raw(self, o, op)?;
        Ok(Tensor::from_op(y, name, &[self, o], move |out, g| {
            let i = out.op_inputs();
            let (a, b) = (&i[0], &i[1]);
            let ma = binary_raw(a, b, pick_a)?;
            let mb = binary_raw(a, b, pick_b)?;
            Ok(vec![
                Some(binary_raw(g, &ma, Binary::Mul)?.sum_to(a.shape())?),
                Some(binary_raw(g, &mb, Binary::Mul)?.sum_to(b.shape())?),
            ])
        }))
    }

    /// a^b elementwise (a > 0 where b is not an integer).
    pub fn pow(&self, o: &Tensor) -> Result<Tensor> {
        let y = binary_raw(self, o, Binary::Pow)?;
        Ok(Tensor::from_op(y, "pow", &[self, o], |out, g| {
            let i = out.op_inputs();
            let (a, b) = (&i[0], &i[1]);
            let y = out.detach();
            // d/da = b·a^(b-1) = b·y/a ; d/db = y·ln a
            let ga = binary_raw(&binary_raw(&y, a, Binary::Div)?, b, Binary::Mul)?;
            let ga = binary_raw(g, &ga, Binary::Mul)?.sum_to(a.shape())?;
            let gb = if b.requires_grad() {
                let l = unary_raw(a, Unary::Log, 0.0, 0.0)?;
                Some(
                    binary_raw(g, &binary_raw(&y, &l, Binary::Mul)?, Binary::Mul)?
                        .sum_to(b.shape())?,
                )
            } else {
                None
            };
            Ok(vec![Some(ga), gb])
        }))
    }
}
