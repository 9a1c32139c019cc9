//! `fastshap evaluate`'s engine: how good is a trained explainer, measured against ground truth
//! that the FastSHAP paper could not compute. On N seeded test images it computes
//!
//! - the explainer's φ ([`explain_batch`]) and ground truth through the **same surrogate and
//!   link**: exact Shapley values (2^P coalitions) when P is small, else KernelSHAP run to
//!   convergence; the explainer's error (L2, Pearson, Spearman, top-k sign agreement) per image
//!   and class → `errors.csv`, `errors.md`;
//! - inclusion/exclusion curves scored by the surrogate under `Link::Softmax`, for FastSHAP, the
//!   ground truth's ranking, KernelSHAP and a random ranking, with bootstrap AUC intervals →
//!   `curves.csv`, `auc.md`, `curves_*.svg`;
//! - explanation time per image for each method → `timing.md`;
//! - attention rollout beside the Shapley maps when the original is a ViT or MAE classifier →
//!   `rollout.png`;
//! - `report.md` collecting all of it.
//!
//! The curves' class is the original's prediction on the full image when the original's
//! checkpoint is reachable, else the surrogate's (the output says which).

use super::explainer::{Explainer, explain_batch};
use super::fidelity::{self, BudgetCurve, EstimatorScores};
use super::{SurrogateModel, mix};
use crate::data::{self, Dataset, SIDE};
use crate::shap::curves::{self, CurveReport, Mode};
use crate::shap::exact::{self, all_values};
use crate::shap::game::TableGame;
use crate::shap::kernelshap::{KernelShapConfig, kernel_shap};
use crate::shap::metrics::{self, Errors};
use crate::shap::rollout::attention_rollout;
use crate::shap::{Game, Link, SurrogateGame};
use crate::train::Model;
use crate::viz::{
    Direction, HeatmapOptions, HeatmapRow, PlotOptions, RolloutOptions, RolloutRow, Series,
    compose, heatmap_grid, line_plot, rollout_grid, save_png,
};
use crate::{Tensor, no_grad};
use anyhow::{Context, Result, bail, ensure};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The FastSHAP paper's CIFAR-10 top-1 AUCs: (method, exclusion, inclusion).
pub const PAPER_AUC: [(&str, f64, f64); 2] = [("fastshap", 0.42, 0.78), ("kernelshap", 0.64, 0.78)];

/// Largest P for which `auto` picks exact Shapley values (superpixel 8 on CIFAR).
pub const AUTO_EXACT_MAX_PLAYERS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GroundTruth {
    /// Exact Shapley values (P ≤ 20).
    Exact,
    /// KernelSHAP to convergence.
    Kernelshap,
    /// Exact when P ≤ 16, else KernelSHAP.
    Auto,
}

#[derive(Clone, Debug)]
pub struct EvaluateConfig {
    pub images: usize,
    pub ground_truth: GroundTruth,
    /// KernelSHAP stops when max std(φ) < threshold · range(φ).
    pub kernelshap_threshold: f64,
    /// KernelSHAP's budget of evaluations per image.
    pub kernelshap_max_evals: usize,
    pub bootstrap: usize,
    /// Masks per surrogate call.
    pub batch: usize,
    /// Sign agreement over the ground truth's top-k players by |φ| (0: P/4).
    pub top_k: usize,
    pub seed: u64,
    /// Per-image progress lines on stderr.
    pub progress: bool,
    /// Budgets (game evaluations per image) at which KernelSHAP and permutation sampling are
    /// scored against the exact values (needs exact ground truth; empty: none).
    pub budgets: Vec<usize>,
    /// Images that also get a real KernelSHAP run to convergence (its AUCs, timing, and the
    /// ground truth when P is too large for exact values); `None`: all.
    pub kernelshap_images: Option<usize>,
}

/// The budgets of the error-vs-evaluations curves: 64 … 16,384, doubling.
pub fn default_budgets() -> Vec<usize> {
    (6..=14).map(|e| 1usize << e).collect()
}

impl Default for EvaluateConfig {
    fn default() -> Self {
        EvaluateConfig {
            images: 16,
            ground_truth: GroundTruth::Auto,
            kernelshap_threshold: 0.01,
            kernelshap_max_evals: 1 << 20,
            bootstrap: 200,
            batch: 512,
            top_k: 0,
            seed: 0,
            progress: false,
            budgets: default_budgets(),
            kernelshap_images: None,
        }
    }
}

/// The original classifier, when its checkpoint is reachable.
pub struct Original<'a> {
    pub path: PathBuf,
    pub model: &'a Model,
}

/// The explainer's error on one image (mean over classes) against the ground truth.
#[derive(Clone, Debug)]
pub struct ImageResult {
    pub index: usize,
    pub label: String,
    /// The class the curves explain.
    pub class: usize,
    pub fastshap: Errors,
    /// KernelSHAP's own error when the ground truth is exact.
    pub kernelshap: Option<Errors>,
}

#[derive(Clone, Debug)]
pub struct AucRow {
    pub method: String,
    pub mode: Mode,
    pub top1: (f64, (f64, f64)),
    pub log_odds: (f64, (f64, f64)),
}

#[derive(Clone, Debug)]
pub struct TimingRow {
    pub method: String,
    pub seconds_per_image: f64,
    /// Game evaluations per image (KernelSHAP, exact).
    pub evaluations: Option<f64>,
    pub note: String,
}

pub struct EvaluateSummary {
    pub players: usize,
    pub classes: usize,
    /// "exact" or "kernelshap".
    pub ground_truth: &'static str,
    /// "original" or "surrogate": whose full-image prediction the curves explain.
    pub reference: &'static str,
    pub images: Vec<ImageResult>,
    pub mean_fastshap: Errors,
    pub mean_kernelshap: Option<Errors>,
    pub auc: Vec<AucRow>,
    pub timing: Vec<TimingRow>,
    /// Largest |Σφ − (v(1) − v(0))| of the exact values over images and classes.
    pub exact_efficiency_error: Option<f64>,
    /// KernelSHAP: images that converged, of N.
    pub kernelshap_converged: usize,
    /// Why rollout was skipped, or None when `rollout.png` was written.
    pub rollout_skipped: Option<String>,
    pub files: Vec<PathBuf>,
    /// Machine-readable answer (also `fidelity.json`).
    pub fidelity: Fidelity,
}

/// How right the explanations are, in numbers (`fidelity.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Fidelity {
    pub players: usize,
    pub classes: usize,
    pub images: usize,
    /// "exact" or "kernelshap".
    pub ground_truth: String,
    /// The trained explainer, the same network untrained (its initial weights), and
    /// KernelSHAP run to convergence (when the ground truth is exact).
    pub scores: Vec<EstimatorScores>,
    /// Error against the exact values vs game evaluations (when the ground truth is exact).
    pub budget_curves: Vec<BudgetCurve>,
    /// Measured seconds of one game evaluation (one masked image through the surrogate).
    pub seconds_per_evaluation: Option<f64>,
    /// Evaluations KernelSHAP / permutation sampling need to match FastSHAP's mean L2 on the
    /// explained class (`None`: not within the budgets tried).
    pub kernelshap_evaluations_to_match: Option<f64>,
    pub permutation_evaluations_to_match: Option<f64>,
    /// KernelSHAP's mean L2 at 1,000 evaluations beside FastSHAP's.
    pub kernelshap_l2_at_1000: Option<f64>,
    pub fastshap_ms_per_image: f64,
    pub fastshap_ms_single_image: f64,
    /// KernelSHAP at FastSHAP's error, per image: the evaluations × the measured time of one.
    pub kernelshap_ms_at_equal_error: Option<f64>,
    pub permutation_ms_at_equal_error: Option<f64>,
    /// KernelSHAP's time at equal error over FastSHAP's time per image (batch of N).
    pub speedup_at_equal_error: Option<f64>,
    /// Exact values' time per image (2^P evaluations).
    pub exact_ms_per_image: Option<f64>,
    /// (method, mode, top-1 AUC) with its interval.
    pub auc: Vec<AucEntry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AucEntry {
    pub method: String,
    pub mode: String,
    pub top1: fidelity::Stat,
    pub log_odds: fidelity::Stat,
}

/// `n` distinct test indices chosen with `seed` (a partial Fisher–Yates shuffle), sorted.
pub fn choose_images(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..len).collect();
    let n = n.min(len);
    for i in 0..n {
        let j = rng.random_range(i..len);
        idx.swap(i, j);
    }
    let mut out = idx[..n].to_vec();
    out.sort_unstable();
    out
}

/// The explainer and surrogate must agree on players and classes; one clear error otherwise.
pub fn check_models(explainer: &Explainer, surrogate: &dyn SurrogateModel) -> Result<()> {
    let (es, ss) = (explainer.superpixel(), surrogate.superpixel());
    ensure!(
        es == ss,
        "the explainer has P = {} players (superpixel {es}) but the surrogate has P = {} \
         (superpixel {ss}); evaluate an explainer trained on this surrogate",
        super::players(es),
        super::players(ss)
    );
    ensure!(
        explainer.config.unet.classes == surrogate.classes(),
        "the explainer has {} classes, the surrogate {}",
        explainer.config.unet.classes,
        surrogate.classes()
    );
    Ok(())
}

fn column(phi: &[f64], p: usize, k: usize, c: usize) -> Vec<f64> {
    (0..p).map(|i| phi[i * k + c]).collect()
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len())
        .max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

fn fmt_ci(m: f64, ci: (f64, f64)) -> String {
    format!("{m:.3} [{:.3}, {:.3}]", ci.0, ci.1)
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Inclusion => "inclusion",
        Mode::Exclusion => "exclusion",
    }
}

/// Runs the whole evaluation and writes its files under `out`.
pub fn evaluate(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    original: Option<&Original>,
    test: &Dataset,
    cfg: &EvaluateConfig,
    out: &Path,
) -> Result<EvaluateSummary> {
    check_models(explainer, surrogate)?;
    ensure!(cfg.images >= 1, "--images must be at least 1");
    ensure!(!test.is_empty(), "the test split is empty");
    ensure!(
        cfg.kernelshap_threshold.is_finite() && cfg.kernelshap_threshold > 0.0,
        "--kernelshap-threshold must be positive, got {}",
        cfg.kernelshap_threshold
    );
    let s = surrogate.superpixel();
    let (p, k) = (super::players(s), surrogate.classes());
    let use_exact = match cfg.ground_truth {
        GroundTruth::Exact => {
            ensure!(
                p <= 20,
                "--ground-truth exact enumerates 2^P coalitions; P = {p} (superpixel {s}) is \
                 too many (at most 20): use kernelshap or auto"
            );
            true
        }
        GroundTruth::Kernelshap => false,
        GroundTruth::Auto => p <= AUTO_EXACT_MAX_PLAYERS,
    };
    let top_k = if cfg.top_k == 0 {
        (p / 4).max(1)
    } else {
        cfg.top_k
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let classes: Vec<String> = if explainer.classes.len() == k {
        explainer.classes.clone()
    } else {
        (0..k).map(|c| format!("class {c}")).collect()
    };
    let link = explainer.config.link.link();
    let idx = choose_images(test.len(), cfg.images, cfg.seed);
    let n = idx.len();
    let mut xs = Vec::with_capacity(n * 3 * SIDE * SIDE);
    for &i in &idx {
        data::normalize_into(test.image(i), &mut xs);
    }
    let x = Tensor::from_slice(&xs, &[n, 3, SIDE, SIDE])?;
    let image_of = |j: usize| x.narrow(0, j, 1);

    // FastSHAP: one warm-up call, then the batch and a single image, timed.
    let _ng = no_grad();
    explain_batch(explainer, surrogate, &image_of(0)?)?;
    let t = Instant::now();
    let ex = explain_batch(explainer, surrogate, &x)?;
    let fs_batch = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    explain_batch(explainer, surrogate, &image_of(0)?)?;
    let fs_single = t.elapsed().as_secs_f64();
    let fs_phi: Vec<Vec<f64>> = (0..n)
        .map(|i| ex.phi_of(i).iter().map(|&v| v as f64).collect())
        .collect();
    // The same network at its initial weights: the score training has to beat.
    let untrained = Explainer::new(explainer.config.clone(), explainer.classes.clone())?;
    let ux = explain_batch(&untrained, surrogate, &x)?;
    let untrained_phi: Vec<Vec<f64>> = (0..n)
        .map(|i| ux.phi_of(i).iter().map(|&v| v as f64).collect())
        .collect();
    let sprobs: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            ex.probs[i * k..(i + 1) * k]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();

    // Whose prediction the curves explain.
    let (reference, oprobs) = match original {
        Some(o) => {
            let pr = o.model.logits(&x, false)?.softmax()?.to_vec()?;
            let pr: Vec<Vec<f64>> = pr
                .chunks(k)
                .map(|r| r.iter().map(|&v| v as f64).collect())
                .collect();
            ("original", Some(pr))
        }
        None => ("surrogate", None),
    };
    let target: Vec<usize> = (0..n)
        .map(|i| argmax(oprobs.as_ref().map_or(&sprobs[i], |o| &o[i])))
        .collect();

    // Ground truth (and KernelSHAP as a baseline and for timing) through the same surrogate.
    let logits = |m: &Tensor| surrogate.logits(m);
    let mut exact_phi: Vec<Vec<f64>> = Vec::new();
    let mut ks_phi: Vec<Vec<f64>> = Vec::new();
    let (mut exact_secs, mut ks_secs, mut ks_evals, mut ks_conv) = (0.0, 0.0, 0usize, 0usize);
    let mut eff_err = 0f64;
    let budgets: Vec<usize> = if use_exact {
        cfg.budgets.clone()
    } else {
        Vec::new()
    };
    let (mut ks_rows, mut perm_rows) = (Vec::new(), Vec::new());
    let ks_images = if use_exact {
        cfg.kernelshap_images.unwrap_or(n).min(n)
    } else {
        n
    };
    for j in 0..n {
        let game = SurrogateGame::new(&logits, image_of(j)?, s, link, cfg.batch)?;
        if use_exact {
            // All 2^P values once: the exact values and every budget curve come from this table.
            let t = Instant::now();
            let table = TableGame {
                players: p,
                outputs: k,
                values: all_values(&game, cfg.batch)?,
            };
            exact_secs += t.elapsed().as_secs_f64();
            let e = exact::from_values(&table.values, p, k);
            for c in 0..k {
                let sum: f64 = (0..p).map(|i| e.phi[i * k + c]).sum();
                eff_err = eff_err.max((sum - (e.grand[c] - e.null[c])).abs());
            }
            if !budgets.is_empty() {
                let (ks, perm) = fidelity::budget_errors(
                    &table,
                    &e.phi,
                    target[j],
                    &budgets,
                    mix(&[cfg.seed, idx[j] as u64, 13]),
                )?;
                ks_rows.push(ks);
                perm_rows.push(perm);
            }
            exact_phi.push(e.phi);
        }
        if j >= ks_images {
            if cfg.progress {
                eprintln!(
                    "image {}/{n} (#{}): exact {:.1} s total",
                    j + 1,
                    idx[j],
                    exact_secs
                );
            }
            continue;
        }
        let t = Instant::now();
        let r = kernel_shap(
            &game,
            &KernelShapConfig {
                batch_pairs: (cfg.batch / 2).max(1),
                threshold: cfg.kernelshap_threshold,
                max_evals: cfg.kernelshap_max_evals,
                seed: mix(&[cfg.seed, idx[j] as u64, 7]),
                target: Some(target[j]),
            },
        )?;
        ks_secs += t.elapsed().as_secs_f64();
        ks_evals += r.evaluations;
        ks_conv += r.converged as usize;
        if cfg.progress {
            eprintln!(
                "image {}/{n} (#{}): exact {:.1} s total, kernelshap {} evaluations{}, {:.1} s total",
                j + 1,
                idx[j],
                exact_secs,
                r.evaluations,
                if r.converged { "" } else { " (not converged)" },
                ks_secs
            );
        }
        ks_phi.push(r.phi);
    }
    let truth = if use_exact { &exact_phi } else { &ks_phi };
    let gt_name: &'static str = if use_exact { "exact" } else { "kernelshap" };
    let top_scores = {
        let b = cfg.bootstrap;
        let mut v = vec![
            fidelity::score(
                "fastshap",
                &fs_phi,
                truth,
                &target,
                p,
                k,
                top_k,
                b,
                mix(&[cfg.seed, 21]),
            ),
            fidelity::score(
                "fastshap (untrained)",
                &untrained_phi,
                truth,
                &target,
                p,
                k,
                top_k,
                b,
                mix(&[cfg.seed, 22]),
            ),
        ];
        if use_exact && ks_images > 0 {
            v.push(fidelity::score(
                "kernelshap (converged)",
                &ks_phi,
                &truth[..ks_images],
                &target[..ks_images],
                p,
                k,
                top_k,
                b,
                mix(&[cfg.seed, 23]),
            ));
        }
        v
    };
    let budget_curves: Vec<BudgetCurve> = if budgets.is_empty() {
        Vec::new()
    } else {
        vec![
            fidelity::budget_curve(
                "kernelshap",
                &budgets,
                &ks_rows,
                cfg.bootstrap,
                mix(&[cfg.seed, 24]),
            ),
            fidelity::budget_curve(
                "permutation",
                &budgets,
                &perm_rows,
                cfg.bootstrap,
                mix(&[cfg.seed, 25]),
            ),
        ]
    };

    // Explainer error per image and class.
    let mut csv =
        String::from("image,index,label,estimator,class,l2,pearson,spearman,sign_agreement\n");
    let mut results = Vec::with_capacity(n);
    for j in 0..n {
        let mut row = |est: &str, phi: &[f64]| -> Errors {
            for c in 0..k {
                let (a, b) = (column(phi, p, k, c), column(&truth[j], p, k, c));
                let _ = writeln!(
                    csv,
                    "{j},{},{},{est},{},{},{},{},{}",
                    idx[j],
                    test.class_name(idx[j]),
                    classes[c],
                    metrics::l2(&a, &b),
                    metrics::pearson(&a, &b),
                    metrics::spearman(&a, &b),
                    metrics::sign_agreement(&a, &b, top_k)
                );
            }
            let e = metrics::errors(phi, &truth[j], p, k, top_k);
            let _ = writeln!(
                csv,
                "{j},{},{},{est},mean,{},{},{},{}",
                idx[j],
                test.class_name(idx[j]),
                e.l2,
                e.pearson,
                e.spearman,
                e.sign_agreement
            );
            e
        };
        let fastshap = row("fastshap", &fs_phi[j]);
        row("fastshap-untrained", &untrained_phi[j]);
        let kernelshap = (use_exact && j < ks_images).then(|| row("kernelshap", &ks_phi[j]));
        results.push(ImageResult {
            index: idx[j],
            label: test.class_name(idx[j]).to_string(),
            class: target[j],
            fastshap,
            kernelshap,
        });
    }
    let mut files = Vec::new();
    let mut write = |name: &str, body: &[u8]| -> Result<()> {
        let path = out.join(name);
        crate::io::write_atomic(&path, body)?;
        files.push(path);
        Ok(())
    };
    write("errors.csv", csv.as_bytes())?;
    let mean_fastshap =
        metrics::mean_errors(&results.iter().map(|r| r.fastshap).collect::<Vec<_>>());
    let mean_kernelshap = use_exact.then(|| {
        metrics::mean_errors(
            &results
                .iter()
                .filter_map(|r| r.kernelshap)
                .collect::<Vec<_>>(),
        )
    });
    let errors_md = errors_table(&results, mean_fastshap, mean_kernelshap, gt_name, p, top_k);
    write("errors.md", errors_md.as_bytes())?;

    // Inclusion / exclusion curves under the softmax link.
    let games: Vec<SurrogateGame> = (0..n)
        .map(|j| SurrogateGame::new(&logits, image_of(j)?, s, Link::Softmax, cfg.batch))
        .collect::<Result<_>>()?;
    let mut rng = StdRng::seed_from_u64(mix(&[cfg.seed, 11]));
    let random: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..p * k).map(|_| rng.random_range(0.0..1.0)).collect())
        .collect();
    // Attention rollout of a ViT/MAE original ([N, g, g]), and as a ranking of the players
    // (its mean over each superpixel, the same for every class).
    let rollout: std::result::Result<(Vec<f64>, usize), String> = match original {
        None => {
            Err("no original checkpoint is reachable from the surrogate's metadata".to_string())
        }
        Some(o) => match o.model {
            Model::Vit(v) => Ok(v.attention_maps(&x)?),
            Model::MaeClassifier(m, _) => Ok(m.attention_maps(&x)?),
            other => Err(format!(
                "the original is a {} (attention rollout needs a ViT or MAE classifier)",
                other.arch()
            )),
        }
        .and_then(|maps| {
            let r = attention_rollout(&maps).map_err(|e| e.to_string())?;
            let g = r.dim(1);
            let v = r.to_vec().map_err(|e| e.to_string())?;
            Ok((v.iter().map(|&v| v as f64).collect(), g))
        }),
    };
    let rollout_phi: Option<Vec<Vec<f64>>> = rollout.as_ref().ok().map(|(r, g)| {
        (0..n)
            .map(|j| rollout_players(&r[j * g * g..(j + 1) * g * g], *g, SIDE / s, k))
            .collect()
    });
    let mut methods: Vec<(&str, &Vec<Vec<f64>>)> = vec![("fastshap", &fs_phi)];
    if let Some(r) = &rollout_phi {
        methods.push(("rollout", r));
    }
    if use_exact {
        methods.push(("exact", &exact_phi));
    }
    if !ks_phi.is_empty() {
        methods.push(("kernelshap", &ks_phi));
    }
    methods.push(("random", &random));
    let mut reports: Vec<(&str, Mode, CurveReport)> = Vec::new();
    for (mi, &(name, phis)) in methods.iter().enumerate() {
        // KernelSHAP may cover only the first `kernelshap_images` images.
        let m = phis.len();
        for mode in [Mode::Exclusion, Mode::Inclusion] {
            let cols: Vec<Vec<f64>> = (0..m).map(|j| column(&phis[j], p, k, target[j])).collect();
            let items: Vec<(&dyn Game, &[f64], usize)> = (0..m)
                .map(|j| (&games[j] as &dyn Game, cols[j].as_slice(), target[j]))
                .collect();
            let seed = mix(&[cfg.seed, mi as u64, mode as u64]);
            reports.push((
                name,
                mode,
                curves::evaluate(&items, mode, true, cfg.bootstrap, seed)?,
            ));
        }
    }
    let mut ccsv = String::from("method,mode,image,x,top1,log_odds\n");
    let mut auc = Vec::new();
    for (name, mode, r) in &reports {
        for (j, c) in r.curves.iter().enumerate() {
            for (i, x) in c.x.iter().enumerate() {
                let _ = writeln!(
                    ccsv,
                    "{name},{},{j},{x},{},{}",
                    mode_name(*mode),
                    c.top1[i],
                    c.log_odds[i]
                );
            }
        }
        let (mt, ml) = mean_curve(r);
        for (i, x) in r.curves[0].x.iter().enumerate() {
            let _ = writeln!(
                ccsv,
                "{name},{},mean,{x},{},{}",
                mode_name(*mode),
                mt[i],
                ml[i]
            );
        }
        auc.push(AucRow {
            method: name.to_string(),
            mode: *mode,
            top1: (r.top1.mean, r.top1.ci),
            log_odds: (r.log_odds.mean, r.log_odds.ci),
        });
    }
    write("curves.csv", ccsv.as_bytes())?;
    write(
        "auc.md",
        auc_table(&auc, reference, n, cfg.bootstrap).as_bytes(),
    )?;
    for mode in [Mode::Exclusion, Mode::Inclusion] {
        for (metric, label) in [("top1", "top-1 agreement"), ("log_odds", "log-odds")] {
            let series: Vec<Series> = reports
                .iter()
                .filter(|(_, m, _)| *m == mode)
                .map(|(name, _, r)| {
                    let (mt, ml) = mean_curve(r);
                    let x = r.curves[0].x.iter().map(|v| v * 100.0).collect();
                    let mut sr = Series::new(name, x, if metric == "top1" { mt } else { ml });
                    sr.dashed = *name == "random";
                    sr
                })
                .collect();
            let opts = PlotOptions {
                title: format!("{} curves ({n} images, surrogate scores)", mode_name(mode)),
                x_label: format!(
                    "% of superpixels {}",
                    match mode {
                        Mode::Inclusion => "kept (top φ first)",
                        Mode::Exclusion => "removed (top φ first)",
                    }
                ),
                y_label: format!("{label} with the {reference}'s class"),
                y_range: (metric == "top1").then_some((0.0, 1.0)),
                ..PlotOptions::default()
            };
            write(
                &format!("curves_{}_{metric}.svg", mode_name(mode)),
                line_plot(&series, &opts).as_bytes(),
            )?;
        }
    }

    // Timing.
    let mut timing = vec![
        TimingRow {
            method: "fastshap (batch of N)".into(),
            seconds_per_image: fs_batch,
            evaluations: None,
            note: "explainer + surrogate on the full and empty image".into(),
        },
        TimingRow {
            method: "fastshap (one image)".into(),
            seconds_per_image: fs_single,
            evaluations: None,
            note: "latency of a single call".into(),
        },
        TimingRow {
            method: "kernelshap".into(),
            seconds_per_image: ks_secs / ks_images.max(1) as f64,
            evaluations: Some(ks_evals as f64 / ks_images.max(1) as f64),
            note: format!(
                "to convergence on the explained class, threshold {}; converged on {ks_conv} of \
                 {ks_images} images",
                cfg.kernelshap_threshold
            ),
        },
    ];
    timing.push(if use_exact {
        TimingRow {
            method: "exact".into(),
            seconds_per_image: exact_secs / n as f64,
            evaluations: Some((1usize << p) as f64),
            note: format!("all 2^{p} coalitions"),
        }
    } else {
        TimingRow {
            method: "exact".into(),
            seconds_per_image: f64::NAN,
            evaluations: None,
            note: format!("not run: P = {p} (2^{p} coalitions)"),
        }
    });
    write(
        "timing.md",
        timing_table(&timing, p, k, cfg.batch).as_bytes(),
    )?;

    // Pictures: Shapley maps of every class, and rollout beside them for ViT/MAE originals.
    let opts = HeatmapOptions::new(&classes);
    for (name, phis) in [("fastshap", &fs_phi), (gt_name, truth)] {
        let rows: Vec<HeatmapRow> = (0..n)
            .map(|j| HeatmapRow {
                image: test.image(idx[j]),
                phi: &phis[j],
                probs: oprobs.as_ref().map(|o| o[j].as_slice()),
                surrogate_probs: Some(&sprobs[j]),
                title: format!("#{} {}", idx[j], test.class_name(idx[j])),
            })
            .collect();
        let path = out.join(format!("phi_{name}.png"));
        save_png(&heatmap_grid(&rows, &opts)?, &path)?;
        files.push(path);
    }
    let rollout_skipped = match rollout {
        Err(why) => Some(why),
        Ok((r, g)) => {
            let mut parts = Vec::new();
            for j in 0..n {
                let row = RolloutRow {
                    image: test.image(idx[j]),
                    maps: vec![&r[j * g * g..(j + 1) * g * g]],
                    title: format!("#{}", idx[j]),
                };
                let roll = rollout_grid(&[row], &RolloutOptions::new(&["rollout"]))?;
                let mut ho = HeatmapOptions::new(&classes);
                ho.class_subset = Some(vec![target[j]]);
                let shap = |phi: &[f64]| {
                    heatmap_grid(
                        &[HeatmapRow {
                            image: test.image(idx[j]),
                            phi,
                            probs: oprobs.as_ref().map(|o| o[j].as_slice()),
                            surrogate_probs: Some(&sprobs[j]),
                            title: String::new(),
                        }],
                        &ho,
                    )
                };
                let (a, b) = (shap(&fs_phi[j])?, shap(&truth[j])?);
                parts.push(compose(
                    "",
                    &[
                        ("attention rollout", &roll),
                        ("fastshap", &a),
                        (gt_name, &b),
                    ],
                    Direction::Horizontal,
                ));
            }
            let caps: Vec<String> = idx.iter().map(|i| format!("test #{i}")).collect();
            let refs: Vec<(&str, &image::RgbImage)> =
                caps.iter().map(String::as_str).zip(parts.iter()).collect();
            let path = out.join("rollout.png");
            save_png(
                &compose(
                    "attention rollout beside Shapley values (explained class)",
                    &refs,
                    Direction::Vertical,
                ),
                &path,
            )?;
            files.push(path);
            None
        }
    };

    // The answer: scores with intervals, budget curves, speed at equal error.
    let fs_scores = &top_scores[0];
    let per_eval =
        (use_exact && exact_secs > 0.0).then(|| exact_secs / (n as f64 * (1u64 << p) as f64));
    let fs_l2 = fs_scores.predicted.l2.mean;
    let ks_match = budget_curves
        .first()
        .and_then(|c| fidelity::evaluations_to_match(c, fs_l2));
    let perm_match = budget_curves
        .get(1)
        .and_then(|c| fidelity::evaluations_to_match(c, fs_l2));
    let ks_ms_equal = ks_match.zip(per_eval).map(|(e, t)| e * t * 1e3);
    let fidelity = Fidelity {
        players: p,
        classes: k,
        images: n,
        ground_truth: gt_name.into(),
        scores: top_scores.clone(),
        budget_curves: budget_curves.clone(),
        seconds_per_evaluation: per_eval,
        kernelshap_evaluations_to_match: ks_match,
        permutation_evaluations_to_match: perm_match,
        kernelshap_l2_at_1000: budget_curves
            .first()
            .and_then(|c| fidelity::l2_at(c, 1000.0)),
        fastshap_ms_per_image: fs_batch * 1e3,
        fastshap_ms_single_image: fs_single * 1e3,
        kernelshap_ms_at_equal_error: ks_ms_equal,
        permutation_ms_at_equal_error: perm_match.zip(per_eval).map(|(e, t)| e * t * 1e3),
        speedup_at_equal_error: ks_ms_equal.map(|ms| ms / (fs_batch * 1e3)),
        exact_ms_per_image: use_exact.then(|| exact_secs / n as f64 * 1e3),
        auc: auc
            .iter()
            .map(|a| AucEntry {
                method: a.method.clone(),
                mode: mode_name(a.mode).into(),
                top1: fidelity::Stat {
                    mean: a.top1.0,
                    lo: a.top1.1.0,
                    hi: a.top1.1.1,
                },
                log_odds: fidelity::Stat {
                    mean: a.log_odds.0,
                    lo: a.log_odds.1.0,
                    hi: a.log_odds.1.1,
                },
            })
            .collect(),
    };
    let mut answer = vec![
        ("fidelity.json", serde_json::to_string_pretty(&fidelity)?),
        ("fidelity.md", fidelity_md(&fidelity)),
    ];
    if !budget_curves.is_empty() {
        answer.push(("budget.svg", budget_plot(&fidelity)));
    }
    for (name, body) in answer {
        let path = out.join(name);
        crate::io::write_atomic(&path, body.as_bytes())?;
        files.push(path);
    }

    let summary = EvaluateSummary {
        players: p,
        classes: k,
        ground_truth: gt_name,
        reference,
        images: results,
        mean_fastshap,
        mean_kernelshap,
        auc,
        timing,
        exact_efficiency_error: use_exact.then_some(eff_err),
        kernelshap_converged: ks_conv,
        rollout_skipped,
        files,
        fidelity,
    };
    let report = report_md(
        &summary,
        &errors_md,
        &out.join("auc.md"),
        &out.join("timing.md"),
    )?;
    let path = out.join("report.md");
    crate::io::write_atomic(&path, report.as_bytes())?;
    let mut summary = summary;
    summary.files.push(path);
    Ok(summary)
}

/// Mean top-1 and log-odds curves over the images (all share x).
fn mean_curve(r: &CurveReport) -> (Vec<f64>, Vec<f64>) {
    let n = r.curves.len() as f64;
    let m = r.curves[0].x.len();
    let avg = |f: fn(&curves::Curve) -> &Vec<f64>| -> Vec<f64> {
        (0..m)
            .map(|i| r.curves.iter().map(|c| f(c)[i]).sum::<f64>() / n)
            .collect()
    };
    (avg(|c| &c.top1), avg(|c| &c.log_odds))
}

fn errors_table(
    results: &[ImageResult],
    fs: Errors,
    ks: Option<Errors>,
    gt: &str,
    p: usize,
    top_k: usize,
) -> String {
    let mut o = format!(
        "## Explainer error against {gt} Shapley values\n\nP = {p} players; per image the mean \
         over classes; sign agreement over the ground truth's top {top_k} players by |φ|.\n\n\
         | image | label | estimator | L2 | Pearson | Spearman | sign agreement |\n\
         |---|---|---|---|---|---|---|\n"
    );
    let line = |o: &mut String, im: &str, label: &str, est: &str, e: &Errors| {
        let _ = writeln!(
            o,
            "| {im} | {label} | {est} | {:.4} | {:.3} | {:.3} | {:.3} |",
            e.l2, e.pearson, e.spearman, e.sign_agreement
        );
    };
    for r in results {
        line(
            &mut o,
            &format!("#{}", r.index),
            &r.label,
            "fastshap",
            &r.fastshap,
        );
        if let Some(e) = &r.kernelshap {
            line(&mut o, &format!("#{}", r.index), &r.label, "kernelshap", e);
        }
    }
    line(&mut o, "**mean**", "", "fastshap", &fs);
    if let Some(e) = &ks {
        line(&mut o, "**mean**", "", "kernelshap", e);
    }
    o
}

fn auc_table(rows: &[AucRow], reference: &str, n: usize, bootstrap: usize) -> String {
    let mut o = format!(
        "## Inclusion / exclusion AUC\n\nScored by the surrogate (softmax link) on {n} images; \
         class: the {reference}'s prediction on the full image{}. Mean AUC (trapezoid over \
         k/100 ∈ [0, 1], endpoints included) with a 95% bootstrap interval over images \
         ({bootstrap} resamples). Exclusion: lower is better; inclusion: higher is better. The \
         paper's numbers are CIFAR-10 top-1 AUCs of full-size models.\n\n\
         | method | mode | top-1 AUC | log-odds AUC | paper (top-1) |\n|---|---|---|---|---|\n",
        if reference == "surrogate" {
            " (no original checkpoint was reachable)"
        } else {
            ""
        }
    );
    for r in rows {
        let paper = PAPER_AUC
            .iter()
            .find(|(m, _, _)| *m == r.method)
            .map(|&(_, e, i)| format!("{:.2}", if r.mode == Mode::Exclusion { e } else { i }))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {paper} |",
            r.method,
            mode_name(r.mode),
            fmt_ci(r.top1.0, r.top1.1),
            fmt_ci(r.log_odds.0, r.log_odds.1)
        );
    }
    o
}

fn timing_table(rows: &[TimingRow], p: usize, k: usize, batch: usize) -> String {
    let dev = &crate::gpu::ctx().info.name;
    let mut o = format!(
        "## Explanation time per image\n\nDevice: {dev}. P = {p} players, K = {k} classes, up to \
         {batch} masks per surrogate call.\n\n| method | ms / image | evaluations / image | \
         evaluations / s | note |\n|---|---|---|---|---|\n"
    );
    for r in rows {
        let ms = if r.seconds_per_image.is_finite() {
            format!("{:.2}", r.seconds_per_image * 1e3)
        } else {
            "–".into()
        };
        let (ev, rate) = match r.evaluations {
            Some(e) => (format!("{e:.0}"), format!("{:.0}", e / r.seconds_per_image)),
            None => ("–".into(), "–".into()),
        };
        let _ = writeln!(o, "| {} | {ms} | {ev} | {rate} | {} |", r.method, r.note);
    }
    o
}

fn report_md(s: &EvaluateSummary, errors: &str, auc: &Path, timing: &Path) -> Result<String> {
    let mut o = format!(
        "# FastSHAP evaluation\n\n{} images, P = {} players, K = {} classes; ground truth: {}.\n\n",
        s.images.len(),
        s.players,
        s.classes,
        s.ground_truth
    );
    o.push_str(&fidelity_md(&s.fidelity));
    o.push('\n');
    if let Some(e) = s.exact_efficiency_error {
        let _ = writeln!(
            o,
            "Exact values: largest efficiency gap |Σφ − (v(1) − v(0))| = {e:.2e}.\n"
        );
    }
    let _ = writeln!(
        o,
        "KernelSHAP converged on {} of {} images.\n",
        s.kernelshap_converged,
        s.images.len()
    );
    o.push_str(errors);
    o.push('\n');
    o.push_str(&std::fs::read_to_string(auc)?);
    o.push_str("\nPlots: ");
    let names: Vec<String> = s
        .files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let links: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(".svg"))
        .map(|n| format!("[{n}]({n})"))
        .collect();
    o.push_str(&links.join(", "));
    o.push_str("\n\n");
    o.push_str(&std::fs::read_to_string(timing)?);
    o.push_str("\n## Maps\n\n");
    for n in names.iter().filter(|n| n.ends_with(".png")) {
        let _ = writeln!(o, "![{n}]({n})\n");
    }
    match &s.rollout_skipped {
        Some(why) => {
            let _ = writeln!(o, "Attention rollout skipped: {why}.");
        }
        None => o.push_str(
            "`rollout.png`: attention rollout of the original beside the Shapley maps.\n",
        ),
    }
    if s.images.is_empty() {
        bail!("no images evaluated");
    }
    Ok(o)
}

/// The answer first: scores with 95% intervals, the untrained baseline, and the speed of
/// FastSHAP against the sampling estimators at equal error.
pub fn fidelity_md(f: &Fidelity) -> String {
    let mut o = format!(
        "## How right are the explanations?\n\n{} test images, P = {} players, K = {} classes, \
         against {} Shapley values of the surrogate game. Mean over images with a 95% bootstrap \
         interval; \"explained class\" is the prediction on the full image, \"all classes\" the \
         mean over the K classes of each image (each class judged on its own).\n\n\
         | estimator | Pearson (explained class) | Spearman (explained) | L2 (explained) | sign agreement (explained) | Pearson (all classes) | L2 (all classes) |\n\
         |---|---|---|---|---|---|---|\n",
        f.images, f.players, f.classes, f.ground_truth
    );
    for e in &f.scores {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            e.name,
            e.predicted.pearson.fmt(),
            e.predicted.spearman.fmt(),
            e.predicted.l2.fmt(),
            e.predicted.sign_agreement.fmt(),
            e.all_classes.pearson.fmt(),
            e.all_classes.l2.fmt()
        );
    }
    if !f.budget_curves.is_empty() {
        o.push_str(
            "\n### Error vs game evaluations (explained class)\n\n| method | evaluations / image | \
             Pearson | L2 |\n|---|---|---|---|\n",
        );
        for c in &f.budget_curves {
            for pt in &c.points {
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {} | {} |",
                    c.method,
                    pt.evaluations,
                    pt.pearson.fmt(),
                    pt.l2.fmt()
                );
            }
        }
        let fs = &f.scores[0].predicted;
        let _ = writeln!(
            o,
            "| **fastshap** | 1 explainer pass | {} | {} |\n",
            fs.pearson.fmt(),
            fs.l2.fmt()
        );
        let evals = |v: Option<f64>| {
            v.map_or("more than the largest budget tried".to_string(), |e| {
                format!("{e:.0}")
            })
        };
        let _ = writeln!(
            o,
            "To match FastSHAP's mean L2 on the explained class, KernelSHAP needs {} evaluations \
             per image and permutation sampling {}.",
            evals(f.kernelshap_evaluations_to_match),
            evals(f.permutation_evaluations_to_match)
        );
        if let Some(l2) = f.kernelshap_l2_at_1000 {
            let _ = writeln!(
                o,
                "KernelSHAP at 1,000 evaluations: mean L2 {l2:.4} (FastSHAP: {:.4}).",
                fs.l2.mean
            );
        }
    }
    let _ = write!(
        o,
        "\nFastSHAP: {:.3} ms per image in a batch of {} ({:.2} ms for a single image).",
        f.fastshap_ms_per_image, f.images, f.fastshap_ms_single_image
    );
    if let (Some(t), Some(ms), Some(x)) = (
        f.seconds_per_evaluation,
        f.kernelshap_ms_at_equal_error,
        f.speedup_at_equal_error,
    ) {
        let _ = write!(
            o,
            " One game evaluation costs {:.3} ms here, so KernelSHAP at equal error takes {ms:.0} ms \
             per image: FastSHAP is {x:.0}× faster.",
            t * 1e3
        );
    }
    if let Some(ms) = f.permutation_ms_at_equal_error {
        let _ = write!(
            o,
            " Permutation sampling at equal error: {ms:.0} ms per image."
        );
    }
    if let Some(ms) = f.exact_ms_per_image {
        let _ = write!(o, " Exact values: {ms:.0} ms per image.");
    }
    o.push('\n');
    o
}

/// Error vs evaluations (log₂ axis) for the sampling estimators, FastSHAP as a flat line.
fn budget_plot(f: &Fidelity) -> String {
    let mut series: Vec<Series> = f
        .budget_curves
        .iter()
        .map(|c| {
            Series::new(
                &c.method,
                c.points.iter().map(|p| p.evaluations.log2()).collect(),
                c.points.iter().map(|p| p.l2.mean).collect(),
            )
        })
        .collect();
    let xs: Vec<f64> = series.iter().flat_map(|s| s.x.iter().copied()).collect();
    let (lo, hi) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    for e in f.scores.iter().take(2) {
        let mut s = Series::new(&e.name, vec![lo, hi], vec![e.predicted.l2.mean; 2]);
        s.dashed = true;
        series.push(s);
    }
    line_plot(
        &series,
        &PlotOptions {
            title: format!(
                "error vs game evaluations ({} images, P = {}, exact ground truth)",
                f.images, f.players
            ),
            x_label: "log₂ evaluations per image".into(),
            y_label: "mean L2 to exact φ (explained class)".into(),
            ..PlotOptions::default()
        },
    )
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
