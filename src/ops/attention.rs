//! Fused scaled-dot-product attention (`shaders/attention_fwd.wgsl`,
//! `shaders/attention_bwd.wgsl`): out = softmax(Q·Kᵀ·scale + mask)·V with an online softmax
//! (no T×T matrix), saving only the per-row log-sum-exp for the backward, which recomputes the
//! probabilities. One invocation per query row (forward, dQ) or key row (dK, dV), no barriers
//! and no atomics; the choice and its trade-offs are written at the top of the shaders.
//! On `KernelClass::Gpu` adapters the forward, dQ and dK/dV kernels are the tiled ones of
//! `shaders/attention_gpu.wgsl` (workgroups of 64 rows with the other side's rows staged in
//! workgroup memory); they take the same bindings and save the same state.

use super::launch;
use super::variant::Variant;
use crate::gpu::{self, Binding};
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
    let kernel = Kernels::for_head_dim(dh);
    // Q·Kᵀ and P·V: 2 multiply-adds per (query, key, dim).
    let gemm = 2.0 * (rows * tk * dh) as f64;
    gpu::profile::note_flops(2.0 * gemm);
    let binds = [
        q.bind(),
        k.bind(),
        v.bind(),
        mask_t.bind(),
        out.bind(),
        lse.bind(),
    ];
    run(
        kernel,
        Stage::Forward,
        &has_mask,
        &params,
        &binds,
        b * h,
        tq,
    )?;
    Ok(Tensor::from_op(
        out,
        "attention",
        &[q, k, v],
        move |out, g| {
            let inputs = out.op_inputs();
            let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
            let ld = Tensor::empty(&[rows, 2])?;
            // δ is one short row dot product: the barrier-free kernel serves every class.
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
            // Scores, dP = dO·Vᵀ, dQ = dS·K.
            gpu::profile::note_flops(3.0 * gemm);
            let binds = [
                q.bind(),
                k.bind(),
                v.bind(),
                mask_t.bind(),
                g.bind(),
                ld.bind(),
                dq.bind(),
            ];
            run(kernel, Stage::Dq, &has_mask, &params, &binds, b * h, tq)?;
            let dk = Tensor::empty(k.shape())?;
            let dv = Tensor::empty(v.shape())?;
            // Scores, dV = Pᵀ·dO, dP, dK = dSᵀ·Q.
            gpu::profile::note_flops(4.0 * gemm);
            let binds = [
                q.bind(),
                k.bind(),
                v.bind(),
                mask_t.bind(),
                g.bind(),
                ld.bind(),
                dk.bind(),
                dv.bind(),
            ];
            run(kernel, Stage::Dkv, &has_mask, &params, &binds, b * h, tk)?;
            Ok(vec![Some(dq), Some(dk), Some(dv)])
        },
    ))
}

#[derive(Clone, Copy)]
enum Stage {
    Forward,
    Dq,
    Dkv,
}

/// Which attention kernels run (`Variant::current()` and the head dim decide).
#[derive(Clone, Copy)]
enum Kernels {
    /// `attention_gpu.wgsl`: workgroups of 64 rows, the other side staged in workgroup memory.
    Tiled,
    /// `attention_subgroup*.wgsl`: 8 rows per 8-lane subgroup, head dims in 32-wide chunks.
    Subgroup,
    /// `attention_subgroup16*.wgsl`: the same for head dim 16, two rows per 32-wide load.
    Subgroup16,
    /// `attention_fwd.wgsl`, `attention_bwd.wgsl`: one row per invocation, any head dim.
    PerRow,
}

impl Kernels {
    fn for_head_dim(dh: usize) -> Kernels {
        match Variant::current() {
            Variant::Tiled => Kernels::Tiled,
            Variant::Subgroup if dh.is_multiple_of(32) => Kernels::Subgroup,
            Variant::Subgroup if dh == 16 => Kernels::Subgroup16,
            _ => Kernels::PerRow,
        }
    }
}

/// Launches `stage` over `heads` (batch·head) × `t` rows (queries, or keys for dK/dV) on
/// `kernel`.
fn run(
    kernel: Kernels,
    stage: Stage,
    constants: &[(&'static str, f64)],
    params: &[u32],
    bindings: &[Binding<'_>],
    heads: usize,
    t: usize,
) -> Result<()> {
    let ctx = gpu::ctx();
    match kernel {
        // One workgroup of 64 invocations per (batch·head, block of 64 rows).
        Kernels::Tiled => {
            let entry = match stage {
                Stage::Forward => "attn_gpu_fwd",
                Stage::Dq => "attn_gpu_dq",
                Stage::Dkv => "attn_gpu_dkv",
            };
            let n = heads * t.div_ceil(64) * 64;
            launch(
                &shader!("attention_gpu"),
                entry,
                constants,
                params,
                bindings,
                n,
                64,
            )
        }
        // One 8-lane workgroup per 8 rows of one (batch, head); a 1-wide grid folded past
        // 65,535 (the kernels recover the tile as `wg.x + wg.y · nwg.x`).
        Kernels::Subgroup | Kernels::Subgroup16 => {
            let (shader, entry) = match (kernel, stage) {
                (Kernels::Subgroup, Stage::Forward) => (
                    shader!("attention_subgroup", "_attention_sg_fwd_io"),
                    "attn_fwd_sg",
                ),
                (Kernels::Subgroup, Stage::Dq) => (
                    shader!("attention_subgroup_bwd", "_attention_sg_bwd_io"),
                    "attn_dq_sg",
                ),
                (Kernels::Subgroup, _) => (
                    shader!("attention_subgroup_bwd", "_attention_sg_bwd_io"),
                    "attn_dkv_sg",
                ),
                (_, Stage::Forward) => (
                    shader!(
                        "attention_subgroup16",
                        "_attention_sg_fwd_io",
                        "_attention_pair16"
                    ),
                    "attn16_fwd_sg",
                ),
                (_, Stage::Dq) => (
                    shader!(
                        "attention_subgroup16_bwd",
                        "_attention_sg_bwd_io",
                        "_attention_pair16"
                    ),
                    "attn16_dq_sg",
                ),
                (_, Stage::Dkv) => (
                    shader!(
                        "attention_subgroup16_bwd",
                        "_attention_sg_bwd_io",
                        "_attention_pair16"
                    ),
                    "attn16_dkv_sg",
                ),
            };
            ctx.dispatch(gpu::Dispatch {
                shader: &shader,
                entry,
                constants,
                params,
                bindings,
                workgroups: gpu::grid(heads * t.div_ceil(8), 1),
            })
        }
        Kernels::PerRow => {
            let (shader, entry) = match stage {
                Stage::Forward => (shader!("attention_fwd"), "attn_fwd"),
                Stage::Dq => (shader!("attention_bwd"), "attn_dq"),
                Stage::Dkv => (shader!("attention_bwd"), "attn_dkv"),
            };
            launch(&shader, entry, constants, params, bindings, heads * t, 64)
        }
    }
}
