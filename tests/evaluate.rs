//! `fastshap evaluate` end to end on lavapipe with a tiny pipeline: a confident random ViT
//! original (so attention rollout runs) → a briefly trained tiny ViT surrogate → a briefly
//! trained tiny explainer, superpixel 8 (P = 16, exact ground truth). The explainer's error
//! against exact values is printed (a measurement, not a target); the test checks that every
//! file is written, AUCs lie in [0, 1], exact φ satisfies efficiency on the surrogate game, and
//! bad inputs give one clear error. The explainer keeps 3 training snapshots: scored as a
//! learning curve whose last point, the final weights, is the final explainer's score.

mod common;
use common::fastshap_cli;

use fastshap::checkpoint;
use fastshap::data::{embedded, holdout};
use fastshap::fastshap::evaluate::{
    EvaluateConfig, GroundTruth, Original, Shard, curve, evaluate, fidelity_md, merge, rescore,
};
use fastshap::fastshap::explainer::tiny_config;
use fastshap::fastshap::fidelity::Interval;
use fastshap::fastshap::surrogate::{SurrogateArch, load_original};
use fastshap::fastshap::{Explainer, Surrogate, SurrogateConfig, train_explainer, train_surrogate};
use fastshap::models::{Vit, VitConfig};
use fastshap::nn::init_rng;
use fastshap::train::config::{AugmentKind, ModelConfig, Preset};
use fastshap::train::{Model, RunOptions, Schedule, state};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn quiet() -> RunOptions {
    RunOptions {
        quiet: true,
        ..Default::default()
    }
}

/// ViT with 8×8 patches (16 tokens, one per superpixel), one block: cheap enough for 2^16
/// coalitions per image on lavapipe.
fn tiny_vit(in_channels: usize) -> VitConfig {
    VitConfig {
        in_channels,
        classes: 10,
        image: 32,
        patch: 8,
        dim: 16,
        mlp: 32,
        heads: 2,
        depth: 1,
    }
}

/// A random ViT original with its head scaled up, so its predictions are confident and vary.
fn confident_vit(path: &Path) {
    let model = Model::Vit(Vit::new(tiny_vit(3), &mut init_rng(5)).unwrap());
    common::save_confident(&model, "head.", path);
}

/// original → surrogate → explainer in `dir`; returns (surrogate, explainer) checkpoint paths.
fn pipeline(dir: &Path) -> (PathBuf, PathBuf) {
    // Validation held out of the training split, as every trainer of the product does.
    let (tr, te) = holdout(&embedded().unwrap().0);
    let orig = dir.join("original.safetensors");
    confident_vit(&orig);
    let mut sc = SurrogateConfig::recipe(SurrogateArch::Vit, Preset::Tiny, &orig, "embedded");
    sc.model = ModelConfig::Vit(tiny_vit(4));
    sc.superpixel = 8;
    sc.batch_size = 32;
    sc.epochs = 2;
    sc.schedule = Schedule::Constant;
    sc.augment = AugmentKind::None;
    sc.train_limit = Some(128);
    sc.val_limit = Some(32);
    let sdir = dir.join("surrogate");
    train_surrogate(&sc, &tr, &te, &sdir, None, &quiet()).unwrap();
    let spath = sdir.join(state::BEST);
    let sur = Surrogate::load(&spath).unwrap();
    let mut ec = tiny_config(&sur);
    ec.surrogate = spath.clone();
    ec.unet.base = 8;
    ec.batch_size = 32;
    ec.epochs = 2;
    ec.lr = 1e-3;
    ec.schedule = Schedule::Constant;
    ec.train_limit = Some(128);
    ec.val_limit = Some(32);
    let edir = dir.join("explainer");
    let opts = RunOptions {
        snapshots: Some(3),
        ..quiet()
    };
    train_explainer(&ec, &sur, &tr, &te, &edir, None, &opts).unwrap();
    (spath, edir.join(state::BEST))
}

fn config() -> EvaluateConfig {
    EvaluateConfig {
        images: 4,
        ground_truth: GroundTruth::Auto,
        bootstrap: 50,
        // Bigger surrogate calls (fewer launches); KernelSHAP with a looser threshold and a
        // budget: at 0.01 it took ~800k evaluations per image here (exact needs 65,536).
        batch: 4096,
        kernelshap_threshold: 0.05,
        kernelshap_max_evals: 16384,
        progress: true,
        budgets: vec![32, 64, 512, 4096],
        timing_rounds: 3,
        // FastSHAP timed on the 4 images repeated up to 10 or more: 12.
        fastshap_batch: 10,
        ..EvaluateConfig::default()
    }
}

#[test]
fn evaluate_tiny_pipeline_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let (spath, epath) = pipeline(dir.path());
    eprintln!("pipeline trained in {:.1} s", t0.elapsed().as_secs_f64());

    let (explainer, _) = Explainer::load(&epath).unwrap();
    let sur = Surrogate::load(&spath).unwrap();
    let orig_path = sur.original.clone().unwrap();
    let model = load_original(&orig_path).unwrap();
    let original = Original {
        path: orig_path,
        model: &model,
    };
    let (_, te) = embedded().unwrap();
    let cfg = config();
    let out = dir.path().join("eval");
    let t1 = Instant::now();
    let s = evaluate(&explainer, &epath, &sur, Some(&original), &te, &cfg, &out).unwrap();
    eprintln!("evaluate: {:.1} s", t1.elapsed().as_secs_f64());
    assert_eq!(
        (s.players, s.ground_truth.as_str(), s.reference.as_str()),
        (16, "exact", "original")
    );
    let f = s.fidelity.as_ref().unwrap();
    eprintln!("{}", fidelity_md(f));
    for r in &f.auc {
        let m = r.top1;
        assert!((0.0..=1.0).contains(&m.mean), "{r:?}");
        assert_eq!(m.n, 4, "{r:?}");
        assert!(m.lo <= m.mean + 1e-12 && m.mean <= m.hi + 1e-12, "{r:?}");
        assert!(r.log_odds.mean.is_finite(), "{r:?}");
    }
    // Efficiency of exact φ on the surrogate game (log-softmax values of order 1–10; the sum
    // of 2^16 f32 values in f64 keeps about 1e-6 of them).
    assert!(
        f.truth_efficiency_gap < 1e-4,
        "exact efficiency gap {}",
        f.truth_efficiency_gap
    );
    assert!(s.rollout_skipped.is_none(), "{:?}", s.rollout_skipped);
    for name in [
        "errors.csv",
        "errors.md",
        "curves.csv",
        "auc.md",
        "timing.md",
        "report.md",
        "records.json",
        "fidelity.md",
        "phi_fastshap.png",
        "phi_exact.png",
        "rollout.png",
        "curves_inclusion_top1.svg",
        "curves_exclusion_top1.svg",
        "curves_inclusion_log_odds.svg",
        "curves_exclusion_log_odds.svg",
    ] {
        let p = out.join(name);
        assert!(
            p.exists() && std::fs::metadata(&p).unwrap().len() > 0,
            "{name} missing"
        );
    }
    // No snapshots given: no learning curve, and fidelity.json does not mention one.
    assert!(f.learning_curve.is_none() && !out.join(curve::CURVE_JSON).exists());
    let auc = std::fs::read_to_string(out.join("auc.md")).unwrap();
    assert!(auc.contains("0.42") && auc.contains("0.64"), "{auc}");
    for m in ["leave-one-out", "singletons", "random", "exact"] {
        assert!(
            auc.contains(&format!("| {m} |")),
            "{m} missing from the AUC table: {auc}"
        );
    }
    let csv = std::fs::read_to_string(out.join("errors.csv")).unwrap();
    // 4 images × 10 classes × (fastshap, its untrained self, four baselines, kernelshap) + header.
    assert_eq!(csv.lines().count(), 1 + 4 * 10 * 7);

    // Every estimator is scored on the images it has (n stated), with its cost.
    let names: Vec<&str> = f.scores.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fastshap",
            "fastshap (untrained)",
            "leave-one-out",
            "singletons",
            "leave-one-out + singletons",
            "uniform",
            "kernelshap (converged)"
        ]
    );
    for e in &f.scores {
        assert_eq!(e.predicted.l2.n, 4, "{e:?}");
        // Four images: a Student-t interval, never a 95% bootstrap.
        assert_eq!(e.predicted.l2.interval, Interval::T, "{e:?}");
    }
    let loo = f.score("leave-one-out").unwrap();
    assert_eq!(loo.evaluations, Some(18.0));
    assert_eq!(f.score("uniform").unwrap().evaluations, Some(2.0));
    assert_eq!(
        f.score("uniform").unwrap().predicted.pearson.n,
        0,
        "a constant φ has no Pearson"
    );
    // The answer names the best cheap baseline per metric and compares FastSHAP to it paired.
    assert_eq!(f.best_cheap.len(), 2);
    for v in &f.best_cheap {
        assert!(
            ["leave-one-out", "singletons", "leave-one-out + singletons"]
                .contains(&v.best.as_str()),
            "{v:?}"
        );
        assert_eq!(v.difference.n, 4);
        assert!(!(v.fastshap_beats && v.fastshap_loses));
    }
    assert!(
        f.comparisons
            .iter()
            .any(|c| c.estimator == "kernelshap @ 64")
    );
    assert!(
        (0.0..=1.0 + 1e-9).contains(&f.additivity.mean),
        "{:?}",
        f.additivity
    );
    // Budgets: permutation sampling runs from 32 (one antithetic pair at P = 16), KernelSHAP
    // where its A is non-singular; both improve with evaluations.
    let (ks, perm) = (&f.budget_curves[0], &f.budget_curves[1]);
    assert_eq!(
        (ks.method.as_str(), perm.method.as_str()),
        ("kernelshap", "permutation")
    );
    assert_eq!(perm.points[0].budget, 32);
    for c in [ks, perm] {
        let (first, last) = (&c.points[0], c.points.last().unwrap());
        assert!(last.l2.mean < first.l2.mean, "{c:?}");
    }
    let t = &f.timing;
    assert_eq!(t.rounds, 3);
    assert_eq!(t.fastshap_batch_images, 12, "{t:?}");
    assert!(
        t.fastshap_ms_per_image > 0.0 && t.ms_per_evaluation > 0.0,
        "{t:?}"
    );
    let md = std::fs::read_to_string(out.join("fidelity.md")).unwrap();
    assert!(
        md.contains("**The answer.**") && md.contains("cheap baseline"),
        "{md}"
    );
    assert!(md.contains("(t, n = 4)"), "{md}");
    assert!(!md.contains("95% bootstrap interval over images)"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fidelity.json")).unwrap()).unwrap();
    assert_eq!(json["players"], 16);
    assert!(json["scores"][0]["predicted"]["pearson"]["lo"].is_number());
    let svg = std::fs::read_to_string(out.join("budget.svg")).unwrap();
    for name in ["permutation", "fastshap", "leave-one-out"] {
        assert!(svg.contains(name), "{name} missing from budget.svg");
    }

    // Two shards merged give the same answer as one run (timings aside). Checked on the
    // KernelSHAP ground truth (the path for large P: sampled additivity, budgets on the live
    // game), which also keeps this part to seconds instead of three more exact enumerations.
    // The explainer here is the run's final weights, with its snapshots: a learning curve.
    let lpath = epath.with_file_name(state::LAST);
    let (last, _) = Explainer::load(&lpath).unwrap();
    let snaps = curve::snapshots_beside(&lpath).unwrap();
    let ks_cfg = || EvaluateConfig {
        ground_truth: GroundTruth::Kernelshap,
        kernelshap_max_evals: 2048,
        budgets: vec![32, 128],
        snapshots: snaps.clone(),
        ..config()
    };
    let one = dir.path().join("one");
    let s1 = evaluate(&last, &lpath, &sur, Some(&original), &te, &ks_cfg(), &one).unwrap();
    assert_eq!(s1.ground_truth, "kernelshap");
    learning_curve_checks(&lpath, &snaps, s1.fidelity.as_ref().unwrap(), &one);
    let mut shard_dirs = Vec::new();
    for k in 0..2 {
        let d = dir.path().join(format!("shard{k}"));
        let mut c = ks_cfg();
        c.shard = Some(Shard { index: k, count: 2 });
        let sh = evaluate(&last, &lpath, &sur, Some(&original), &te, &c, &d).unwrap();
        assert!(sh.fidelity.is_none());
        assert_eq!(sh.images, 2);
        shard_dirs.push(d);
    }
    let merged = dir.path().join("merged");
    let m = merge(&shard_dirs, cfg.bootstrap, None, &merged).unwrap();
    let strip = |p: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("fidelity.json")).unwrap())
                .unwrap();
        v.as_object_mut().unwrap().remove("timing");
        v
    };
    assert_eq!(m.images, 4);
    assert_eq!(
        strip(&merged),
        strip(&one),
        "merged shards differ from one run"
    );
    // A shard given twice, or one missing, is one clear error.
    let e = merge(&[shard_dirs[0].clone()], 50, None, &dir.path().join("m2"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("1/2") && e.contains("missing"), "{e}");
    let e = merge(
        &[shard_dirs[0].clone(), shard_dirs[0].clone()],
        50,
        None,
        &dir.path().join("m3"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("given twice"), "{e}");
    // Merging into one of the shards would replace its records: refused.
    let e = merge(&shard_dirs, 50, None, &shard_dirs[0])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("one of the shard directories"), "{e}");

    // `--truth-from`: the same explainer scored against the merged run's records gives that
    // run's answer again (timings aside) without measuring a truth; another explainer (the
    // best weights) scores as its own full run does.
    let again = dir.path().join("again");
    rescore(
        &last,
        &lpath,
        &sur,
        std::slice::from_ref(&merged),
        &ks_cfg(),
        &again,
    )
    .unwrap();
    assert_eq!(strip(&again), strip(&one), "rescored run differs");
    let direct = dir.path().join("direct");
    let best_cfg = EvaluateConfig {
        snapshots: Vec::new(),
        ..ks_cfg()
    };
    evaluate(
        &explainer,
        &epath,
        &sur,
        Some(&original),
        &te,
        &best_cfg,
        &direct,
    )
    .unwrap();
    let rescored = dir.path().join("rescored");
    rescore(
        &explainer,
        &epath,
        &sur,
        std::slice::from_ref(&one),
        &best_cfg,
        &rescored,
    )
    .unwrap();
    assert_eq!(
        strip(&rescored),
        strip(&direct),
        "rescoring differs from a run"
    );
    // Runs with other seeds pool into one (more images without measuring the first ones
    // again); an image in two runs, or a run of another kind, is refused.
    let more = |seed: u64, budgets: Vec<usize>| {
        let d = dir.path().join(format!("seed{seed}"));
        let c = EvaluateConfig {
            seed,
            images: 2,
            budgets,
            ..best_cfg.clone()
        };
        evaluate(&explainer, &epath, &sur, Some(&original), &te, &c, &d).unwrap();
        d
    };
    let seed1 = more(1, best_cfg.budgets.clone());
    let pooled = dir.path().join("pooled");
    let runs = [one.clone(), seed1.clone()];
    let sp = rescore(&explainer, &epath, &sur, &runs, &best_cfg, &pooled).unwrap();
    assert_eq!(sp.images, 6);
    let indices = |d: &Path| -> Vec<u64> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("records.json")).unwrap())
                .unwrap();
        let recs = v["records"].as_array().unwrap();
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r["position"].as_u64(), Some(i as u64));
        }
        recs.iter().map(|r| r["index"].as_u64().unwrap()).collect()
    };
    assert_eq!(indices(&pooled), [indices(&one), indices(&seed1)].concat());
    let twice = [one.clone(), one.clone()];
    let e = rescore(
        &explainer,
        &epath,
        &sur,
        &twice,
        &best_cfg,
        &dir.path().join("x"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("is in both"), "{e}");
    // Writing over an input's records is refused.
    let e = rescore(&explainer, &epath, &sur, &runs, &best_cfg, &seed1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("one of the --truth-from directories"), "{e}");
    let other_kind = [one.clone(), more(2, vec![32])];
    let e = rescore(
        &explainer,
        &epath,
        &sur,
        &other_kind,
        &best_cfg,
        &dir.path().join("x"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("is not an evaluation like"), "{e}");
    // Records of another surrogate (probabilities) or another link (the truth's sums) are
    // refused, naming the image.
    let tamper = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(one.join("records.json")).unwrap())
                .unwrap();
        edit(&mut v["records"][1]);
        std::fs::write(d.join("records.json"), v.to_string()).unwrap();
        rescore(
            &explainer,
            &epath,
            &sur,
            &[d],
            &best_cfg,
            &dir.path().join("x"),
        )
        .err()
        .unwrap()
        .to_string()
    };
    let e = tamper("other-surrogate", &|r| {
        let p = r["surrogate_probs"][0].as_f64().unwrap();
        r["surrogate_probs"][0] = serde_json::json!(p + 0.05);
    });
    assert!(e.contains("another surrogate") && e.contains('#'), "{e}");
    let e = tamper("other-link", &|r| {
        for i in 0..16 {
            let t = r["truth"][i * 10].as_f64().unwrap();
            r["truth"][i * 10] = serde_json::json!(t + 0.1);
        }
    });
    assert!(e.contains("another link"), "{e}");

    // --versus: two explainers on the same records, paired image by image. The first training
    // snapshot against the run of the final weights: their side equals that run's own FastSHAP
    // scores, the difference is the difference of the two runs' means (every Pearson is finite
    // here) and is not 0.
    let fidelity_of = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("fidelity.json")).unwrap()).unwrap()
    };
    let fastshap_stat = |f: &serde_json::Value, metric: &str, part: &str| -> f64 {
        let e = f["scores"].as_array().unwrap().iter();
        let e = e.clone().find(|e| e["name"] == "fastshap").unwrap();
        e["predicted"][metric][part].as_f64().unwrap()
    };
    let fastshap_mean = |f: &serde_json::Value, metric: &str| fastshap_stat(f, metric, "mean");
    let vs_cfg = |d: &Path| EvaluateConfig {
        versus: Some(d.to_path_buf()),
        ..best_cfg.clone()
    };
    // `explainer` rescored against `one`'s records, --versus `other`, into `out`.
    let vs_rescore = |ex: &Explainer, path: &Path, other: &Path, out: &Path| {
        rescore(
            ex,
            path,
            &sur,
            std::slice::from_ref(&one),
            &vs_cfg(other),
            out,
        )
    };
    let vs = dir.path().join("versus");
    let early_path = &snaps[0].1;
    let (early, _) = Explainer::load(early_path).unwrap();
    let sv = vs_rescore(&early, early_path, &one, &vs).unwrap();
    let v = sv.fidelity.unwrap().versus.unwrap();
    let (f1, fr) = (fidelity_of(&one), fidelity_of(&vs));
    for (metric, stat, diff) in [
        ("pearson", v.pearson, v.difference.pearson_difference),
        ("l2", v.l2, v.difference.l2_difference),
    ] {
        let (theirs, ours) = (fastshap_mean(&f1, metric), fastshap_mean(&fr, metric));
        assert!(
            (stat.mean - theirs).abs() < 1e-9,
            "{metric}: {stat:?} vs {theirs}"
        );
        assert!(
            (diff.mean - (ours - theirs)).abs() < 1e-9,
            "{metric}: {diff:?}"
        );
        assert_eq!(diff.n, 4, "{metric}");
        // Their interval is the one their run printed.
        let (lo, hi) = (
            fastshap_stat(&f1, metric, "lo"),
            fastshap_stat(&f1, metric, "hi"),
        );
        assert!(
            (stat.lo - lo).abs() < 1e-9 && (stat.hi - hi).abs() < 1e-9,
            "{stat:?}"
        );
        assert!(diff.lo <= diff.mean && diff.mean <= diff.hi, "{diff:?}");
        assert!(
            diff.mean != 0.0,
            "{metric}: the snapshot scored as the final weights"
        );
    }
    let md = std::fs::read_to_string(vs.join("fidelity.md")).unwrap();
    assert!(md.contains("Against another explainer") && md.contains(&*one.to_string_lossy()));
    // The same explainer against its own run: every difference is exactly 0, a tie.
    let same = vs_rescore(&last, &lpath, &one, &dir.path().join("same")).unwrap();
    let v = same.fidelity.unwrap().versus.unwrap();
    for d in [v.difference.pearson_difference, v.difference.l2_difference] {
        assert_eq!((d.mean, d.lo, d.hi), (0.0, 0.0, 0.0), "{d:?}");
    }
    assert_eq!(v.difference.verdicts(), ("ties with", "ties with"));
    // Refused: other images (before anything is measured), another truth, --out = DIR.
    let err = |r: anyhow::Result<fastshap::fastshap::evaluate::EvaluateSummary>| {
        format!("{:#}", r.err().unwrap())
    };
    let e = err(evaluate(
        &explainer,
        &epath,
        &sur,
        Some(&original),
        &te,
        &vs_cfg(&seed1),
        &dir.path().join("x"),
    ));
    assert!(e.contains("not among its images") && e.contains('#'), "{e}");
    let shifted = dir.path().join("other-truth");
    std::fs::create_dir_all(&shifted).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("records.json")).unwrap()).unwrap();
    let t = v["records"][2]["truth"][0].as_f64().unwrap();
    v["records"][2]["truth"][0] = serde_json::json!(t + 0.05);
    std::fs::write(shifted.join("records.json"), v.to_string()).unwrap();
    let e = err(vs_rescore(
        &explainer,
        &epath,
        &shifted,
        &dir.path().join("x"),
    ));
    assert!(
        e.contains("ground truth") && e.contains("records are kept"),
        "{e:#}"
    );
    let e = err(vs_rescore(&explainer, &epath, &vs, &vs));
    assert!(e.contains("--versus directory"), "{e}");

    // Bad inputs through the CLI: an explainer of another P, an unknown ground truth.
    let other = dir.path().join("other.safetensors");
    let mut c = tiny_config(&sur);
    c.unet.superpixel = 4;
    let e4 = Explainer::new(c, explainer.classes.clone()).unwrap();
    checkpoint::save(e4.module(), e4.metadata(&spath, 0).unwrap(), &other).unwrap();
    let o = dir.path().join("bad").to_string_lossy().into_owned();
    // `fastshap evaluate --explainer E --data embedded --out O` plus `extra`: (code, stderr).
    let evaluate_with = |explainer: &Path, extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--explainer",
            explainer.to_str().unwrap(),
            "--data",
            "embedded",
            "--out",
            &o,
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = fastshap_cli(&args);
        (code, err)
    };
    let (code, err) = evaluate_with(&other, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("P = 64") && err.contains("P = 16"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = evaluate_with(&epath, &["--ground-truth", "oracle"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("oracle") && err.contains("--ground-truth"),
        "{err}"
    );
    let (code, err) = evaluate_with(&epath, &["--shard", "2/2"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--shard") && err.contains("0 ≤ K < N"),
        "{err}"
    );
    // --versus a directory without records: one line naming it, before anything is measured.
    let nowhere = dir.path().join("nowhere");
    let (code, err) = evaluate_with(&epath, &["--versus", nowhere.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nowhere") && err.lines().count() == 1, "{err}");
    // A checkpoint that is no training snapshot, given as one.
    let (code, err) = evaluate_with(&epath, &["--snapshots", other.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a training snapshot"), "{err}");
    // `fastshap profile` on an explainer checkpoint: its explanation pass, kernel by kernel.
    let (code, out, err) = fastshap_cli(&[
        "profile",
        "--checkpoint",
        epath.to_str().unwrap(),
        "--batch",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Forward, batch 3") && out.contains("matmul"),
        "{out}"
    );
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}

/// The curve of the final weights' evaluation: a point per snapshot after the untrained one,
/// ending at the run's last step with the final explainer's own score, and its files.
fn learning_curve_checks(
    lpath: &Path,
    snaps: &[(u64, PathBuf)],
    f: &fastshap::fastshap::evaluate::Fidelity,
    out: &Path,
) {
    let metrics = std::fs::read_to_string(lpath.with_file_name(state::METRICS)).unwrap();
    let last_line: serde_json::Value =
        serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    let final_step = last_line["step"].as_u64().unwrap();
    assert!(snaps.len() >= 2, "{snaps:?}");
    assert_eq!(snaps.last().unwrap().0, final_step, "{snaps:?}");
    let c = f.learning_curve.as_ref().expect("snapshots give a curve");
    let steps: Vec<u64> = c.points.iter().map(|p| p.step).collect();
    let want: Vec<u64> = std::iter::once(0)
        .chain(snaps.iter().map(|s| s.0))
        .collect();
    assert_eq!(steps, want);
    let (end, fs) = (
        c.points.last().unwrap(),
        &f.score("fastshap").unwrap().predicted,
    );
    assert!(
        (end.pearson.mean - fs.pearson.mean).abs() < 1e-9
            && (end.l2.mean - fs.l2.mean).abs() < 1e-9,
        "last point {end:?} vs the final explainer {fs:?}"
    );
    let untrained = &f.score("fastshap (untrained)").unwrap().predicted;
    assert!((c.points[0].l2.mean - untrained.l2.mean).abs() < 1e-9);
    assert_eq!(end.pearson.n, 4);
    assert!(c.last_pearson_change.is_some_and(|d| d.n == 4), "{c:?}");
    assert!(c.verdict.starts_with("Fidelity was "), "{}", c.verdict);
    assert_eq!(c.references.len(), 2, "{c:?}");
    for name in [
        curve::CURVE_JSON,
        curve::CURVE_MD,
        curve::CURVE_SVG,
        curve::CURVE_L2_SVG,
    ] {
        assert!(out.join(name).exists(), "{name} missing");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Learning curve") && report.contains(&c.verdict),
        "{report}"
    );
}
