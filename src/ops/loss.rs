//! Losses, each returning a scalar tensor (shape `[]`) with its backward, semantics as PyTorch.
//!
//! - [`cross_entropy`] / [`cross_entropy_indices`] / [`cross_entropy_soft`], [`kl_div`] and
//!   [`reverse_kl`] share one fused row kernel (`shaders/loss_rows.wgsl`: log-sum-exp and the row
//!   loss in one pass, no log-softmax tensor) and one fused backward (`shaders/loss_grad.wgsl`)
//!   that reads the incoming gradient on the device, so nothing syncs with the host.
//! - [`mse`] composes existing ops.
//! - [`fastshap_loss`] composes existing ops around a small masked-sum kernel
//!   (`shaders/loss_shap.wgsl`).

use super::launch;
use crate::shader;
use crate::tensor::{Tensor, same_shape};
use anyhow::{Result, bail, ensure};

/// Row-loss modes; must match `shaders/loss_rows.wgsl` and `shaders/loss_grad.wgsl`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Index = 0,
    Soft = 1,
    Kl = 2,
    Reverse = 3,
}

/// The fused loss over logits `x` [B,K] and targets `t` ([B] indices or [B,K] probabilities):
/// batch mean of the row losses, with the backward for `x` and (except for indices) `t`.
fn row_loss(x: &Tensor, t: &Tensor, mode: Mode, smooth: f32, name: &'static str) -> Result<Tensor> {
    if x.rank() != 2 || x.numel() == 0 {
        bail!(
            "{name}: logits must be [B, K] with B, K > 0, got {:?}",
            x.shape()
        );
    }
    let (b, k) = (x.dim(0), x.dim(1));
    if mode == Mode::Index {
        ensure!(
            t.shape() == [b],
            "{name}: targets {:?} must be [B] = [{b}] class indices for logits {:?}",
            t.shape(),
            x.shape()
        );
    } else {
        same_shape(name, t, x)?;
    }
    let rows = Tensor::empty(&[b])?;
    let stats = Tensor::empty(&[b, 2])?;
    let consts = [("MODE", mode as u32 as f64)];
    launch(
        &shader!("loss_rows"),
        "rows_fwd",
        &consts,
        &[b as u32, k as u32, smooth.to_bits()],
        &[x.bind(), t.bind(), rows.bind(), stats.bind()],
        b,
        64,
    )?;
    // `rows` takes no gradient, so these reductions record nothing on the tape.
    let mean = rows.sum_all()?.mul_scalar(1.0 / b as f32)?;
    let (x_grad, t_grad) = (x.requires_grad(), mode != Mode::Index && t.requires_grad());
    let inputs: Vec<&Tensor> = if mode == Mode::Index {
        vec![x]
    } else {
        vec![x, t]
    };
    let (xd, td) = (x.detach(), t.detach());
    Ok(Tensor::from_op(mean, name, &inputs, move |_, g| {
        let grad = |entry: &'static str| -> Result<Tensor> {
            let d = Tensor::empty(&[b, k])?;
            let scale = 1.0 / b as f32;
            launch(
                &shader!("loss_grad"),
                entry,
                &consts,
                &[(b * k) as u32, k as u32, smooth.to_bits(), scale.to_bits()],
                &[xd.bind(), td.bind(), stats.bind(), g.bind(), d.bind()],
                b * k,
                256,
            )?;
            Ok(d)
        };
        let dx = if x_grad {
            Some(grad("grad_logits")?)
        } else {
            None
        };
        let dt = if t_grad {
            Some(grad("grad_target")?)
        } else {
            None
        };
        Ok(if mode == Mode::Index {
            vec![dx]
        } else {
            vec![dx, dt]
        })
    }))
}

/// Cross-entropy of logits [B,K] against class indices `targets` [B], mean over the batch, as
/// `F.cross_entropy(logits, targets, label_smoothing=ε)`: (1−ε)·NLL + ε·mean_k(−log p_k).
///
/// `targets` holds the indices as f32 values (the engine's one dtype; exact below 2^24, as
/// `argmax` returns them) and takes no gradient. An index outside [0, K) or not an integer makes
/// the loss NaN (checking on the host would cost a sync; [`cross_entropy_indices`] does check).
/// PyTorch's `ignore_index` and class weights are not supported.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor, label_smoothing: f32) -> Result<Tensor> {
    ensure!(
        (0.0..=1.0).contains(&label_smoothing),
        "cross_entropy: label_smoothing {label_smoothing} outside [0, 1]"
    );
    row_loss(
        logits,
        targets,
        Mode::Index,
        label_smoothing,
        "cross_entropy",
    )
}

/// [`cross_entropy`] with class indices from the host, checked against K before uploading.
pub fn cross_entropy_indices(
    logits: &Tensor,
    targets: &[u32],
    label_smoothing: f32,
) -> Result<Tensor> {
    let k = logits.shape().last().copied().unwrap_or(0);
    if let Some(bad) = targets.iter().find(|&&c| c as usize >= k) {
        bail!(
            "cross_entropy: class index {bad} out of range for logits {:?}",
            logits.shape()
        );
    }
    let t: Vec<f32> = targets.iter().map(|&c| c as f32).collect();
    let t = Tensor::from_slice(&t, &[targets.len()])?;
    cross_entropy(logits, &t, label_smoothing)
}

/// Cross-entropy against class probabilities `probs` [B,K] (soft targets), mean over the batch,
/// as `F.cross_entropy(logits, probs)`: mean_b Σ_k −probs·log_softmax(logits). Differentiable in
/// both arguments (the target gradient is −log_softmax(logits)/B).
pub fn cross_entropy_soft(logits: &Tensor, probs: &Tensor) -> Result<Tensor> {
    row_loss(logits, probs, Mode::Soft, 0.0, "cross_entropy_soft")
}

/// KL(p_target ‖ q) with q = softmax(`q_logits`), both [B,K], in the `batchmean` convention:
/// Σ_k p (log p − log q) summed over classes, averaged over the batch, 0·log 0 = 0. Equals
/// `F.kl_div(F.log_softmax(q_logits, -1), p_target, reduction="batchmean")`. The gradient flows
/// to `q_logits` ((q·Σp − p)/B) and, when it requires grad, to `p_target`
/// ((log p + 1 − log q)/B; −∞ where p = 0, as the derivative of p·log p there).
pub fn kl_div(p_target: &Tensor, q_logits: &Tensor) -> Result<Tensor> {
    row_loss(q_logits, p_target, Mode::Kl, 0.0, "kl_div")
}

/// The reverse direction KL(q ‖ p_target) with q = softmax(`q_logits`), both [B,K], `batchmean`:
/// Σ_k q (log q − log p) / B. The gradient flows through q (q_j·(log q_j − log p_j − KL_row)/B)
/// and, when it requires grad, to `p_target` (−q/(p·B)). `p_target` must be positive wherever
/// q is (else the loss is +∞, as the divergence is).
pub fn reverse_kl(p_target: &Tensor, q_logits: &Tensor) -> Result<Tensor> {
    row_loss(q_logits, p_target, Mode::Reverse, 0.0, "reverse_kl")
}

/// Mean squared error over all elements, as `F.mse_loss(a, b)`; shapes must match. Composed
/// from existing ops (sub, square, mean), whose backward rules give 2(a−b)/N to both sides.
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    same_shape("mse", a, b)?;
    a.sub(b)?.square()?.mean_all()
}

/// Efficiency normalisation applied to FastSHAP's attributions before the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    None,
    /// φ + ((v1 − v0) − Σ_P φ) / P
    Additive,
    /// φ · (v1 − v0) / Σ_P φ
    Multiplicative,
}

/// out[r,k] = Σ_p masks[r,p] · phi[r / M, p, k] for masks [B·M, P] and phi [B, P, K] → [B·M, K]
/// (row r of the masks belongs to image r / M). Differentiable in `phi`; the masks are constants.
pub fn masked_sum(phi: &Tensor, masks: &Tensor) -> Result<Tensor> {
    ensure!(
        phi.rank() == 3 && masks.rank() == 2 && masks.dim(1) == phi.dim(1),
        "masked_sum: phi {:?} must be [B,P,K] and masks {:?} [B·M,P]",
        phi.shape(),
        masks.shape()
    );
    let (b, p, k) = (phi.dim(0), phi.dim(1), phi.dim(2));
    let bm = masks.dim(0);
    ensure!(
        b > 0 && bm > 0 && bm.is_multiple_of(b),
        "masked_sum: {bm} mask rows are not a multiple of the batch {b} (phi {:?})",
        phi.shape()
    );
    let m = bm / b;
    let out = Tensor::empty(&[bm, k])?;
    let params = move |n: usize| [n as u32, m as u32, p as u32, k as u32];
    launch(
        &shader!("loss_shap"),
        "masked_sum",
        &[],
        &params(bm * k),
        &[masks.bind(), phi.bind(), out.bind()],
        bm * k,
        256,
    )?;
    let s = masks.detach();
    Ok(Tensor::from_op(out, "masked_sum", &[phi], move |_, g| {
        let d = Tensor::empty(&[b, p, k])?;
        launch(
            &shader!("loss_shap"),
            "masked_sum_grad",
            &[],
            &params(b * p * k),
            &[s.bind(), g.bind(), d.bind()],
            b * p * k,
            256,
        )?;
        Ok(vec![Some(d)])
    }))
}

/// The FastSHAP training loss for attributions `phi` [B,P,K] (P players/patches, K classes):
/// with φ̃ = `normalization`(φ) (efficiency normalisation),
///
///   P · [ mean_{(B·M, K)} (v0 + S·φ̃_b − v(S))²  +  λ · mean_{(B,K)} (Σ_P φ − (v1 − v0))² ]
///
/// The efficiency penalty acts on the **raw** φ, as in the reference implementation
/// (`FastSHAP.train`: `total = pred.sum(-1)` before `normalization`): after additive
/// normalisation Σ_P φ̃ = v1 − v0 holds exactly, so a penalty on φ̃ would always be zero.
///
/// with masks S [B·M, P] (row r belongs to image r / M), the null value v0 [K], the full-input
/// values v1 [B,K] and the masked values v_s [B·M, K]. The gradient flows to `phi` only (the
/// others are the surrogate's outputs, constants here).
pub fn fastshap_loss(
    phi: &Tensor,
    masks: &Tensor,
    v0: &Tensor,
    v1: &Tensor,
    v_s: &Tensor,
    normalization: Normalization,
    lambda: f32,
) -> Result<Tensor> {
    ensure!(
        phi.rank() == 3,
        "fastshap_loss: phi {:?} must be [B,P,K]",
        phi.shape()
    );
    let (b, p, k) = (phi.dim(0), phi.dim(1), phi.dim(2));
    let bm = masks.shape().first().copied().unwrap_or(0);
    ensure!(
        v0.shape() == [k] && v1.shape() == [b, k] && v_s.shape() == [bm, k],
        "fastshap_loss: for phi {:?} expected v0 [{k}], v1 [{b}, {k}], v_s [{bm}, {k}]; got {:?}, {:?}, {:?}",
        phi.shape(),
        v0.shape(),
        v1.shape(),
        v_s.shape()
    );
    let (v0, v1, v_s) = (v0.detach(), v1.detach(), v_s.detach());
    let gap = v1.sub(&v0)?.reshape(&[b, 1, k])?; // v1 − v0, broadcast over players
    let total = phi.sum(1, true)?; // Σ_P of the raw φ
    let normalized = match normalization {
        Normalization::None => phi.clone(),
        Normalization::Additive => {
            let fix = gap.sub(&total)?.mul_scalar(1.0 / p as f32)?;
            phi.add(&fix)?
        }
        Normalization::Multiplicative => phi.mul(&gap.div(&total)?)?,
    };
    let pred = masked_sum(&normalized, &masks.detach())?.add(&v0)?;
    let fit = mse(&pred, &v_s)?;
    let mut loss = fit;
    if lambda != 0.0 {
        let eff = mse(&total, &gap)?;
        loss = loss.add(&eff.mul_scalar(lambda)?)?;
    }
    loss.mul_scalar(p as f32)
}
