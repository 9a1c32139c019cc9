//! Batched matrix multiplication with transposed-operand variants, and `linear` (x·Wᵀ + b,
//! PyTorch layout). Kernels: `shaders/matmul_gpu.wgsl` (shared-memory tiles) for GPUs; on CPU
//! adapters `shaders/matmul_subgroup.wgsl` (8-lane subgroups share loaded values by broadcast)
//! where subgroups of 8 exist, else `shaders/matmul_cpu.wgsl` (register blocks).
//!
//! `matmul_t(a, b, ta, tb)` = op(a)·op(b) over the last two axes, op(x) = xᵀ when its flag is set.
//! Batch axes must be equal, or one operand is 2-D and shared across the other's batch. The
//! transposes are read in place by the kernels, which is what lets the backward (and linear
//! layers) avoid copies: dA and dB are themselves matmuls with transposed operands.

use super::variant::Variant;
use crate::gpu::{self, Dispatch, KernelClass};
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// (rows, cols) of op(x) for a rank ≥ 2 tensor.
fn op_dims(x: &Tensor, t: bool) -> (usize, usize) {
    let s = x.shape();
    let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
    if t { (c, r) } else { (r, c) }
}

/// Launches one kernel: `nb` batches of op(a)[M,K]·op(b)[K,N]; `sa`/`sb` are the operands'
/// batch strides in elements (0 for a shared 2-D operand). `bias` [N] is added to every row as C
/// is stored; only the subgroup kernel takes one ([`fuses_bias`]).
#[allow(clippy::too_many_arguments)]
fn launch(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    (m, n, k, nb): (usize, usize, usize, usize),
    (sa, sb): (usize, usize),
    (ta, tb): (bool, bool),
    class: KernelClass,
    bias: Option<&Tensor>,
) -> Result<()> {
    if bias.is_some() && !fuses_bias(class) {
        bail!("matmul: this kernel variant adds no bias (see fuses_bias)");
    }
    if nb > 65_535 {
        bail!("matmul: {nb} batches exceed the 65,535 the grid allows; merge batch axes");
    }
    let params = [m, n, k, sa, sb].map(|v| v as u32);
    let flag = |v: bool| if v { 1.0 } else { 0.0 };
    let ctx = gpu::ctx();
    gpu::profile::note_flops(2.0 * (m * n * k * nb) as f64);
    match Variant::of(class) {
        Variant::Subgroup => {
            // Workgroup = one 8-lane subgroup = a 32×32 tile of C. vec4 loads where runs of 4
            // are contiguous and aligned (batch strides are then multiples of 4 as well).
            let va = !ta && k % 4 == 0;
            let vb = if tb { k % 4 == 0 } else { n % 4 == 0 };
            // A transposed: its stored rows run along M (a weight gradient gᵀ·x).
            let vat = ta && m % 4 == 0;
            ctx.dispatch(Dispatch {
                shader: &shader!("matmul_subgroup", "_fma8"),
                entry: "matmul_subgroup",
                constants: &[
                    ("TA", flag(ta)),
                    ("TB", flag(tb)),
                    ("VA", flag(va)),
                    ("VB", flag(vb)),
                    ("VAT", flag(vat)),
                    ("GROUP_M", 4.0),
                    ("BIAS", flag(bias.is_some())),
                ],
                params: &params,
                // Without a bias the kernel never reads binding 4; op(B) stands in.
                bindings: &[
                    a.bind_vec4(),
                    b.bind_vec4(),
                    c.bind(),
                    bias.unwrap_or(b).bind(),
                ],
                workgroups: [(n.div_ceil(32) * m.div_ceil(32)) as u32, 1, nb as u32],
            })
        }
        Variant::Regblock => {
            // vec4 paths where the contiguous axis of each tensor is a multiple of 4.
            let va = if ta { m % 4 == 0 } else { k % 4 == 0 };
            let vb = if tb { k % 4 == 0 } else { n % 4 == 0 };
            let consts = [
                ("TA", flag(ta)),
                ("TB", flag(tb)),
                ("VA", flag(va)),
                ("VB", flag(vb)),
                ("VC", flag(n % 4 == 0)),
            ];
            // Invocation = 8×8 block of C, workgroup = 8×8 invocations = 64×64 of C.
            ctx.dispatch(Dispatch {
                shader: &shader!("matmul_cpu"),
                entry: "matmul_cpu",
                constants: &consts,
                params: &params,
                bindings: &[a.bind_vec4(), b.bind_vec4(), c.bind_vec4()],
                workgroups: [n.div_ceil(64) as u32, m.div_ceil(64) as u32, nb as u32],
            })
        }
        Variant::Tiled => ctx.dispatch(Dispatch {
            shader: &shader!("matmul_gpu"),
            entry: "matmul_gpu",
            constants: &[("TA", flag(ta)), ("TB", flag(tb))],
            params: &params,
            bindings: &[a.bind(), b.bind(), c.bind()],
            workgroups: [n.div_ceil(64) as u32, m.div_ceil(64) as u32, nb as u32],
        }),
    }
}

/// Whether `class`'s matmul kernel adds a bias as it stores C (the CPU subgroup kernel, where a
/// separate broadcast add would cost a second pass of loads over C). The register-blocked and
/// tiled kernels are left as they were: `linear` adds the bias in its own launch there.
pub fn fuses_bias(class: KernelClass) -> bool {
    Variant::of(class) == Variant::Subgroup
}

/// Sums a batched gradient [batch..., r, c] down to a shared 2-D operand's [r, c].
fn sum_batches(g: Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g);
    }
    g.reshape(&[usize::MAX, shape[0], shape[1]])?.sum(0, false)
}

/// op(a)·op(b) with an explicit kernel family (tests run both on one adapter without touching
/// the process-wide choice). Records the backward, which uses the same family.
pub fn matmul_with(
    a: &Tensor,
    b: &Tensor,
    ta: bool,
    tb: bool,
    class: KernelClass,
) -> Result<Tensor> {
    if a.rank() < 2 || b.rank() < 2 {
        bail!(
            "matmul needs operands of rank ≥ 2, got {:?} and {:?}",
            a.shape(),
            b.shape()
        );
    }
    let (m, k) = op_dims(a, ta);
    let (k2, n) = op_dims(b, tb);
    if k != k2 {
        bail!(
            "matmul: inner sizes differ for {:?}{} · {:?}{}",
            a.shape(),
            if ta { "ᵀ" } else { "" },
            b.shape(),
            if tb { "ᵀ" } else { "" }
        );
    }
    // The CPU kernel loops over k four at a time, and llvmpipe stops shader loops after 65,536
    // iterations: longer contractions would come back silently truncated.
    if class == KernelClass::Cpu && k > 4 * 65_536 {
        bail!(
            "matmul: contraction of {k} values ({:?} · {:?}) is longer than this CPU adapter's kernel supports (262,144); use a smaller batch",
            a.shape(),
            b.shape()
        );
    }
    let (ab, bb) = (&a.shape()[..a.rank() - 2], &b.shape()[..b.rank() - 2]);
    // A batched A times a shared B, A not transposed: one 2-D matmul over the stacked rows
    // (better tiles, and dB comes out summed over the batch without a reduction).
    if !ta && bb.is_empty() && !ab.is_empty() {
        let y = matmul_with(&a.reshape(&[usize::MAX, k])?, b, false, tb, class)?;
        let mut shape = a.shape().to_vec();
        *shape.last_mut().expect("rank ≥ 2") = n;
        return y.reshape(&shape);
    }
    let batch = if ab == bb || bb.is_empty() {
        ab.to_vec()
    } else if ab.is_empty() {
        bb.to_vec()
    } else {
        bail!(
            "matmul: batch axes of {:?} and {:?} differ (they must be equal, or one operand 2-D)",
            a.shape(),
            b.shape()
        );
    };
    let nb: usize = batch.iter().product();
    let mut out_shape = batch.clone();
    out_shape.extend([m, n]);
    let c = if k == 0 {
        Tensor::zeros(&out_shape)?
    } else {
        let c = Tensor::empty(&out_shape)?;
        if c.numel() > 0 {
            let sa = if ab.is_empty() { 0 } else { m * k };
            let sb = if bb.is_empty() { 0 } else { k * n };
            launch(a, b, &c, (m, n, k, nb), (sa, sb), (ta, tb), class, None)?;
        }
        c
    };
    Ok(Tensor::from_op(c, "matmul", &[a, b], move |out, g| {
        let i = out.op_inputs();
        let (a, b) = (&i[0], &i[1]);
        // C = op(A)·op(B): d op(A) = G·op(B)ᵀ, d op(B) = op(A)ᵀ·G; a stored-transposed operand
        // takes the transpose of that, written as a matmul with swapped operands.
        let ga = if a.requires_grad() {
            let d = if ta {
                matmul_with(b, g, tb, true, class)?
            } else {
                matmul_with(g, b, false, !tb, class)?
            };
            Some(sum_batches(d, a.shape())?)
        } else {
            None
        };
        let gb = if b.requires_grad() {
            let d = if tb {
                matmul_with(g, a, true, ta, class)?
            } else {
                matmul_with(a, g, !ta, false, class)?
            };
            Some(sum_batches(d, b.shape())?)
        } else {
            None
        };
        Ok(vec![ga, gb])
    }))
}

impl Tensor {
    /// Batched matrix product over the last two axes (see the module docs for batching).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// op(self)·op(other) with op(x) = xᵀ (last two axes) where the flag is set; no copies.
    pub fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        matmul_with(self, other, trans_a, trans_b, gpu::ctx().kernel_class())
    }
}

/// A linear layer, PyTorch layout: x [..., in] · Wᵀ (W [out, in]) + b [out] → [..., out].
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    linear_with(x, w, b, gpu::ctx().kernel_class())
}

/// [`linear`] with an explicit kernel family.
pub fn linear_with(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    class: KernelClass,
) -> Result<Tensor> {
    if w.rank() != 2 || x.rank() == 0 || x.dim(-1) != w.dim(1) {
        bail!(
            "linear: input {:?} does not fit weight {:?} (want x [..., in], W [out, in])",
            x.shape(),
            w.shape()
        );
    }
    if let Some(b) = b
        && b.shape() != [w.dim(0)]
    {
        bail!(
            "linear: bias {:?} does not fit weight {:?}",
            b.shape(),
            w.shape()
        );
    }
    let x2 = x.reshape(&[usize::MAX, w.dim(1)])?;
    let y = match b {
        Some(b) if fuses_bias(class) && w.dim(1) > 0 && x2.dim(0) * w.dim(0) > 0 => {
            linear_fused(&x2, w, b, class)?
        }
        Some(b) => matmul_with(&x2, w, false, true, class)?.add(b)?,
        None => matmul_with(&x2, w, false, true, class)?,
    };
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("rank ≥ 1") = w.dim(0);
    y.reshape(&shape)
}

/// x [M, K] · Wᵀ + b in one launch (the kernel adds b as it stores). The backward is the
/// unfused one's: dx = g·W and dW = gᵀ·x as matmuls, db = g summed over rows (as `add`'s
/// broadcast gradient).
fn linear_fused(x: &Tensor, w: &Tensor, b: &Tensor, class: KernelClass) -> Result<Tensor> {
    let (m, k, n) = (x.dim(0), x.dim(1), w.dim(0));
    let y = Tensor::empty(&[m, n])?;
    launch(
        x,
        w,
        &y,
        (m, n, k, 1),
        (0, 0),
        (false, true),
        class,
        Some(b),
    )?;
    // Named "matmul" like the unfused path's product, so NaN diagnostics and injected faults
    // (`--fault-nan-op matmul@head`) name the same op on every kernel variant.
    Ok(Tensor::from_op(y, "matmul", &[x, w, b], move |out, g| {
        let i = out.op_inputs();
        let (x, w, b) = (&i[0], &i[1], &i[2]);
        let gx = if x.requires_grad() {
            Some(matmul_with(g, w, false, false, class)?)
        } else {
            None
        };
        let gw = if w.requires_grad() {
            Some(matmul_with(g, x, true, false, class)?)
        } else {
            None
        };
        let gb = if b.requires_grad() {
            Some(g.sum_to(b.shape())?)
        } else {
            None
        };
        Ok(vec![gx, gw, gb])
    }))
}
