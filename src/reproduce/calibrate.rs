//! Sizing the measured presets (`demo`, `cpu`) to the adapter at hand. lavapipe's speed
//! differs up to 7× between machines of the same kind, so fixed budgets either waste a fast
//! machine or overrun a slow one. Before the first stage, a few timed steps of each network
//! (random weights, random data) give img/s for every kind of work; the budgets are then set so
//! the stages take about `target` seconds in all. The measurements and the budgets are saved in
//! the plan (`reproduce.json`), so a resumed run keeps them and the report can say what was
//! measured.

use super::plan::{FidelityPlan, Plan};
use crate::fastshap::evaluate::{ADDITIVITY_PAIRS, AUTO_EXACT_MAX_PLAYERS};
use crate::fastshap::explainer::ExplainerArch;
use crate::fastshap::players;
use crate::models::{
    ResNet, ResNetExplainer, ResNetExplainerConfig, UNet, UNetConfig, Vit, VitExplainer,
    VitExplainerConfig,
};
use crate::nn::{InitRng, Module, init_rng};
use crate::ops::loss::cross_entropy_indices;
use crate::ops::optim::{Adam, Optimizer};
use crate::{Tensor, no_grad};
use anyhow::{Context, Result};
use serde_json::json;
use std::time::Instant;

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

/// Whether the evaluation's ground truth is exact (2^P evaluations per image) at this plan's P.
fn exact_truth(plan: &Plan) -> bool {
    players(plan.superpixel) <= AUTO_EXACT_MAX_PLAYERS
}

/// Game evaluations one evaluated image costs. Exact values take 2^P, and every cheaper
/// estimator then runs on their table (host time only). Above that, each costs its own: the
/// converged KernelSHAP (at most its budget), KernelSHAP and permutation sampling at every
/// budget point, the baselines (2P + 2) and the sampled additivity.
fn evaluations_per_image(plan: &Plan, fid: &FidelityPlan) -> f64 {
    let p = players(plan.superpixel);
    if exact_truth(plan) {
        return (1u64 << p) as f64;
    }
    let budgets: usize = fid.budgets.iter().sum();
    (plan.kernelshap_max_evals + 2 * budgets + 2 * p + 2 + 2 * ADDITIVITY_PAIRS) as f64
}

/// The timed steps miss validation, data loading and mask sampling, hence the margin. It was
/// 1.4 (a third more, measured on the first demo runs); since then stages ran at 1.00–1.09×
/// their timed cost (P = 64 on the full data: original 538 s for 536 planned, surrogate 339
/// for 321, explainer 815 for 750) and demos used 76–80% of their target.
const MARGIN: f64 = 1.15;

/// Largest KernelSHAP budget per image and player the demo's ground truth may get (32,768
/// at P = 64: its standard error falls as 1/√evaluations and grows with P).
const MAX_TRUTH_EVALS_PER_PLAYER: usize = 512;

fn max_truth_evals(plan: &Plan) -> usize {
    MAX_TRUTH_EVALS_PER_PLAYER * players(plan.superpixel)
}

/// Share of the target the ground truth of the plan's least evaluated images may take when
/// sizing its budget (the evaluation's share is set after, from the budget chosen).
const TRUTH_SHARE: f64 = 0.4;

/// KernelSHAP's budget for the ground truth: doubled from the preset's while the plan's
/// least evaluated images still fit in TRUTH_SHARE of `target` at `games` evaluations/s, up to
/// [`max_truth_evals`]. Its standard error falls as 1/√evaluations, and at the preset's 8,192 most
/// P = 64 truths stayed above the noise floor (median ‖σ‖/‖φ‖ 0.17, BENCHMARKS.md): a fast
/// adapter buys converged truths, a slow one keeps its images. Exact truths need no budget.
fn truth_budget(plan: &Plan, fid: &FidelityPlan, games: f64, target: f64) -> usize {
    let mut max = plan.kernelshap_max_evals;
    if exact_truth(plan) {
        return max;
    }
    let fits = |evals: usize| {
        let mut p = plan.clone();
        p.kernelshap_max_evals = evals;
        let secs = plan.min_eval_images() as f64 * MARGIN * evaluations_per_image(&p, fid) / games;
        secs <= TRUTH_SHARE * target
    };
    while max * 2 <= max_truth_evals(plan) && fits(max * 2) {
        max *= 2;
    }
    max
}

/// img/s of one training step of the plan's explainer network (UNet or the ViT explainer on
/// the surrogate's backbone).
fn explainer_train_rate(plan: &Plan, fid: &FidelityPlan, rng: &mut InitRng) -> Result<f64> {
    match fid.explainer_arch {
        ExplainerArch::Unet => {
            let cfg = UNetConfig {
                base: fid.unet_base,
                convs: 1,
                superpixel: plan.superpixel,
                ..UNetConfig::fastshap_cifar()
            };
            let unet = UNet::new(cfg, rng)?;
            train_rate(&|x| unet.forward(x, true), unet.parameters(), 3, 32)
        }
        ExplainerArch::Vit => {
            let cfg = VitExplainerConfig::for_backbone(fid.surrogate.clone(), plan.superpixel);
            let vit = VitExplainer::new(cfg, rng)?;
            train_rate(&|x| vit.forward(x), vit.parameters(), 3, 32)
        }
        ExplainerArch::Resnet => {
            let backbone = (fid.resnet_surrogate.clone()).context(
                "a ResNet explainer starts from a ResNet surrogate; this plan's is a ViT",
            )?;
            let cfg = ResNetExplainerConfig::for_backbone(backbone, plan.superpixel);
            let resnet = ResNetExplainer::new(cfg, rng)?;
            train_rate(&|x| resnet.forward(x), resnet.parameters(), 3, 32)
        }
    }
}

/// Epochs and images per epoch that spend a stage's `n` training images over a set of `train`:
/// whole passes rounded up, each one shorter, so the share is spent (rounding down lost up to
/// 40% of it on the 1,800-image embedded subset: 2,880 images became 1 epoch of 1,800, and the
/// 2026-12-04 demo used 264 s of its 420 s target); `least` to `most` epochs of 256 to `train`.
fn epochs_for(n: f64, train: usize, least: usize, most: usize) -> (usize, usize) {
    let epochs = ((n / train as f64).ceil() as usize).clamp(least.max(1), most);
    (epochs, ((n / epochs as f64) as usize).clamp(256, train))
}

/// The least share of the target the evaluation takes. Truths that converge before their
/// budget leave part of it unspent (P = 64 on the full data: 321 s of 675), so it was cut from
/// a quarter to 15%, the rest going to training.
const EVAL_SHARE: f64 = 0.15;

/// How the training stages share their time: original, surrogate, explainer. The explainer's
/// learning curve was the one still rising in every run (P = 64: 2,814 steps missed "nothing
/// within 100×", 7,035 met it; P = 256: 852 steps lost to leave-one-out, 2,625 beat it), so it
/// gets 60% (was 25 : 15 : 35).
const TRAIN_SHARES: [f64; 3] = [0.20, 0.10, 0.45];

/// The most passes the explainer gets over its training images. At 12 the 1,800-image embedded
/// subset left a sixth of the demo's explainer share unspent (2026-12-04); at 24 a 2-core VM 4–8×
/// faster ran the whole demo in 163 s of its 420 (2026-12-05) — its explainer's 1,368 steps let
/// permutation sampling reach its L2 at 88× its time. Below the measured presets' early stop (100).
const MAX_EXPLAINER_EPOCHS: usize = 64;

/// What the sizing measures on the adapter: img/s of every kind of work, game evaluations/s.
#[derive(Clone, Copy, Debug)]
struct Rates {
    orig_train: f64,
    orig_fwd: f64,
    sur_train: f64,
    sur_fwd: f64,
    explainer_train: f64,
    games: f64,
}

impl Rates {
    fn measure(plan: &Plan, fid: &FidelityPlan) -> Result<Rates> {
        let rng = &mut init_rng(0);
        let original = ResNet::new(plan.size.resnet(3), rng)?;
        let sur_model = match &fid.resnet_surrogate {
            Some(r) => crate::train::Model::ResNet(ResNet::new(r.clone(), rng)?),
            None => crate::train::Model::Vit(Vit::new(fid.surrogate.clone(), rng)?),
        };
        let explainer_train = explainer_train_rate(plan, fid, rng)?;
        let orig_train = train_rate(&|x| original.forward(x, true), original.parameters(), 3, 64)?;
        let orig_fwd = forward_rate(&|x| original.forward(x, false), 3, 64)?;
        let sur_train = train_rate(
            &|x| sur_model.logits(x, true),
            sur_model.parameters(),
            4,
            64,
        )?;
        // As the explainer's training calls it: a ViT's last block for the CLS token alone.
        let sur_fwd = match &sur_model {
            crate::train::Model::Vit(v) => forward_rate(&|x| v.cls_logits(x), 4, 96)?,
            m => forward_rate(&|x| m.logits(x, false), 4, 96)?,
        };
        let games = game_rate(&sur_model, plan.superpixel, plan.game_batch())?;
        Ok(Rates {
            orig_train,
            orig_fwd,
            sur_train,
            sur_fwd,
            explainer_train,
            games,
        })
    }

    /// Seconds one training image costs in each stage: original, surrogate (its step and the
    /// original's labels), explainer (its step and `samples` + 1 surrogate calls).
    fn secs_per_image(&self, fid: &FidelityPlan) -> [f64; 3] {
        [
            1.0 / self.orig_train,
            1.0 / self.sur_train + 1.0 / self.orig_fwd,
            1.0 / self.explainer_train + (fid.explainer_samples + 1) as f64 / self.sur_fwd,
        ]
    }
}

/// Measures this adapter and returns `plan` with budgets for about `target` seconds of stages
/// on `train_images` training images (the split less its held-out part: what trainers see).
pub fn size_by_measurement(plan: &Plan, target: f64, train_images: usize) -> Result<Plan> {
    let Some(fid) = plan.fidelity.clone() else {
        return Ok(plan.clone());
    };
    let t0 = Instant::now();
    let rates = Rates::measure(plan, &fid)?;
    let (mut plan, eval_share) = fit_budgets(plan, &rates, target, train_images);
    let r = &rates;
    plan.fidelity.as_mut().expect("checked above").measured = Some(json!({
        "target_seconds": target,
        "calibration_seconds": t0.elapsed().as_secs_f64(),
        "original_train_img_per_s": r.orig_train,
        "original_forward_img_per_s": r.orig_fwd,
        "surrogate_train_img_per_s": r.sur_train,
        "surrogate_forward_img_per_s": r.sur_fwd,
        "game_evaluations_per_s": r.games,
        "explainer_train_img_per_s": r.explainer_train,
        "evaluation_share": eval_share,
        "truth_max_evaluations": plan.kernelshap_max_evals,
        "device": crate::gpu::ctx().info.name,
    }));
    Ok(plan)
}

/// `plan` (with a fidelity plan) with budgets for about `target` seconds at `rates`, and the
/// evaluation's share of the target.
fn fit_budgets(plan: &Plan, rates: &Rates, target: f64, train_images: usize) -> (Plan, f64) {
    let mut plan = plan.clone();
    let fid = plan.fidelity.clone().expect("a fidelity plan");
    let games = rates.games;
    plan.kernelshap_max_evals = truth_budget(&plan, &fid, games, target);
    // The evaluation first: it must reach the plan's least images, and at P = 64 one image costs
    // as much game time as a training stage. It takes what they need, at least EVAL_SHARE (more
    // images when they are cheap) and at most 60%; the training stages share the rest as
    // TRAIN_SHARES.
    let per_image = evaluations_per_image(&plan, &fid) / games;
    let least = plan.min_eval_images() as f64;
    let eval_share = (least * MARGIN * per_image / target).clamp(EVAL_SHARE, 0.6);
    let train_scale = (1.0 - eval_share) / TRAIN_SHARES.iter().sum::<f64>();
    let [orig, sur, expl] = rates.secs_per_image(&fid);
    let images = |share: f64, secs: f64| share * train_scale * target / (MARGIN * secs);
    let train = train_images.max(256);

    let n = images(TRAIN_SHARES[0], orig);
    let o = plan
        .original
        .as_mut()
        .expect("the fidelity presets train an original");
    (o.epochs, o.train_limit) = with_limit(epochs_for(n, train, 1, 3));
    let n = images(TRAIN_SHARES[1], sur);
    (plan.surrogate.epochs, plan.surrogate.train_limit) = with_limit(epochs_for(n, train, 2, 6));
    // Up to MAX_EXPLAINER_EPOCHS passes: every pass draws new masks, and the 1,800-image
    // embedded subset runs out of passes first on a fast machine.
    let n = images(TRAIN_SHARES[2], expl);
    (plan.explainer.epochs, plan.explainer.train_limit) =
        with_limit(epochs_for(n, train, 2, MAX_EXPLAINER_EPOCHS));

    // A KernelSHAP run to convergence beside exact values, on the first images only.
    let ks = if exact_truth(&plan) {
        plan.kernelshap_max_evals as f64 / games
    } else {
        0.0
    };
    let f = plan.fidelity.as_mut().expect("checked above");
    let left = eval_share * target / MARGIN - f.kernelshap_images as f64 * ks;
    // The nudge keeps the least images when their share was sized for exactly them: the
    // division can land a hair under the whole number (49.999… of 50).
    plan.eval_images = ((left / per_image * (1.0 + 1e-9)) as usize).clamp(3, 100);
    f.kernelshap_images = f.kernelshap_images.min(plan.eval_images);
    (plan, eval_share)
}

/// Optimizer steps a budget buys: whole batches of its images, every epoch.
pub fn steps(b: &super::plan::Budget, train_images: usize) -> usize {
    b.epochs
        * b.train_limit
            .unwrap_or(train_images)
            .div_ceil(b.batch_size.max(1))
}

/// What a sized plan bought, in one line for the terminal. Minutes buy different training on
/// different machines (one `--minutes 90` at P = 256 gave 12,582 explainer steps and beat
/// leave-one-out's ranking on one 2-core VM; the same minutes on a VM 3–5× slower buy ~2,800,
/// which tie it — BENCHMARKS.md), so the run says what it will do before it starts.
pub fn plan_line(plan: &Plan, train_images: usize) -> String {
    let b = |name: &str, budget: &super::plan::Budget| {
        let images = budget.train_limit.unwrap_or(train_images);
        format!("{name} {} epochs of {images}", budget.epochs)
    };
    let mut parts = Vec::new();
    if let Some(o) = &plan.original {
        parts.push(b("original", o));
    }
    parts.push(b("surrogate", &plan.surrogate));
    parts.push(format!(
        "{} = {} steps of {}",
        b("explainer", &plan.explainer),
        steps(&plan.explainer, train_images),
        plan.explainer.batch_size
    ));
    let truth = if exact_truth(plan) {
        "exact values".to_string()
    } else {
        format!("a truth of ≤ {} evaluations", plan.kernelshap_max_evals)
    };
    format!(
        "budgets: {}; {truth} on {} test images",
        parts.join(", "),
        plan.eval_images
    )
}

fn with_limit((epochs, limit): (usize, usize)) -> (usize, Option<usize>) {
    (epochs, Some(limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reproduce::ReproPreset;

    #[test]
    fn truth_budget_grows_with_the_adapter_and_keeps_twenty_images() {
        let plan = Plan::new(ReproPreset::Demo);
        let fid = plan.fidelity.clone().unwrap();
        let fast = truth_budget(&plan, &fid, 14_000.0, 420.0);
        let slow = truth_budget(&plan, &fid, 2_800.0, 420.0);
        assert_eq!(fast, max_truth_evals(&plan));
        assert_eq!(fast, 1 << 15);
        assert_eq!(slow, plan.kernelshap_max_evals);
        for (b, games) in [(fast, 14_000.0), (slow, 2_800.0)] {
            let mut p = plan.clone();
            p.kernelshap_max_evals = b;
            let secs =
                plan.min_eval_images() as f64 * MARGIN * evaluations_per_image(&p, &fid) / games;
            assert!(b == plan.kernelshap_max_evals || secs <= TRUTH_SHARE * 420.0);
        }
        // At P = 256 the budget starts and ends 4× higher; its budget curves start at one
        // antithetic pair, 2·257 evaluations.
        let p256 = Plan::new(ReproPreset::Demo).with_superpixel(2).unwrap();
        let f256 = p256.fidelity.clone().unwrap();
        assert_eq!(p256.kernelshap_max_evals, 4 * plan.kernelshap_max_evals);
        assert_eq!(f256.budgets, [514, 1028, 2056, 4112]);
        assert_eq!(f256.surrogate.patch, 2);
        assert_eq!((plan.game_batch(), p256.game_batch()), (4096, 1024));
        assert_eq!(truth_budget(&p256, &f256, 1e9, 420.0), 1 << 17);
        assert_eq!(truth_budget(&p256, &f256, 100.0, 420.0), 1 << 15);
        assert!(Plan::new(ReproPreset::Tiny).with_superpixel(2).is_err());
        assert!(Plan::new(ReproPreset::Demo).with_superpixel(3).is_err());
        // Exact truths (P = 16) keep the preset's budget whatever the speed.
        let p16 = Plan::new(ReproPreset::Demo).with_superpixel(8).unwrap();
        let f = p16.fidelity.clone().unwrap();
        assert_eq!(truth_budget(&p16, &f, 1e9, 420.0), p16.kernelshap_max_evals);
        // The cpu preset keeps 50 images: at a speed where the demo's 20 still afford the
        // largest budget, its 50 take a smaller one.
        let cpu = Plan::new(ReproPreset::Cpu);
        let fc = cpu.fidelity.clone().unwrap();
        let games = 20.0 * MARGIN * evaluations_per_image(&plan, &fid) / (TRUTH_SHARE * 420.0);
        let demo_budget = truth_budget(&plan, &fid, games * 4.0, 420.0);
        let cpu_budget = truth_budget(&cpu, &fc, games * 4.0, 420.0);
        assert!(cpu_budget < demo_budget, "{cpu_budget} vs {demo_budget}");
    }

    /// At the rates of the P = 64 and P = 256 runs on the full data (BENCHMARKS.md, 2026-12-03
    /// and -04), each preset's budgets fill its target in the planned shares: the explainer 60%
    /// of the training time (never stopped early), the demo ≥ 20 evaluated images and the cpu
    /// preset ≥ 50, also at P = 256 where the evaluation takes a third of 100 minutes.
    #[test]
    fn budgets_fill_the_target_in_their_shares() {
        let p64 = Rates {
            orig_train: 22.0,
            orig_fwd: 150.0,
            sur_train: 292.0,
            sur_fwd: 2_500.0,
            explainer_train: 259.0,
            games: 9_319.0,
        };
        let p256 = Rates {
            orig_train: 37.5,
            orig_fwd: 125.6,
            sur_train: 66.0,
            sur_fwd: 2_512.0,
            explainer_train: 57.4,
            games: 2_378.0,
        };
        for (preset, superpixel, rates, target, least) in [
            (ReproPreset::Demo, 4, p64, 420.0, 20),
            (ReproPreset::Cpu, 4, p64, 2_700.0, 50),
            (ReproPreset::Cpu, 2, p256, 6_000.0, 50),
        ] {
            let plan = Plan::new(preset).with_superpixel(superpixel).unwrap();
            let (sized, eval_share) = fit_budgets(&plan, &rates, target, 45_000);
            let fid = sized.fidelity.clone().unwrap();
            let secs = rates.secs_per_image(&fid);
            let spent = |b: &crate::reproduce::plan::Budget, s: f64| {
                (b.epochs * b.train_limit.unwrap()) as f64 * s * MARGIN
            };
            let stages = [
                spent(sized.original.as_ref().unwrap(), secs[0]),
                spent(&sized.surrogate, secs[1]),
                spent(&sized.explainer, secs[2]),
            ];
            let training: f64 = stages.iter().sum();
            let eval = sized.eval_images as f64 * MARGIN * evaluations_per_image(&sized, &fid)
                / rates.games;
            let all = training + eval;
            assert!(
                all <= target * 1.01 && all >= target * 0.9,
                "{preset:?}: {stages:?} + {eval} s for {target}"
            );
            assert!((training - (1.0 - eval_share) * target).abs() < 0.02 * target);
            let explainer = stages[2] / training;
            assert!((explainer - 0.6).abs() < 0.02, "{preset:?}: {explainer}");
            // ... and spends it: no early stop within the planned passes.
            assert!(fid.explainer_early_stop > sized.explainer.epochs.max(MAX_EXPLAINER_EPOCHS));
            if superpixel == 2 {
                // 100 minutes at these rates buy a truth of twice the preset's start.
                assert_eq!(sized.kernelshap_max_evals, 1 << 16);
            }
            assert!(
                sized.eval_images >= least,
                "{preset:?}: {}",
                sized.eval_images
            );
        }
    }

    /// The line names the explainer's steps as its trainer counts them (whole batches per
    /// epoch: 9 epochs of 44,706 at batch 32 were 12,582 steps in the run of 2026-12-04).
    #[test]
    fn the_plan_line_counts_whole_batches() {
        let mut plan = Plan::new(ReproPreset::Cpu).with_superpixel(2).unwrap();
        plan.explainer.epochs = 9;
        plan.explainer.train_limit = Some(44_706);
        plan.explainer.batch_size = 32;
        assert_eq!(steps(&plan.explainer, 45_000), 12_582);
        let line = plan_line(&plan, 45_000);
        assert!(
            line.contains("explainer 9 epochs of 44706 = 12582 steps of 32"),
            "{line}"
        );
        assert!(line.contains("evaluations on"), "{line}");
        plan.explainer.train_limit = None;
        assert_eq!(steps(&plan.explainer, 1_000), 9 * 32);
    }

    /// At the rates of the fast VM of 2026-12-05 the demo on the 1,800 embedded images wants
    /// more explainer passes than the old cap of 24 (which finished it in 163 s of 420), and
    /// gets them, up to the cap.
    #[test]
    fn a_fast_machine_spends_the_demo_on_more_explainer_passes() {
        let fast = Rates {
            orig_train: 218.0,
            orig_fwd: 820.0,
            sur_train: 2_390.0,
            sur_fwd: 19_000.0,
            explainer_train: 1_628.0,
            games: 90_380.0,
        };
        let plan = Plan::new(ReproPreset::Demo);
        let (sized, _) = fit_budgets(&plan, &fast, 420.0, 1_800);
        let e = sized.explainer.epochs;
        assert!(e > 24 && e <= MAX_EXPLAINER_EPOCHS, "{e} explainer epochs");
        assert!(sized.fidelity.unwrap().explainer_early_stop > e);
    }

    #[test]
    fn a_stage_spends_its_share_in_whole_shorter_epochs() {
        assert_eq!(epochs_for(2_880.0, 1_800, 1, 3), (2, 1_440));
        assert_eq!(epochs_for(4_460.0, 1_800, 2, 6), (3, 1_486));
        // Clamped: at most `most` full passes, at least `least` of ≥ 256 images.
        assert_eq!(epochs_for(1e6, 1_800, 1, 3), (3, 1_800));
        assert_eq!(epochs_for(100.0, 1_800, 1, 3), (1, 256));
        assert_eq!(epochs_for(100.0, 1_800, 2, 6), (2, 256));
        // Inside the clamps the plan spends its images to within one per epoch.
        for n in [300.0, 1_799.0, 1_801.0, 5_000.0, 9_999.0] {
            let (e, l) = epochs_for(n, 1_800, 1, 12);
            let used = (e * l) as f64;
            assert!(used <= n && used > n - e as f64, "{n}: {e} × {l}");
        }
    }

    /// `--surrogate-arch resnet`: the fidelity presets swap their surrogate for the tiny ResNet
    /// (its own slug, a game batch whose stem map fits the storage binding), the measured
    /// presets' ViT-started explainer becomes a ResNet-started one, a UNet stays a UNet; the
    /// paper's presets refuse it.
    #[test]
    fn a_resnet_surrogate_swaps_the_fidelity_surrogate_and_its_explainer() {
        use crate::reproduce::fidelity_slug;
        let demo = Plan::new(ReproPreset::Demo)
            .with_superpixel(8)
            .unwrap()
            .with_resnet_surrogate()
            .unwrap();
        let f = demo.fidelity.clone().unwrap();
        assert_eq!(f.explainer_arch, ExplainerArch::Resnet);
        let r = f.resnet_surrogate.clone().unwrap();
        assert_eq!((r.in_channels, r.widths), (4, [16, 32, 32, 64]));
        assert!(matches!(
            f.surrogate_model(),
            crate::train::config::ModelConfig::ResNet(_)
        ));
        assert_eq!(demo.game_batch(), 512);
        assert_eq!(fidelity_slug(&demo), "resnet-by-resnet8");
        let data = "embedded";
        let sc = demo.surrogate_config(
            crate::fastshap::surrogate::SurrogateArch::Resnet18,
            std::path::Path::new("o"),
            data,
        );
        assert_eq!(sc.model, f.surrogate_model());
        assert_eq!(
            demo.explainer_config(std::path::Path::new("s"), data).arch,
            ExplainerArch::Resnet
        );
        let mut unet = Plan::new(ReproPreset::Smoke);
        (unet.superpixel, unet.fidelity) = (8, Some(FidelityPlan::new()));
        let unet = unet.with_resnet_surrogate().unwrap();
        assert_eq!(
            unet.fidelity.as_ref().unwrap().explainer_arch,
            ExplainerArch::Unet
        );
        assert_eq!(fidelity_slug(&unet), "resnet-by-resnet8");
        let cpu = Plan::new(ReproPreset::Cpu).with_resnet_surrogate().unwrap();
        assert_eq!(
            cpu.fidelity.as_ref().unwrap().explainer_arch,
            ExplainerArch::Resnet
        );
        assert_eq!(fidelity_slug(&cpu), "resnet-by-resnet4");
        assert_eq!(
            fidelity_slug(&Plan::new(ReproPreset::Cpu)),
            "resnet-by-vit4"
        );
        let e = Plan::new(ReproPreset::Tiny)
            .with_resnet_surrogate()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--surrogate-arch"), "{e}");
    }
}
