//! The stages themselves: which originals, surrogate pairings, explainers and evaluations the
//! paper's experiment has, and how each stage calls the library.

use super::{Log, Plan, Run, Stage};
use crate::fastshap::compare::{
    About, Agreement, Explained, Predictions, SUBSETS, TestSet, predict, side_by_side,
};
use crate::fastshap::evaluate::{
    AUTO_EXACT_MAX_PLAYERS, EvaluateConfig, GroundTruth, Original, choose_images, curve, evaluate,
};
use crate::fastshap::explainer::{self, Explainer, train_explainer};
use crate::fastshap::standing::{self, Standing};
use crate::fastshap::surrogate::{self, Surrogate, SurrogateArch, load_original, train_surrogate};
use crate::fastshap::tables::{TABLE1_NOTES, best_surrogate_epoch, table1, table2};
use crate::train::config::{Arch, ModelConfig};
use crate::train::state::{self, BEST, LAST};
use crate::train::{Model, RunOptions, eval};
use crate::viz::{HeatmapOptions, save_png};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// An original classifier (or the MAE pre-training it starts from).
struct OriginalSpec {
    slug: &'static str,
    arch: Arch,
    /// Table 2's row name (the paper's), `None` for pre-training.
    table: Option<&'static str>,
}

const ORIGINALS: [OriginalSpec; 4] = [
    OriginalSpec {
        slug: "resnet",
        arch: Arch::Resnet18,
        table: Some("ResNet18"),
    },
    OriginalSpec {
        slug: "vit",
        arch: Arch::Vit,
        table: Some("ViT"),
    },
    OriginalSpec {
        slug: "mae-pretrain",
        arch: Arch::MaePretrain,
        table: None,
    },
    OriginalSpec {
        slug: "mae",
        arch: Arch::MaeClassifier,
        table: Some("MAE-pretrained ViT"),
    },
];

/// Table 1's pairings: (slug, original's slug, surrogate architecture, the paper's row name).
const PAIRS: [(&str, &str, SurrogateArch, &str); 7] = [
    (
        "resnet-by-resnet",
        "resnet",
        SurrogateArch::Resnet18,
        "ResNet by ResNet",
    ),
    (
        "resnet-by-vit",
        "resnet",
        SurrogateArch::Vit,
        "ResNet by ViT",
    ),
    ("vit-by-vit", "vit", SurrogateArch::Vit, "ViT by ViT"),
    (
        "vit-by-resnet",
        "vit",
        SurrogateArch::Resnet18,
        "ViT by ResNet",
    ),
    (
        "mae-by-vit",
        "mae",
        SurrogateArch::Vit,
        "MAE by ViT(384/384)",
    ),
    (
        "mae-by-vit192",
        "mae",
        SurrogateArch::Vit192,
        "MAE by ViT(192/768)",
    ),
    (
        "mae-by-resnet",
        "mae",
        SurrogateArch::Resnet18,
        "MAE by ResNet",
    ),
];

/// Pairings with an explainer: the paper's heatmap rows (ResNet by ResNet, ViT by ViT, ViT by
/// ResNet) and MAE through its best surrogate.
const EXPLAINED: [&str; 4] = [
    "resnet-by-resnet",
    "vit-by-vit",
    "vit-by-resnet",
    "mae-by-resnet",
];

/// Explainers measured against ground truth (ViT and MAE ones also get attention rollout):
/// every one the pipeline trains, so each heatmap shown has its fidelity beside it.
const EVALUATED: [&str; 4] = EXPLAINED;

/// Task 2 compares these originals' explainers (A, B); task 3 shows ViT through two surrogates.
const TASK2: (&str, &str) = ("resnet-by-resnet", "vit-by-vit");
const TASK3: (&str, &str) = ("vit-by-vit", "vit-by-resnet");

/// The fidelity experiment's pairing (presets `cpu`, `demo`): the ResNet original through a
/// ViT surrogate whose `superpixel`-sided patches are the players (`resnet-by-vit8`: 8×8
/// patches, P = 16; `resnet-by-vit4`: P = 64), or through a ResNet surrogate
/// (`--surrogate-arch resnet`: `resnet-by-resnet8`, …).
pub fn fidelity_slug(plan: &Plan) -> &'static str {
    let resnet = (plan.fidelity.as_ref()).is_some_and(|f| f.resnet_surrogate.is_some());
    match (resnet, plan.superpixel) {
        (false, 2) => "resnet-by-vit2",
        (false, 4) => "resnet-by-vit4",
        (false, 8) => "resnet-by-vit8",
        (false, 16) => "resnet-by-vit16",
        (false, _) => "resnet-by-vit",
        (true, 2) => "resnet-by-resnet2",
        (true, 4) => "resnet-by-resnet4",
        (true, 8) => "resnet-by-resnet8",
        (true, 16) => "resnet-by-resnet16",
        (true, _) => "resnet-by-resnet",
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) enum Job {
    #[default]
    Tables,
    Original(usize),
    Surrogate(usize),
    FidelitySurrogate,
    Explainer(&'static str),
    Figures,
    Evaluation(&'static str),
}

fn stage(name: &str, dir: &str, kind: &str, job: Job) -> Stage {
    Stage {
        name: name.to_string(),
        dir: dir.to_string(),
        kind: kind.to_string(),
        job,
    }
}

pub(super) fn all() -> Vec<Stage> {
    // "surrogate vit-by-resnet" in surrogates/vit-by-resnet, and so on.
    let each = |kind: &str, parent: &str, slug: &str, job| {
        stage(
            &format!("{kind} {slug}"),
            &format!("{parent}/{slug}"),
            kind,
            job,
        )
    };
    let mut v: Vec<Stage> = (ORIGINALS.iter().enumerate())
        .map(|(i, o)| each("original", "originals", o.slug, Job::Original(i)))
        .collect();
    v.extend(
        (PAIRS.iter().enumerate())
            .map(|(i, p)| each("surrogate", "surrogates", p.0, Job::Surrogate(i))),
    );
    v.extend(EXPLAINED.map(|s| each("explainer", "explainers", s, Job::Explainer(s))));
    v.push(stage("tables 1-3", "tables", "tables", Job::Tables));
    v.push(stage(
        "figures (tasks 1-3)",
        "figures",
        "figures",
        Job::Figures,
    ));
    v.extend(EVALUATED.map(|s| each("evaluation", "evaluation", s, Job::Evaluation(s))));
    v
}

/// The stages `plan` runs: the paper's experiment, or the fidelity experiment.
pub(super) fn for_plan(plan: &Plan) -> Vec<Stage> {
    if plan.fidelity.is_none() {
        return all();
    }
    let f = fidelity_slug(plan);
    vec![
        stage(
            "original resnet",
            "originals/resnet",
            "original",
            Job::Original(0),
        ),
        stage(
            &format!("surrogate {f}"),
            &format!("surrogates/{f}"),
            "surrogate",
            Job::FidelitySurrogate,
        ),
        stage(
            &format!("explainer {f}"),
            &format!("explainers/{f}"),
            "explainer",
            Job::Explainer(f),
        ),
        stage(
            &format!("evaluation {f}"),
            &format!("evaluation/{f}"),
            "evaluation",
            Job::Evaluation(f),
        ),
    ]
}

/// The row of [`PAIRS`] named `slug` (one of the constants above).
fn pair(slug: &str) -> &'static (&'static str, &'static str, SurrogateArch, &'static str) {
    PAIRS.iter().find(|p| p.0 == slug).expect("a pairing")
}

/// "ViT via a ResNet surrogate" for `vit-by-resnet`.
fn title(slug: &str) -> String {
    let p = pair(slug);
    let orig = match p.1 {
        "resnet" => "ResNet18",
        "vit" => "ViT",
        _ => "MAE-ViT",
    };
    let sur = match p.2 {
        SurrogateArch::Resnet18 => "a ResNet",
        SurrogateArch::Vit => "a ViT",
        SurrogateArch::Vit192 => "a ViT(192/768)",
    };
    format!("{orig} via {sur} surrogate")
}

fn original_dir(run: &Run, slug: &str) -> PathBuf {
    run.path(&format!("originals/{slug}"))
}

fn best(dir: &Path) -> PathBuf {
    dir.join(BEST)
}

/// Every derived training config, for `reproduce.json` and the report.
pub(super) fn settings(plan: &Plan, data: &str, dir: &Path) -> Value {
    let orig = |s: &str| dir.join("originals").join(s).join(BEST);
    if plan.fidelity.is_some() {
        let slug = fidelity_slug(plan);
        let sur = dir.join("surrogates").join(slug).join(BEST);
        let arch = fidelity_surrogate_arch(plan);
        return json!({
            "plan": plan,
            "originals": {"resnet": plan.original_config(Arch::Resnet18, data, None)},
            "surrogates": {slug: plan.surrogate_config(arch, &orig("resnet"), data)},
            "explainer": plan.explainer_config(&sur, data),
            "explained": [slug],
            "evaluated": [slug],
        });
    }
    let originals: serde_json::Map<String, Value> = ORIGINALS
        .iter()
        .map(|o| {
            let init = (o.arch == Arch::MaeClassifier).then(|| orig("mae-pretrain"));
            let c = plan.original_config(o.arch, data, init.as_deref());
            (o.slug.to_string(), json!(c))
        })
        .collect();
    let surrogates: serde_json::Map<String, Value> = PAIRS
        .iter()
        .map(|p| {
            let c = plan.surrogate_config(p.2, &orig(p.1), data);
            (p.0.to_string(), json!(c))
        })
        .collect();
    let sur = dir.join("surrogates").join(EXPLAINED[0]).join(BEST);
    json!({
        "plan": plan,
        "originals": originals,
        "surrogates": surrogates,
        "explainer": plan.explainer_config(&sur, data),
        "explained": EXPLAINED,
        "evaluated": EVALUATED,
    })
}

/// Removes what an interrupted stage left, so it can start over.
fn clear(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot remove the unfinished stage {}", dir.display()))?;
    }
    Ok(())
}

fn run_options(run: &Run) -> RunOptions {
    RunOptions {
        quiet: run.opts.quiet,
        ..Default::default()
    }
}

pub(super) fn run(run: &Run, stage: &Stage, log: &mut Log) -> Result<Value> {
    let out = run.path(&stage.dir);
    match &stage.job {
        Job::Original(i) => original(run, &ORIGINALS[*i], &out, log),
        Job::Surrogate(i) => {
            let (slug, orig, arch, name) = PAIRS[*i];
            surrogate(run, slug, orig, arch, name, &out, log)
        }
        Job::FidelitySurrogate => {
            let s = run.plan.superpixel;
            let p = (32 / s).pow(2);
            let arch = fidelity_surrogate_arch(&run.plan);
            let name = match arch {
                SurrogateArch::Resnet18 => format!("ResNet by ResNet ({s}×{s} players, P = {p})"),
                _ => format!("ResNet by ViT ({s}×{s} patches, P = {p})"),
            };
            let slug = fidelity_slug(&run.plan);
            surrogate(run, slug, "resnet", arch, &name, &out, log)
        }
        Job::Explainer(slug) => explainer(run, slug, &out, log),
        Job::Tables => tables(run, &out),
        Job::Figures => figures(run, &out),
        Job::Evaluation(slug) => evaluation(run, slug, &out),
    }
}

/// The fidelity experiment's surrogate kind (its network comes from the plan).
fn fidelity_surrogate_arch(plan: &Plan) -> SurrogateArch {
    match plan.fidelity.as_ref().map(|f| f.surrogate_model()) {
        Some(ModelConfig::ResNet(_)) => SurrogateArch::Resnet18,
        _ => SurrogateArch::Vit,
    }
}

/// An interrupted training in `out` continues from its last checkpoint (said in `run.log`)
/// when that holds this very config; anything less is cleared and started over.
fn resume_or_clear<C: PartialEq>(
    out: &Path,
    name: &str,
    cfg: &C,
    read: impl FnOnce(&Path) -> Result<state::Resumed<C>>,
    log: &mut Log,
) -> Result<Option<state::Resumed<C>>> {
    let resumed = match out.join(LAST).exists() {
        true => match read(out) {
            Ok(r) if r.config == *cfg => {
                log.line(&format!(
                    "  continuing {name} from its last checkpoint (epoch {})",
                    r.state.epoch
                ))?;
                Some(r)
            }
            _ => None,
        },
        false => None,
    };
    if resumed.is_none() {
        clear(out)?;
    }
    Ok(resumed)
}

fn original(run: &Run, o: &OriginalSpec, out: &Path, log: &mut Log) -> Result<Value> {
    let init = (o.arch == Arch::MaeClassifier).then(|| best(&original_dir(run, "mae-pretrain")));
    let cfg = run.plan.original_config(o.arch, &run.data, init.as_deref());
    cfg.validate()?;
    let resumed = resume_or_clear(out, o.slug, &cfg, state::read_resume, log)?;
    let s = crate::train::train(
        &cfg,
        &run.fit,
        &run.val,
        out,
        resumed.as_ref(),
        &run_options(run),
    )?;
    let last = s.metrics.last();
    let best_val = lowest(s.metrics.iter().map(|m| m.val_loss));
    // Validation is held out of the training split; the test accuracy is measured once, on
    // the best checkpoint, after every choice is made.
    let test_acc = match last.and_then(|m| m.val_acc) {
        Some(_) => {
            let model: Model = load_original(&best(out))?;
            let test = TestSet::new(&run.test, run.plan.test_limit);
            Some(eval::evaluate(&model, &test.data, BATCH)?.accuracy)
        }
        None => None,
    };
    Ok(json!({
        "epochs": s.metrics.len(),
        "best_val_loss": best_val,
        "final_val_acc": last.and_then(|m| m.val_acc),
        "test_accuracy": test_acc,
        "images_per_s": last.map(|m| m.images_per_s),
        "table2_name": o.table,
    }))
}

fn lowest(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(f64::INFINITY, f64::min)
}

fn surrogate(
    run: &Run,
    slug: &str,
    orig: &str,
    arch: SurrogateArch,
    name: &str,
    out: &Path,
    log: &mut Log,
) -> Result<Value> {
    let cfg = run
        .plan
        .surrogate_config(arch, &best(&original_dir(run, orig)), &run.data)
        .with_classes(run.fit.num_classes());
    let resumed = resume_or_clear(out, slug, &cfg, surrogate::read_resume, log)?;
    let s = train_surrogate(
        &cfg,
        &run.fit,
        &run.val,
        out,
        resumed.as_ref(),
        &run_options(run),
    )?;
    let b = s
        .metrics
        .iter()
        .find(|m| m.epoch == s.best_epoch)
        .or(s.metrics.last());
    Ok(json!({
        "pair": slug,
        "table1_name": name,
        "epochs": s.metrics.len(),
        "best_epoch": s.best_epoch,
        "val_ce": b.map(|m| m.val_ce),
        "val_acc": b.map(|m| m.val_acc),
        "val_kl": b.map(|m| m.val_kl),
    }))
}

fn surrogate_path(run: &Run, slug: &str) -> PathBuf {
    best(&run.path(&format!("surrogates/{slug}")))
}

fn explainer(run: &Run, slug: &str, out: &Path, log: &mut Log) -> Result<Value> {
    let sur_path = surrogate_path(run, slug);
    let sur = Surrogate::load(&sur_path)?;
    let cfg = run
        .plan
        .explainer_config(&sur_path, &run.data)
        .for_surrogate(&sur);
    let resumed = resume_or_clear(out, slug, &cfg, explainer::read_resume, log)?;
    // The fidelity presets keep snapshots for the evaluation's learning curve.
    let opts = RunOptions {
        snapshots: run.plan.fidelity.as_ref().and_then(|f| f.snapshots()),
        ..run_options(run)
    };
    let s = train_explainer(&cfg, &sur, &run.fit, &run.val, out, resumed.as_ref(), &opts)?;
    let best_val = lowest(s.metrics.iter().map(|m| m.val_loss));
    Ok(json!({
        "pair": slug,
        "epochs": s.metrics.len(),
        "best_epoch": s.best_epoch,
        "initial_val_loss": s.initial_val_loss,
        "best_val_loss": best_val,
    }))
}

/// Images per inference batch (fits every preset's models on any adapter we support).
const BATCH: usize = 100;

/// Images per timed FastSHAP batch in the fidelity experiments (`cpu`, `demo`).
const FIDELITY_TIMING_BATCH: usize = 256;

fn tables(run: &Run, out: &Path) -> Result<Value> {
    std::fs::create_dir_all(out)?;
    let test = TestSet::new(&run.test, run.plan.test_limit);
    let mut rows = Vec::new();
    let mut preds = Vec::new();
    for o in ORIGINALS.iter() {
        let Some(name) = o.table else { continue };
        let model = load_original(&best(&original_dir(run, o.slug)))?;
        let e = eval::evaluate(&model, &test.data, BATCH)?;
        rows.push((name.to_string(), test.data.len(), e));
        if o.arch != Arch::MaeClassifier {
            preds.push(predict(&model, &test.data, BATCH)?);
        }
    }
    let notes = format!(
        "Ours on {} test images of {}; the paper's on the 10,000 CIFAR-10 test images.",
        test.data.len(),
        run.data
    );
    table2(&rows).write(out, "table2", "Table 2: original models", &notes)?;

    let sur: Vec<_> = PAIRS
        .iter()
        .map(|p| {
            let m = best_surrogate_epoch(&run.path(&format!("surrogates/{}", p.0)))?;
            Ok((p.3.to_string(), m))
        })
        .collect::<Result<_>>()?;
    table1(&sur).write(out, "table1", "Table 1: surrogates", TABLE1_NOTES)?;
    fidelity_table(run)?;

    let agreement = Agreement::new(&test, &preds[0], &preds[1])?;
    let notes = format!(
        "A = ResNet18, B = ViT (this run's originals); {} test images of {}. The paper's are on \
         the 10,000 CIFAR-10 test images.",
        test.data.len(),
        run.data
    );
    let about = About {
        title: "Table 3: agreement subsets of ResNet18 (A) and ViT (B)",
        notes: &notes,
        data: &run.data,
        a: json!("ResNet18"),
        b: json!("ViT"),
    };
    agreement.write(out, &about)?;
    let subsets = agreement.subsets;
    Ok(json!({
        "test_images": test.data.len(),
        "accuracy": rows.iter().map(|r| (r.0.clone(), json!(r.2.accuracy)))
            .collect::<serde_json::Map<_, _>>(),
        "subset_sizes": subsets.iter().map(Vec::len).collect::<Vec<_>>(),
    }))
}

/// An explainer with its surrogate and its original's predictions on the figures' test set.
struct Loaded<'a> {
    slug: &'static str,
    explainer: Explainer,
    surrogate: Surrogate,
    predictions: &'a Predictions,
}

impl Loaded<'_> {
    fn explained(&self) -> Explained<'_> {
        Explained {
            name: title(self.slug),
            predictions: self.predictions,
            explainer: &self.explainer,
            surrogate: &self.surrogate,
        }
    }
}

/// The original a pairing explains (`vit` for `vit-by-resnet`).
/// `resnet` of `resnet-by-vit`: the original's slug.
fn original_of(slug: &str) -> &str {
    slug.split("-by-").next().unwrap_or(slug)
}

fn figures(run: &Run, out: &Path) -> Result<Value> {
    std::fs::create_dir_all(out)?;
    let test = TestSet::new(&run.test, run.plan.test_limit);
    // Each original predicts the test set once, however many explainers it has.
    let mut originals: Vec<&str> = Vec::new();
    for s in EXPLAINED {
        if !originals.contains(&original_of(s)) {
            originals.push(original_of(s));
        }
    }
    let predictions = (originals.iter())
        .map(|o| {
            predict(
                &load_original(&best(&original_dir(run, o)))?,
                &test.data,
                BATCH,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut loaded = Vec::new();
    for slug in EXPLAINED {
        let (explainer, _) = Explainer::load(&best(&run.path(&format!("explainers/{slug}"))))?;
        let which = originals.iter().position(|o| *o == original_of(slug));
        loaded.push(Loaded {
            slug,
            explainer,
            surrogate: Surrogate::load(&surrogate_path(run, slug))?,
            predictions: &predictions[which.expect("listed")],
        });
    }
    let get = |s: &str| loaded.iter().find(|l| l.slug == s).expect("explained");
    let opts = HeatmapOptions::new(&test.data.classes);
    let (mut task1, mut task2, mut task3, mut notes) = (vec![], vec![], vec![], vec![]);

    let idx = choose_images(test.data.len(), run.plan.task1_images, run.plan.seed);
    for l in &loaded {
        let img = crate::fastshap::compare::explained_grid(&l.explained(), &test, &idx, &opts)?;
        let file = format!("task1-{}.png", l.slug);
        save_png(&img, &out.join(&file))?;
        task1.push(
            json!({"file": file, "explainers": [l.slug], "caption": format!(
            "Task 1: {} — predicted probabilities (original, surrogate) and the Shapley value of \
             every superpixel for each class; red raises the class's score, blue lowers it.",
            l.explained().name)}),
        );
    }

    let (a, b) = (get(TASK2.0), get(TASK2.1));
    let agreement = Agreement::new(&test, a.predictions, b.predictions)?;
    let picked = agreement.picked(run.plan.per_subset);
    let explained = (&a.explained(), &b.explained());
    for t in agreement.task2(out, explained, ("ResNet18", "ViT"), &picked, &opts)? {
        match t.file {
            Some(file) => task2.push(
                json!({"file": file, "caption": format!("Task 2: {}", t.title),
                "explainers": [TASK2.0, TASK2.1]}),
            ),
            None => notes.push(format!(
                "Task 2: subset \"{}\" is empty on these {} test images.",
                SUBSETS[t.subset],
                test.data.len()
            )),
        }
    }

    let (l, r) = (get(TASK3.0), get(TASK3.1));
    let img = side_by_side(
        "ViT explained through two surrogates",
        &l.explained(),
        &r.explained(),
        &test,
        &idx,
        &opts,
    )?;
    save_png(&img, &out.join("task3-vit.png"))?;
    task3.push(
        json!({"file": "task3-vit.png", "explainers": [TASK3.0, TASK3.1], "caption":
        "Task 3: the same ViT original explained through its ViT surrogate (left) and a ResNet \
         surrogate (right)."}),
    );
    let info = json!({"task1": task1, "task2": task2, "task3": task3, "notes": notes});
    crate::io::write_atomic(
        &out.join("figures.json"),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )?;
    Ok(info)
}

/// The stem of the table beside Table 1 in `tables/`.
pub const FIDELITY_TABLE: &str = "table1-fidelity";

/// The seed's comparison beside Table 1 (`tables/table1-fidelity.{md,csv}`): each explained
/// pairing's surrogate numbers and how right its explainer is. The tables stage writes it
/// with every row "not evaluated yet" and each evaluation stage rewrites it from the
/// `fidelity.json` files on disk, so it always says how far the run got.
fn fidelity_table(run: &Run) -> Result<()> {
    let dir = run.path("tables");
    std::fs::create_dir_all(&dir)?;
    let rows = EXPLAINED
        .iter()
        .map(|slug| {
            let surrogate = best_surrogate_epoch(&run.path(&format!("surrogates/{slug}")))?;
            let path = run
                .path(&format!("evaluation/{slug}"))
                .join("fidelity.json");
            let standing = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| Standing::from_json(&v));
            Ok(standing::Row {
                name: pair(slug).3.to_string(),
                surrogate,
                standing,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let notes = format!("{}\n\n{}", standing::reading(&rows), standing::NOTES);
    let title = "Table 1b: how right each surrogate's explanations are";
    standing::table(&rows).write(&dir, FIDELITY_TABLE, title, &notes)?;
    Ok(())
}

fn evaluation(run: &Run, slug: &str, out: &Path) -> Result<Value> {
    let explainer_path = best(&run.path(&format!("explainers/{slug}")));
    let (explainer, sur_path) = Explainer::load(&explainer_path)?;
    let surrogate = Surrogate::load(&sur_path)?;
    let path = best(&original_dir(run, original_of(slug)));
    let model: Model = load_original(&path)?;
    let original = Original {
        path,
        model: &model,
    };
    let p = &run.plan;
    let f = p.fidelity.as_ref();
    let players = crate::fastshap::players(p.superpixel);
    let cfg = EvaluateConfig {
        images: p.eval_images,
        ground_truth: GroundTruth::Auto,
        kernelshap_threshold: p.kernelshap_threshold,
        kernelshap_max_evals: p.kernelshap_max_evals,
        bootstrap: p.bootstrap,
        // Exact values take 2^16 evaluations per image: large calls amortise the launches. At
        // P ≤ 16 in the paper pipeline (smoke: P = 4) a game has at most 2^P coalitions and
        // smaller calls keep the timing rounds (5 calls) from outweighing the images.
        batch: if f.is_some() {
            p.game_batch()
        } else if players <= AUTO_EXACT_MAX_PLAYERS {
            64
        } else {
            256
        },
        top_k: 0,
        seed: p.seed,
        progress: !run.opts.quiet,
        budgets: f.map_or_else(|| p.eval_budgets(), |f| f.budgets.clone()),
        kernelshap_images: f.map_or(p.eval_detail_images, |f| Some(f.kernelshap_images)),
        curve_images: p.eval_detail_images,
        snapshots: curve::snapshots_beside(&explainer_path)?,
        // FastSHAP timed at its throughput, as the game's 4,096-mask calls are.
        fastshap_batch: if f.is_some() {
            FIDELITY_TIMING_BATCH
        } else {
            0
        },
        ..EvaluateConfig::default()
    };
    clear(out)?;
    let s = evaluate(
        &explainer,
        &explainer_path,
        &surrogate,
        Some(&original),
        &run.test,
        &cfg,
        out,
    )?;
    let fid = s
        .fidelity
        .as_ref()
        .context("an unsharded evaluation has an answer")?;
    if p.fidelity.is_none() {
        fidelity_table(run)?;
    }
    let fs = &fid.scores[0].predicted;
    Ok(json!({
        "pair": slug,
        "players": s.players,
        "ground_truth": s.ground_truth,
        "images": s.images,
        "fastshap_vs_truth": {"l2": fs.l2.mean, "pearson": fs.pearson.mean,
                              "spearman": fs.spearman.mean,
                              "sign_agreement": fs.sign_agreement.mean},
        "auc_top1": fid.auc.iter().map(|r| json!({"method": r.method,
            "mode": r.mode, "auc": r.top1.mean})).collect::<Vec<_>>(),
        "rollout": s.rollout_skipped.is_none(),
        "fidelity": fid,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reproduce::{Plan, ReproOptions, ReproPreset};

    /// The epoch-1 line of a run's metrics, timings included (a redone epoch differs in them).
    fn first_line(dir: &Path) -> String {
        let text = std::fs::read_to_string(dir.join(state::METRICS)).unwrap();
        text.lines().next().unwrap().to_string()
    }

    fn epochs(dir: &Path) -> Vec<u64> {
        let text = std::fs::read_to_string(dir.join(state::METRICS)).unwrap();
        text.lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["epoch"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    /// A surrogate and an explainer stage interrupted after their first epoch continue from
    /// their last checkpoints (the epoch-1 line is not redone) and say so in `run.log`.
    #[test]
    fn interrupted_surrogate_and_explainer_stages_continue() {
        crate::gpu::init(&crate::gpu::Options::from_env()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let (train, test) = crate::data::embedded().unwrap();
        let mut plan = Plan::new(ReproPreset::Smoke);
        plan.surrogate.epochs = 2;
        plan.surrogate.train_limit = Some(16);
        plan.surrogate.val_limit = Some(8);
        plan.explainer.epochs = 2;
        plan.explainer.train_limit = Some(16);
        plan.explainer.val_limit = Some(8);
        let run = Run::new(
            tmp.path().to_path_buf(),
            "embedded".into(),
            plan,
            &train,
            test,
            ReproOptions {
                quiet: true,
                ..ReproOptions::default()
            },
        );
        // The original the first pairing (resnet-by-resnet) explains: an untrained tiny ResNet.
        let orig = best(&original_dir(&run, "resnet"));
        std::fs::create_dir_all(orig.parent().unwrap()).unwrap();
        let cfg = run.plan.size.resnet(3);
        let model =
            Model::ResNet(crate::models::ResNet::new(cfg, &mut crate::nn::init_rng(1)).unwrap());
        crate::checkpoint::save(&model, model.metadata(), &orig).unwrap();

        let mut log = Log::open(&tmp.path().join(super::super::LOG_FILE)).unwrap();
        let stop = RunOptions {
            quiet: true,
            stop_after_epoch: Some(1),
            ..Default::default()
        };
        let find = |name: &str| all().into_iter().find(|s| s.name == name).unwrap();

        // The surrogate stage, stopped after epoch 1 (as a kill after its checkpoint would).
        let stage = find("surrogate resnet-by-resnet");
        let out = run.path(&stage.dir);
        let (_, o, arch, _) = PAIRS[0];
        let cfg = run
            .plan
            .surrogate_config(arch, &best(&original_dir(&run, o)), &run.data)
            .with_classes(10);
        let s = train_surrogate(&cfg, &run.fit, &run.val, &out, None, &stop).unwrap();
        assert!(s.stopped);
        let line = first_line(&out);
        super::run(&run, &stage, &mut log).unwrap();
        assert_eq!(epochs(&out), [1, 2]);
        assert_eq!(first_line(&out), line, "epoch 1 was redone");

        // The explainer stage of that pairing, likewise.
        let stage = find("explainer resnet-by-resnet");
        let out = run.path(&stage.dir);
        let sur_path = surrogate_path(&run, "resnet-by-resnet");
        let sur = Surrogate::load(&sur_path).unwrap();
        let cfg = run.plan.explainer_config(&sur_path, &run.data);
        let e = train_explainer(&cfg, &sur, &run.fit, &run.val, &out, None, &stop).unwrap();
        assert!(e.stopped);
        let line = first_line(&out);
        super::run(&run, &stage, &mut log).unwrap();
        assert_eq!(epochs(&out), [1, 2]);
        assert_eq!(first_line(&out), line, "epoch 1 was redone");

        let text = std::fs::read_to_string(tmp.path().join(super::super::LOG_FILE)).unwrap();
        assert_eq!(
            text.matches("continuing resnet-by-resnet from its last checkpoint (epoch 1)")
                .count(),
            2,
            "{text}"
        );
    }
}
