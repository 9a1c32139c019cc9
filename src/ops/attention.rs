//! Fused scaled-dot-product attention (`shaders/attention_fwd.wgsl`,
//! `shaders/attention_bwd.wgsl`): out = softmax(Q·Kᵀ·scale + mask)·V with an online softmax
//! (no T×T matrix), saving only the per-row log-sum-exp for the backward, which recomputes the
//! probabilities. One invocation per query row (forward, dQ) or key row (dK, dV), no barriers
//! and no atomics; the choice and its trade-offs are written at the top of the shaders.
//! On `KernelClass::Gpu` adapters the forward, dQ and dK/dV kernels are the tiled ones of
//! `shaders/attention_gpu.wgsl` (workgroups of 64 rows with the other side's rows staged in
//! workgroup memory); they take the same bindings and save the same state.

use super::launch;
use crate::gpu::{self, KernelClass};
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

/// Largest head dimension the kernels' per-invocation accumulators hold (`MAXD` in the shaders).
pub const MAX_HEAD_DIM: usize = 128;

/// Scaled-dot-product attention over q [B, H, Tq, Dh] and k, v [B, H, Tk, Dh], with an
/// optional additive key mask [B, Tk] (added to every query's scores of that batch row, e.g.
/// 0 / −inf for padding). Gradients flow to q, k and v; the mask is treated as a constant.
/// A query row whose keys are all −inf gives NaN, as in PyTorch.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    scale: f32,
) -> Result<Tensor> {
    let &[b, h, tq, dh] = q.shape() else {
        bail!(
            "attention expects q of shape [B, H, T, Dh], got {:?}",
            q.shape()
        );
    };
    let tk = if k.rank() == 4 { k.shape()[2] } else { 0 };
    if k.shape() != [b, h, tk, dh] || v.shape() != k.shape() {
        bail!(
            "attention: k {:?} and v {:?} must both be [B, H, Tk, Dh] matching q {:?}",
            k.shape(),
            v.shape(),
            q.shape()
        );
    }
    if let Some(m) = mask
        && m.shape() != [b, tk]
    {
        bail!(
            "attention: mask has shape {:?}, expected [B, Tk] = [{b}, {tk}]",
            m.shape()
        );
    }
    if dh > MAX_HEAD_DIM || dh == 0 || tk == 0 {
        bail!(
            "attention supports head dims 1..={MAX_HEAD_DIM} and at least one key, got q {:?}, k {:?}",
            q.shape(),
            k.shape()
        );
    }
    let rows = b * h * tq;
    let params = [
        rows as u32,
        h as u32,
        tq as u32,
        tk as u32,
        dh as u32,
        scale.to_bits(),
    ];
    let has_mask = [
        ("HAS_MASK", if mask.is_some() { 1.0 } else { 0.0 }),
        ("DH", dh as f64),
    ];
    // Without a mask the binding still needs a buffer; q is never read through it.
    let mask_t = mask.cloned().unwrap_or_else(|| q.clone());
    let out = Tensor::empty(q.shape())?;
    let lse = Tensor::empty(&[b, h, tq])?;
    // The tiled kernels run one workgroup of 64 invocations per (b·h, block of 64 rows).
    let tiled = gpu::ctx().kernel_class() == KernelClass::Gpu;
    let invocations = move |t: usize| {
        if tiled {
            b * h * t.div_ceil(64) * 64
        } else {
            b * h * t
        }
    };
    let (fwd, bwd) = if tiled {
        (shader!("attention_gpu"), shader!("attention_gpu"))
    } else {
        (shader!("attention_fwd"), shader!("attention_bwd"))
    };
    let entry = move |cpu: &'static str, gpu: &'static str| if tiled { gpu } else { cpu };
    launch(
        &fwd,
        entry("attn_fwd", "attn_gpu_fwd"),
        &has_mask,
        &params,
        &[
            q.bind(),
            k.bind(),
            v.bind(),
            mask_t.bind(),
            out.bind(),
            lse.bind(),
        ],
        invocations(tq),
        64,
    )?;
    Ok(Tensor::from_op(
        out,
        "attention",
        &[q, k, v],
        move |out, g| {
            let inputs = &out.0.node.as_ref().expect("node").inputs;
            let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
            let ld = Tensor::empty(&[rows, 2])?;
            // δ is one short row dot product: the barrier-free kernel serves both classes.
            launch(
                &shader!("attention_bwd"),
                "attn_delta",
                &has_mask[1..],
                &params,
                &[out.bind(), g.bind(), lse.bind(), ld.bind()],
                rows,
                64,
            )?;
            let dq = Tensor::empty(q.shape())?;
            launch(
                &bwd,
                entry("attn_dq", "attn_gpu_dq"),
                &has_mask,
                &params,
                &[
                    q.bind(),
                    k.bind(),
                    v.bind(),
                    mask_t.bind(),
                    g.bind(),
                    ld.bind(),
                    dq.bind(),
                ],
                invocations(tq),
                64,
            )?;
            let dk = Tensor::empty(k.shape())?;
            let dv = Tensor::empty(v.shape())?;
            launch(
                &bwd,
                entry("attn_dkv", "attn_gpu_dkv"),
                &has_mask,
                &params,
                &[
                    q.bind(),
                    k.bind(),
                    v.bind(),
                    mask_t.bind(),
                    g.bind(),
                    ld.bind(),
                    dk.bind(),
                    dv.bind(),
                ],
                invocations(tk),
                64,
            )?;
            Ok(vec![Some(dq), Some(dk), Some(dv)])
        },
    ))
}
