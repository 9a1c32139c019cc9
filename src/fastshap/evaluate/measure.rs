//! The expensive phase of an evaluation, per image: the explainer's φ (and its untrained
//! self's), the ground truth through the same surrogate and link (exact from all 2^P
//! coalitions, or KernelSHAP run to convergence), the cheap baselines, the sampling estimators
//! at each budget, KernelSHAP to convergence beside exact values, the game's additivity and
//! the inclusion/exclusion curves of every ranking. Also the interleaved timing of FastSHAP
//! against game evaluations. Nothing here aggregates: that is [`super::aggregate`]'s, from the
//! records this returns.

use super::record::{
    BudgetCell, CurveRecord, EstimatorPhi, ImageRecord, RunMeta, ShardTiming, SnapshotPhi,
};
use super::{ADDITIVITY_PAIRS, EvaluateConfig, Original};
use crate::data::{self, Dataset, SIDE};
use crate::fastshap::explainer::{Explainer, Explanation, explain_batch};
use crate::fastshap::fidelity::{ImageBudget, budget_errors, column};
use crate::fastshap::{SurrogateModel, mix};
use crate::math::argmax;
use crate::shap::baselines::{additivity_exact, additivity_sampled, baselines};
use crate::shap::exact::{self, all_values};
use crate::shap::game::TableGame;
use crate::shap::inclusion_exclusion::{Mode, PERCENTAGES, curve};
use crate::shap::kernelshap::{KernelShapConfig, kernel_shap};
use crate::shap::rollout::attention_rollout;
use crate::shap::{Game, Link, SurrogateGame};
use crate::train::Model;
use crate::{Tensor, no_grad};
use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

pub(super) fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

pub(super) fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Inclusion => "inclusion",
        Mode::Exclusion => "exclusion",
    }
}

/// The images of this shard: (position in the run's choice, index in the test split).
pub(super) struct Chosen<'a> {
    pub test: &'a Dataset,
    pub items: Vec<(usize, usize)>,
}

/// The shard's images repeated up to at least `at_least` (FastSHAP's throughput batch; the
/// game's evaluations are timed in large calls too), or the shard's images alone.
fn timing_batch(x: &Tensor, at_least: usize) -> Result<Tensor> {
    let n = x.dim(0);
    if at_least <= n {
        return Ok(x.clone());
    }
    let copies = vec![x; at_least.div_ceil(n)];
    crate::ops::plumbing::concat(&copies, 0)
}

/// (explainer, untrained explainer, (step, snapshot) …) explanations of the same images.
pub(super) type Explained = (Explanation, Explanation, Vec<(u64, Explanation)>);

/// The explainer's explanation of `x`, its untrained self's (the same network at its initial
/// weights: the score training has to beat) and each training snapshot's (the learning curve,
/// against the same truth as the rest).
pub(super) fn explain_all(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    x: &Tensor,
    snapshots: &[(u64, std::path::PathBuf)],
) -> Result<Explained> {
    let ex = explain_batch(explainer, surrogate, x)?;
    let untrained = Explainer::initial(
        explainer.config.clone(),
        explainer.classes.clone(),
        surrogate,
    )?;
    let ux = explain_batch(&untrained, surrogate, x)?;
    let snaps = super::curve::explain_snapshots(snapshots, explainer, surrogate, x)?;
    Ok((ex, ux, snaps))
}

/// Image `j`'s φ in each snapshot's explanation, for its record.
pub(super) fn snapshot_phis(snaps: &[(u64, Explanation)], j: usize) -> Vec<SnapshotPhi> {
    snaps
        .iter()
        .map(|(step, e)| SnapshotPhi {
            step: *step,
            phi: to_f64(e.phi_of(j)),
        })
        .collect()
}

/// FastSHAP against game evaluations, interleaved: each round times one explainer pass over
/// the shard's batch (repeated up to `cfg.fastshap_batch` images), one over a single image and
/// one call of `batch` masks of the first image's game, back to back, so both see the same
/// machine load.
pub(super) fn time_rounds(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    x: &Tensor,
    game: &dyn Game,
    cfg: &EvaluateConfig,
) -> Result<ShardTiming> {
    let x = &timing_batch(x, cfg.fastshap_batch)?;
    let n = x.dim(0);
    let p = game.players();
    let masks: Vec<f32> = {
        let mut rng = StdRng::seed_from_u64(mix(&[cfg.seed, 31]));
        (0..cfg.batch * p)
            .map(|_| rng.random_range(0..2u8) as f32)
            .collect()
    };
    // Warm-up: pipelines compiled, buffers pooled.
    explain_batch(explainer, surrogate, &x.narrow(0, 0, 1)?)?;
    game.eval(&masks)?;
    explain_batch(explainer, surrogate, x)?;
    let mut t = ShardTiming {
        device: crate::gpu::ctx().info.name.clone(),
        batch_images: n,
        ..ShardTiming::default()
    };
    for _ in 0..cfg.timing_rounds.max(1) {
        let t0 = Instant::now();
        explain_batch(explainer, surrogate, x)?;
        let fs = t0.elapsed().as_secs_f64() / n as f64;
        let t0 = Instant::now();
        explain_batch(explainer, surrogate, &x.narrow(0, 0, 1)?)?;
        t.single.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        game.eval(&masks)?;
        t.rounds
            .push((fs, t0.elapsed().as_secs_f64() / cfg.batch as f64));
    }
    Ok(t)
}

/// Attention rollout maps of a ViT/MAE original, [N × g × g] and g; or why there are none.
fn rollout_maps(
    original: Option<&Original>,
    x: &Tensor,
) -> Result<std::result::Result<(Vec<f64>, usize), String>> {
    let maps = match original {
        None => {
            return Ok(Err(
                "no original checkpoint is reachable from the surrogate's metadata".into(),
            ));
        }
        Some(o) => match o.model {
            Model::Vit(v) => v.attention_maps(x)?,
            Model::MaeClassifier(m, _) => m.attention_maps(x)?,
            other => {
                return Ok(Err(format!(
                    "the original is a {} (attention rollout needs a ViT or MAE classifier)",
                    other.arch()
                )));
            }
        },
    };
    let r = attention_rollout(&maps)?;
    let g = r.dim(1);
    Ok(Ok((to_f64(&r.to_vec()?), g)))
}

/// A g×g rollout map as a P×K player ranking on a `side`×`side` superpixel grid: each
/// superpixel gets the mean of the rollout cells it covers (or of the cell covering it, when the
/// grid is finer than the patches), the same for every class.
fn rollout_players(map: &[f64], g: usize, side: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; side * side * k];
    for py in 0..side {
        for px in 0..side {
            // Cells [y0, y1) × [x0, x1) of the rollout grid under this superpixel.
            let span = |p: usize| {
                let a = p * g / side;
                (a, ((p + 1) * g).div_ceil(side).max(a + 1))
            };
            let ((y0, y1), (x0, x1)) = (span(py), span(px));
            let mut sum = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += map[y * g + x];
                }
            }
            let v = sum / ((y1 - y0) * (x1 - x0)) as f64;
            for c in 0..k {
                out[(py * side + px) * k + c] = v;
            }
        }
    }
    out
}

fn cells(rows: ImageBudget) -> Vec<BudgetCell> {
    rows.into_iter()
        .map(|(evaluations, pearson, l2)| BudgetCell {
            evaluations,
            pearson,
            l2,
        })
        .collect()
}

/// Ground truth of one image: φ, standard errors (KernelSHAP), evaluations, converged, and the
/// full table when exact.
struct Truth {
    phi: Vec<f64>,
    std: Option<Vec<f64>>,
    evaluations: f64,
    converged: bool,
    table: Option<TableGame>,
    efficiency_gap: f64,
}

fn ground_truth(
    game: &SurrogateGame,
    exact: bool,
    class: usize,
    seed: u64,
    cfg: &EvaluateConfig,
) -> Result<Truth> {
    let (p, k) = (game.players(), game.outputs());
    if exact {
        let table = TableGame {
            players: p,
            outputs: k,
            values: all_values(game, cfg.batch)?,
        };
        let e = exact::from_values(&table.values, p, k);
        let efficiency_gap = (0..k)
            .map(|c| {
                let sum: f64 = (0..p).map(|i| e.phi[i * k + c]).sum();
                (sum - (e.grand[c] - e.null[c])).abs()
            })
            .fold(0.0, f64::max);
        return Ok(Truth {
            phi: e.phi,
            std: None,
            evaluations: (1u64 << p) as f64,
            converged: true,
            table: Some(table),
            efficiency_gap,
        });
    }
    let r = kernel_shap(game, &converged_config(cfg, class, seed))?;
    Ok(Truth {
        phi: r.phi,
        std: Some(r.std),
        evaluations: r.evaluations as f64,
        converged: r.converged,
        table: None,
        efficiency_gap: 0.0,
    })
}

fn converged_config(cfg: &EvaluateConfig, class: usize, seed: u64) -> KernelShapConfig {
    KernelShapConfig {
        batch_pairs: (cfg.batch / 2).max(1),
        threshold: cfg.kernelshap_threshold,
        relative_se: cfg.truth_tolerance,
        max_evals: cfg.kernelshap_max_evals,
        seed,
        target: Some(class),
    }
}

/// Runs the per-image phase over `chosen` and returns its records and timing.
pub(super) fn measure(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    original: Option<&Original>,
    chosen: &Chosen,
    cfg: &EvaluateConfig,
    meta: &mut RunMeta,
) -> Result<(Vec<ImageRecord>, ShardTiming)> {
    let (test, items) = (chosen.test, &chosen.items);
    let s = surrogate.superpixel();
    let (p, k) = (meta.players, meta.classes.len());
    let exact = meta.ground_truth == "exact";
    let n = items.len();
    let mut xs = Vec::with_capacity(n * 3 * SIDE * SIDE);
    for &(_, i) in items {
        data::normalize_into(test.image(i), &mut xs);
    }
    let x = Tensor::from_slice(&xs, &[n, 3, SIDE, SIDE])?;
    let image_of = |j: usize| x.narrow(0, j, 1);
    let _ng = no_grad();
    let link = explainer.config.link.link();
    let (ex, ux, snaps) = explain_all(explainer, surrogate, &x, &cfg.snapshots)?;
    let oprobs: Option<Vec<f32>> = match original {
        Some(o) => Some(o.model.logits(&x, false)?.softmax()?.to_vec()?),
        None => None,
    };
    let rollout = rollout_maps(original, &x)?;
    if let Err(why) = &rollout {
        meta.rollout_skipped = Some(why.clone());
    }
    // The surrogate's own game path (a ViT or ResNet folds the masking into its first layer).
    let first = surrogate.game(image_of(0)?, link, cfg.batch)?;
    let mut timing = time_rounds(explainer, surrogate, &x, &first, cfg)?;
    drop(first);

    let mut records = Vec::with_capacity(n);
    for (j, &(position, index)) in items.iter().enumerate() {
        let sprobs = to_f64(&ex.probs[j * k..(j + 1) * k]);
        let oprob = oprobs.as_ref().map(|o| to_f64(&o[j * k..(j + 1) * k]));
        let class = argmax(oprob.as_ref().unwrap_or(&sprobs)).unwrap_or(0);
        let img_seed = |purpose: u64| mix(&[cfg.seed, index as u64, purpose]);
        let game = surrogate.game(image_of(j)?, link, cfg.batch)?;

        let t0 = Instant::now();
        let truth = ground_truth(&game, exact, class, img_seed(7), cfg)?;
        timing.truth_seconds += t0.elapsed().as_secs_f64();
        timing.truth_evaluations += truth.evaluations;
        // Everything cheap runs on the table when there is one (host time only).
        let cheap: &dyn Game = match &truth.table {
            Some(t) => t,
            None => &game,
        };

        let mut estimators = vec![
            EstimatorPhi {
                name: "fastshap".into(),
                evaluations: None,
                phi: to_f64(ex.phi_of(j)),
            },
            EstimatorPhi {
                name: "fastshap (untrained)".into(),
                evaluations: None,
                phi: to_f64(ux.phi_of(j)),
            },
        ];
        for b in baselines(cheap)? {
            estimators.push(EstimatorPhi {
                name: b.name.into(),
                evaluations: Some(b.evaluations as f64),
                phi: b.phi,
            });
        }
        // KernelSHAP run to convergence beside exact values (on the first images of the run).
        if exact && position < cfg.kernelshap_images.unwrap_or(usize::MAX) {
            let t0 = Instant::now();
            let r = kernel_shap(&game, &converged_config(cfg, class, img_seed(7)))?;
            timing.kernelshap_seconds += t0.elapsed().as_secs_f64();
            timing.kernelshap_evaluations += r.evaluations as f64;
            timing.kernelshap_images += 1;
            estimators.push(EstimatorPhi {
                name: "kernelshap (converged)".into(),
                evaluations: Some(r.evaluations as f64),
                phi: r.phi,
            });
        }
        let (ks, perm) = if cfg.budgets.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            budget_errors(cheap, &truth.phi, class, &cfg.budgets, img_seed(13))?
        };
        let budgets = vec![
            ("kernelshap".to_string(), cells(ks)),
            ("permutation".to_string(), cells(perm)),
        ];
        let col = column(&truth.phi, p, k, class);
        let additivity = match &truth.table {
            Some(t) => additivity_exact(t, class),
            None => additivity_sampled(&game, class, ADDITIVITY_PAIRS, img_seed(17))?,
        };

        // Rankings for the curves: every estimator with a ranking, the truth, rollout, random.
        let roll = rollout
            .as_ref()
            .ok()
            .map(|(r, g)| (*g, r[j * g * g..(j + 1) * g * g].to_vec()));
        let mut rankings: Vec<(String, Vec<f64>)> = estimators
            .iter()
            .filter(|e| e.name != "fastshap (untrained)" && e.name != "uniform")
            .map(|e| (e.name.clone(), column(&e.phi, p, k, class)))
            .collect();
        rankings.push((meta.ground_truth.clone(), col.clone()));
        if let Some((g, map)) = &roll {
            rankings.push((
                "rollout".into(),
                column(&rollout_players(map, *g, SIDE / s, k), p, k, class),
            ));
        }
        let mut rng = StdRng::seed_from_u64(img_seed(11));
        rankings.push((
            "random".into(),
            (0..p).map(|_| rng.random_range(0.0..1.0)).collect(),
        ));
        let probs_game = surrogate.game(image_of(j)?, Link::Softmax, cfg.batch)?;
        let mut curves = Vec::new();
        let with_curves = position < cfg.curve_images.unwrap_or(usize::MAX);
        for (method, rank) in rankings.iter().filter(|_| with_curves) {
            for mode in [Mode::Exclusion, Mode::Inclusion] {
                let c = curve(&probs_game, rank, class, &PERCENTAGES, mode, true)?;
                curves.push(CurveRecord {
                    method: method.clone(),
                    mode: mode_name(mode).into(),
                    x: c.x,
                    top1: c.top1,
                    log_odds: c.log_odds,
                });
            }
        }
        if cfg.progress {
            eprintln!(
                "image {}/{n} (#{index}): ground truth {:.0} evaluations{}, {:.1} s so far",
                j + 1,
                truth.evaluations,
                if truth.converged {
                    ""
                } else {
                    " (not converged)"
                },
                timing.truth_seconds + timing.kernelshap_seconds
            );
        }
        records.push(ImageRecord {
            position,
            index,
            label: test.class_name(index).to_string(),
            image: test.image(index).to_vec(),
            class,
            surrogate_probs: sprobs,
            original_probs: oprob,
            truth: truth.phi,
            truth_std: truth.std,
            truth_evaluations: truth.evaluations,
            truth_converged: truth.converged,
            estimators,
            budgets,
            additivity,
            efficiency_gap: truth.efficiency_gap,
            curves,
            rollout: roll,
            snapshots: snapshot_phis(&snaps, j),
        });
    }
    Ok((records, timing))
}
