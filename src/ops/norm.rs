//! Normalisation layers: BatchNorm2d (`shaders/norm_bn.wgsl`) and LayerNorm
//! (`shaders/norm_ln.wgsl`), PyTorch semantics, backward beside forward.
//!
//! BatchNorm's per-channel reductions run one 256-wide workgroup per channel with a
//! shared-memory tree on every adapter; the shader header says why (no barrier-free variant).

use super::launch;
use super::variant::Variant;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::{Result, bail};

fn check_vec(what: &str, t: &Tensor, n: usize, x: &Tensor) -> Result<()> {
    if t.shape() != [n] {
        bail!(
            "{what} has shape {:?}, expected [{n}] for input {:?}",
            t.shape(),
            x.shape()
        );
    }
    Ok(())
}

/// Launches a per-channel reduction: one workgroup of 256 per channel.
fn per_channel(
    entry: &'static str,
    params: &[u32],
    binds: &[crate::gpu::Binding<'_>],
    c: usize,
) -> Result<()> {
    launch(&shader!("norm_bn"), entry, &[], params, binds, c * 256, 256)
}

/// BatchNorm2d over `x` [B, C, H, W] with affine `weight`, `bias` [C].
///
/// Training mode normalises with the batch statistics (biased variance) and updates
/// `running_mean`/`running_var` in place: `r ← (1−momentum)·r + momentum·stat`, where the
/// variance statistic is the unbiased one (as PyTorch). Eval mode normalises with the running
/// statistics. Gradients flow to `x`, `weight` and `bias`; in training mode the gradient of `x`
/// includes the paths through the batch mean and variance.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm2d(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    momentum: f32,
    eps: f32,
) -> Result<Tensor> {
    let stats = (running_mean, running_var);
    bn_act(x, weight, bias, stats, training, momentum, eps, false)
}

/// relu([`batch_norm2d`]) in one op: the ReLU is applied by the normalising kernel, and the
/// backward masks the incoming gradient in one pass (`fused::relu_grad`) before BatchNorm's own.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm2d_relu(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    momentum: f32,
    eps: f32,
) -> Result<Tensor> {
    let stats = (running_mean, running_var);
    bn_act(x, weight, bias, stats, training, momentum, eps, true)
}

/// [`batch_norm2d`], followed by a ReLU where `relu`.
#[allow(clippy::too_many_arguments)]
fn bn_act(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    (running_mean, running_var): (&Tensor, &Tensor),
    training: bool,
    momentum: f32,
    eps: f32,
    relu: bool,
) -> Result<Tensor> {
    let &[b, c, h, w] = x.shape() else {
        bail!("batch_norm2d expects [B, C, H, W], got {:?}", x.shape());
    };
    for (what, t) in [
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ] {
        check_vec(&format!("batch_norm2d {what}"), t, c, x)?;
    }
    let hw = h * w;
    if training && b * hw <= 1 {
        bail!(
            "batch_norm2d in training needs more than one value per channel, got input {:?}",
            x.shape()
        );
    }
    let params = [
        b as u32,
        c as u32,
        hw as u32,
        momentum.to_bits(),
        eps.to_bits(),
    ];
    let (mean, var) = if training {
        let mean = Tensor::empty(&[c])?;
        let var = Tensor::empty(&[c])?;
        per_channel(
            "bn_stats_wg",
            &params,
            &[
                x.bind(),
                mean.bind(),
                var.bind(),
                running_mean.bind(),
                running_var.bind(),
            ],
            c,
        )?;
        (mean, var)
    } else {
        (running_mean.clone(), running_var.clone())
    };
    let y = Tensor::empty(x.shape())?;
    launch(
        &shader!("norm_bn"),
        "bn_apply",
        &[("RELU", if relu { 1.0 } else { 0.0 })],
        &params,
        &[
            x.bind(),
            mean.bind(),
            var.bind(),
            weight.bind(),
            bias.bind(),
            y.bind(),
        ],
        x.numel(),
        256,
    )?;
    let needs_grad = crate::autograd::is_enabled()
        && (x.requires_grad() || weight.requires_grad() || bias.requires_grad());
    if !needs_grad {
        return Ok(y);
    }
    // Eval mode normalised with the running stats as they are now; later training steps update
    // them in place, so the backward keeps a snapshot.
    let (mean, var) = if training {
        (mean, var)
    } else {
        (mean.deep_clone()?, var.deep_clone()?)
    };
    Ok(Tensor::from_op(
        y,
        if relu {
            "batch_norm2d_relu"
        } else {
            "batch_norm2d"
        },
        &[x, weight, bias],
        move |out, g| {
            let inputs = out.op_inputs();
            let (x, weight) = (&inputs[0], &inputs[1]);
            let masked;
            let g = if relu {
                masked = super::fused::relu_grad(out, g)?;
                &masked
            } else {
                g
            };
            let dw = Tensor::empty(&[c])?;
            let db = Tensor::empty(&[c])?;
            per_channel(
                "bn_bwd_reduce_wg",
                &params,
                &[
                    x.bind(),
                    g.bind(),
                    mean.bind(),
                    var.bind(),
                    dw.bind(),
                    db.bind(),
                ],
                c,
            )?;
            let dx = Tensor::empty(x.shape())?;
            launch(
                &shader!("norm_bn"),
                "bn_bwd_dx",
                &[("TRAIN", if training { 1.0 } else { 0.0 })],
                &params,
                &[
                    x.bind(),
                    g.bind(),
                    mean.bind(),
                    var.bind(),
                    weight.bind(),
                    dw.bind(),
                    db.bind(),
                    dx.bind(),
                ],
                x.numel(),
                256,
            )?;
            Ok(vec![Some(dx), Some(dw), Some(db)])
        },
    ))
}

/// Rows one invocation of the LayerNorm weight/bias gradient sums before partials are combined.
const LN_CHUNK: usize = 256;

/// LayerNorm over the last axis of `x` [..., D] with affine `weight`, `bias` [D] (biased
/// variance, as PyTorch). Gradients flow to `x`, `weight` and `bias`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    if x.rank() == 0 {
        bail!("layer_norm needs at least one axis, got a scalar");
    }
    let d = x.dim(-1);
    check_vec("layer_norm weight", weight, d, x)?;
    check_vec("layer_norm bias", bias, d, x)?;
    let rows = x.numel() / d.max(1);
    let params = [rows as u32, d as u32, eps.to_bits(), LN_CHUNK as u32];
    let y = Tensor::empty(x.shape())?;
    let stats = Tensor::empty(&[rows, 2])?;
    let sh = shader!("norm_ln");
    // The row kernels' variants (see `ops::rows`); the backward uses the forward's.
    let variant = Variant::current();
    match variant {
        Variant::Tiled => super::rows::tiled::layer_norm(x, weight, bias, &y, &stats, &params)?,
        Variant::Subgroup if rows > 0 => {
            super::rows::subgroup::layer_norm(x, weight, bias, &y, &stats, &params)?
        }
        _ => launch(
            &sh,
            "ln_fwd",
            &[],
            &params,
            &[x.bind(), weight.bind(), bias.bind(), y.bind(), stats.bind()],
            rows,
            64,
        )?,
    }
    Ok(Tensor::from_op(
        y,
        "layer_norm",
        &[x, weight, bias],
        move |out, g| {
            let inputs = out.op_inputs();
            let (x, weight) = (&inputs[0], &inputs[1]);
            let sh = shader!("norm_ln");
            let dx = Tensor::empty(x.shape())?;
            let nchunks = rows.div_ceil(LN_CHUNK).max(1);
            let dw = Tensor::empty(&[nchunks, d])?;
            let db = Tensor::empty(&[nchunks, d])?;
            let sg = super::rows::subgroup::layer_norm_dx;
            match variant {
                Variant::Tiled => {
                    super::rows::tiled::layer_norm_dx(x, weight, g, &stats, &dx, &params)?
                }
                Variant::Subgroup if rows > 0 => sg(x, weight, g, &stats, &dx, &params)?,
                _ => launch(
                    &sh,
                    "ln_bwd_dx",
                    &[],
                    &params,
                    &[x.bind(), weight.bind(), g.bind(), stats.bind(), dx.bind()],
                    rows,
                    64,
                )?,
            }
            // The weight gradient's tiled variant is the register-blocked kernel: a column sum
            // per invocation reads coalesced on a GPU already.
            if variant == Variant::Subgroup && rows > 0 {
                let parts = (&dw, &db);
                super::rows::subgroup::layer_norm_dwb(x, g, &stats, parts, &params, nchunks)?;
            } else {
                launch(
                    &sh,
                    "ln_bwd_dwb",
                    &[],
                    &params,
                    &[x.bind(), g.bind(), stats.bind(), dw.bind(), db.bind()],
                    nchunks * d,
                    64,
                )?;
            }
            let (dw, db) = if nchunks == 1 {
                (dw.reshape(&[d])?, db.reshape(&[d])?)
            } else {
                (dw.sum(0, false)?, db.sum(0, false)?)
            };
            Ok(vec![Some(dx), Some(dw), Some(db)])
        },
    ))
}
