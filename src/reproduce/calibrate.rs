//! Sizing the `demo` preset to the adapter at hand. lavapipe's speed differs up to 7× between
//! machines of the same kind, so fixed budgets either waste a fast machine or overrun a slow
//! one. Before the first stage, a few timed steps of each network (random weights, random data)
//! give img/s for every kind of work; the budgets are then set so the stages take about
//! `target` seconds in all. The measurements and the budgets are saved in the plan
//! (`reproduce.json`), so a resumed demo keeps them and the report can say what was measured.

use super::plan::Plan;
use crate::models::{ResNet, UNet, UNetConfig, Vit};
use crate::nn::{Module, init_rng};
use crate::ops::loss::cross_entropy_indices;
use crate::ops::optim::{Adam, Optimizer};
use crate::{Tensor, no_grad};
use anyhow::Result;
use serde_json::json;
use std::time::Instant;

/// Training images in the embedded subset (the demo's data).
const DEMO_TRAIN: usize = 2_000;

/// Seconds per call of `f` (one warm-up call, then the mean of `reps`).
fn time(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let t = Instant::now();
    for _ in 0..reps {
        f()?;
    }
    Ok(t.elapsed().as_secs_f64() / reps as f64)
}

/// img/s of one Adam training step of `forward` on a batch of `b` random images.
fn train_rate(
    forward: &dyn Fn(&Tensor) -> Result<Tensor>,
    params: Vec<Tensor>,
    c: usize,
    b: usize,
) -> Result<f64> {
    let mut opt = Optimizer::adam(params, 1e-4, Adam::default())?;
    let x = Tensor::randn(&[b, c, 32, 32], 1)?;
    let labels: Vec<u32> = (0..b as u32).map(|i| i % 10).collect();
    let secs = time(2, || {
        let out = forward(&x)?;
        let k = out.numel() / b;
        let l = cross_entropy_indices(&out.reshape(&[b, k])?.narrow(1, 0, 10)?, &labels, 0.0)?;
        opt.zero_grad();
        l.backward()?;
        opt.step()?;
        l.item()?;
        Ok(())
    })?;
    Ok(b as f64 / secs)
}

/// img/s of a forward pass at batch `b`.
fn forward_rate(forward: &dyn Fn(&Tensor) -> Result<Tensor>, c: usize, b: usize) -> Result<f64> {
    let _g = no_grad();
    let x = Tensor::randn(&[b, c, 32, 32], 2)?;
    let secs = time(1, || {
        forward(&x)?.to_vec()?;
        Ok(())
    })?;
    Ok(b as f64 / secs)
}

/// Game evaluations/s of `model` as a surrogate, through the same coalition path `evaluate`
/// uses (masking folded into the first layer where the network has one), `b` masks per call.
fn game_rate(model: &crate::train::Model, s: usize, b: usize) -> Result<f64> {
    use crate::shap::{Game, Link, SurrogateGame};
    let _g = no_grad();
    let image = Tensor::randn(&[1, 3, 32, 32], 3)?;
    let game = match model.coalition_logits(&image, s)? {
        Some(f) => SurrogateGame::from_coalitions(f, image, s, Link::LogSoftmax, b)?,
        None => SurrogateGame::masked(
            Box::new(|m: &Tensor| model.logits(m, false)),
            image,
            s,
            Link::LogSoftmax,
            b,
        )?,
    };
    let p = game.players();
    let masks: Vec<f32> = (0..b * p)
        .map(|i| ((i * 7919) % 3 == 0) as u8 as f32)
        .collect();
    let secs = time(1, || {
        game.eval(&masks)?;
        Ok(())
    })?;
    Ok(b as f64 / secs)
}

/// Measures this adapter and returns `plan` with budgets for about `target` seconds of stages.
pub fn size_demo(plan: &Plan, target: f64) -> Result<Plan> {
    let mut plan = plan.clone();
    let Some(fid) = plan.fidelity.clone() else {
        return Ok(plan);
    };
    let t0 = Instant::now();
    let rng = &mut init_rng(0);
    let original = ResNet::new(plan.size.resnet(3), rng)?;
    let sur_model = crate::train::Model::Vit(Vit::new(fid.surrogate.clone(), rng)?);
    let crate::train::Model::Vit(surrogate) = &sur_model else {
        unreachable!("built as a ViT just above")
    };
    let unet_cfg = UNetConfig {
        base: fid.unet_base,
        convs: 1,
        superpixel: plan.superpixel,
        ..UNetConfig::fastshap_cifar()
    };
    let unet = UNet::new(unet_cfg, rng)?;
    let orig_train = train_rate(&|x| original.forward(x, true), original.parameters(), 3, 64)?;
    let orig_fwd = forward_rate(&|x| original.forward(x, false), 3, 64)?;
    let sur_train = train_rate(
        &|x| surrogate.forward(x, true),
        surrogate.parameters(),
        4,
        64,
    )?;
    let sur_fwd = forward_rate(&|x| surrogate.forward(x, false), 4, 96)?;
    let games = game_rate(&sur_model, plan.superpixel, 4096)?;
    let unet_train = train_rate(&|x| unet.forward(x, true), unet.parameters(), 3, 32)?;

    // Shares of the target: originals 25%, surrogate 15%, explainer 35%, evaluation 25%. The
    // timed steps miss validation, data loading and mask sampling (about a third more, measured
    // on the first demo runs), hence the margin.
    const MARGIN: f64 = 1.4;
    let images = |share: f64, secs_per_image: f64| share * target / (MARGIN * secs_per_image);
    let epochs_of = |n: f64, most: usize| ((n / DEMO_TRAIN as f64).floor() as usize).clamp(1, most);
    let limit_of = |n: f64, epochs: usize| ((n / epochs as f64) as usize).clamp(256, DEMO_TRAIN);

    let n = images(0.25, 1.0 / orig_train);
    let o = plan.original.as_mut().expect("the demo trains an original");
    o.epochs = epochs_of(n, 3);
    o.train_limit = Some(limit_of(n, o.epochs));

    let n = images(0.15, 1.0 / sur_train + 1.0 / orig_fwd);
    plan.surrogate.epochs = epochs_of(n, 6).max(2);
    plan.surrogate.train_limit = Some(limit_of(n, plan.surrogate.epochs));

    // Each explainer image costs its UNet step and `samples` + 1 surrogate calls.
    let n = images(
        0.35,
        1.0 / unet_train + (fid.explainer_samples + 1) as f64 / sur_fwd,
    );
    plan.explainer.epochs = epochs_of(n, 12).max(2);
    plan.explainer.train_limit = Some(limit_of(n, plan.explainer.epochs));

    // Exact values cost 2^P evaluations per image, a converged KernelSHAP run at most its
    // budget (the budget curves reuse the exact tables: host time only).
    let exact = (1u64 << (32 / plan.superpixel).pow(2)) as f64 / games;
    let ks = plan.kernelshap_max_evals as f64 / games;
    let f = plan.fidelity.as_mut().expect("checked above");
    let left = 0.25 * target / MARGIN - f.kernelshap_images as f64 * ks;
    plan.eval_images = ((left / exact) as usize).clamp(3, 100);
    f.kernelshap_images = f.kernelshap_images.min(plan.eval_images);
    f.measured = Some(json!({
        "target_seconds": target,
        "calibration_seconds": t0.elapsed().as_secs_f64(),
        "original_train_img_per_s": orig_train,
        "original_forward_img_per_s": orig_fwd,
        "surrogate_train_img_per_s": sur_train,
        "surrogate_forward_img_per_s": sur_fwd,
        "game_evaluations_per_s": games,
        "explainer_train_img_per_s": unet_train,
        "device": crate::gpu::ctx().info.name,
    }));
    Ok(plan)
}
