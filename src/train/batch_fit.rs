//! A training step refused for binding more than the adapter allows: the largest batch that
//! fits, found by dry runs, as advice in place of the error.

use super::config::TrainConfig;
use super::model::Model;
use crate::Tensor;
use crate::models::mae::random_shuffles;
use crate::nn::init_rng;
use crate::ops;
use anyhow::Result;

/// When a launch was refused for exceeding the adapter's storage-binding limit, replaces the
/// error by one that names the largest batch whose training step fits.
/// `build` makes the model (and the config as built) the probes run.
pub fn suggest_batch(
    e: anyhow::Error,
    cfg: &TrainConfig,
    build: impl FnOnce() -> Result<(Model, TrainConfig)>,
) -> anyhow::Error {
    let Some(big) = e.downcast_ref::<crate::gpu::BindingTooLarge>().cloned() else {
        return e;
    };
    let fits = match build().and_then(|(model, built)| largest_batch(&model, &built)) {
        Ok(Some(n)) => n,
        // The training step fits (the failure was elsewhere) or the probe failed: keep the
        // original message.
        _ => return e,
    };
    let advice = if fits == 0 {
        "not even one image fits: this model is too large for the adapter".to_string()
    } else {
        format!("the largest batch that fits is {fits} (use --batch-size {fits} or smaller)")
    };
    anyhow::anyhow!(
        "--batch-size {} is too large for adapter '{}': kernel {} would bind {} MiB, over its \
         storage-binding limit of {} MiB; {advice}",
        cfg.batch_size,
        big.adapter,
        big.kernel,
        big.bytes >> 20,
        big.limit >> 20
    )
}

/// The largest batch whose training step (forward, loss, backward) stays within the adapter's
/// binding and buffer limits, by bisection over dry runs ([`crate::gpu::Context::dry_run`]:
/// launches are checked, not executed, so each probe costs only host time). `None` when even
/// the configured batch passes (the failure was elsewhere). The optimizer's launches are
/// parameter-sized and do not depend on the batch.
fn largest_batch(model: &Model, cfg: &TrainConfig) -> Result<Option<usize>> {
    let fits = |b: usize| -> Result<bool> {
        let r = crate::gpu::ctx().dry_run(|| -> Result<()> {
            let x = Tensor::zeros(&[b, 3, 32, 32])?;
            let loss = match model {
                Model::Mae(mae) => {
                    let shuffles =
                        random_shuffles(b, mae.encoder.config.patches(), &mut init_rng(0));
                    mae.forward(&x, &shuffles)?.loss
                }
                m => {
                    let labels = Tensor::zeros(&[b])?;
                    ops::loss::cross_entropy(
                        &m.logits(&x, true)?,
                        &labels,
                        cfg.label_smoothing as f32,
                    )?
                }
            };
            loss.backward()
        });
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.downcast_ref::<crate::gpu::BindingTooLarge>().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    };
    if fits(cfg.batch_size)? {
        return Ok(None);
    }
    // Invariant: `lo` fits (0 trivially), `hi` does not.
    let (mut lo, mut hi) = (0, cfg.batch_size);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}
