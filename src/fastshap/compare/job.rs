//! What `fastshap compare` does, as one library job: check the flags and files before the GPU
//! starts, load both originals (and any explainers), predict the test set, write Table 3 and
//! `subsets.json`, then task 2's and task 3's images. The command only parses and prints.

use super::agreement::{About, Agreement};
use super::{Explained, Predictions, SUBSETS, TestSet, classes_of, predict_with, side_by_side};
use crate::data::Dataset;
use crate::fastshap::explainer::Explainer;
use crate::fastshap::surrogate::{Surrogate, load_original_as};
use crate::fastshap::tables::Table;
use crate::progress::Progress;
use crate::train::Model;
use crate::train::arch::{ArchFlags, ArchHint, ClassifierArch, resolve};
use crate::train::run_dir::{resolve_checkpoint, run_name};
use crate::viz::{HeatmapOptions, save_png};
use anyhow::{Context, Result, bail, ensure};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One original as given: a checkpoint or run directory, how to build a plain state dict, and
/// its name in tables and captions (default: the run directory's or file's name).
pub struct OriginalArg {
    pub path: PathBuf,
    pub arch: Option<ClassifierArch>,
    pub heads: Option<usize>,
    pub arch_config: Option<PathBuf>,
    pub name: Option<String>,
}

/// Everything `fastshap compare` was asked to do.
pub struct CompareJob {
    pub a: OriginalArg,
    pub b: OriginalArg,
    /// Explainers of A, of B, and of A through another surrogate (checkpoints or run dirs).
    pub explainers: [Option<PathBuf>; 3],
    pub data: String,
    pub out: PathBuf,
    pub per_subset: usize,
    pub limit: Option<usize>,
    pub batch_size: usize,
    pub vmax: Option<f64>,
    pub quiet: bool,
}

const EXPLAINER_FLAGS: [&str; 3] = ["--explainer-a", "--explainer-b", "--explainer-c"];

/// A job whose flags, files and networks are known good (nothing loaded on the GPU yet).
pub struct Checked<'j> {
    job: &'j CompareJob,
    paths: [PathBuf; 2],
    hints: [ArchHint; 2],
    names: [String; 2],
    explainers: [Option<PathBuf>; 3],
}

/// An explainer and the surrogate its metadata names.
struct Loaded {
    explainer: Explainer,
    surrogate: Surrogate,
    surrogate_path: PathBuf,
}

/// Both originals' predictions, their subsets (Table 3 written) and the loaded explainers.
pub struct Comparison<'j> {
    checked: Checked<'j>,
    test: TestSet,
    predictions: [Predictions; 2],
    subsets: [Vec<usize>; 4],
    explainers: [Option<Loaded>; 3],
    classes: Vec<String>,
    /// Table 3, as written.
    pub table: Table,
    /// When the work after loading began (the command's throughput line).
    pub started: Instant,
}

/// What [`Comparison::figures`] wrote.
pub struct Figures {
    /// Subsets with no images (no task-2 image).
    pub empty: Vec<&'static str>,
    pub written: Vec<PathBuf>,
}

impl CompareJob {
    /// Checks the flags, the files and both networks: what can fail does before the GPU starts.
    pub fn check(&self) -> Result<Checked<'_>> {
        ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        ensure!(self.per_subset >= 1, "--per-subset must be at least 1");
        ensure!(self.limit != Some(0), "--limit must be at least 1");
        if let Some(v) = self.vmax {
            ensure!(v.is_finite() && v > 0.0, "--vmax must be positive, got {v}");
        }
        match &self.explainers {
            [None, Some(_), _] => bail!("--explainer-b needs --explainer-a (task 2 shows both)"),
            [None, _, Some(_)] => bail!("--explainer-c needs --explainer-a (task 3 compares them)"),
            _ => {}
        }
        let paths = [
            resolve_checkpoint(&self.a.path, "--a")?,
            resolve_checkpoint(&self.b.path, "--b")?,
        ];
        let mut explainers: [Option<PathBuf>; 3] = Default::default();
        for (e, (p, f)) in explainers
            .iter_mut()
            .zip(self.explainers.iter().zip(EXPLAINER_FLAGS))
        {
            *e = p.as_ref().map(|p| resolve_checkpoint(p, f)).transpose()?;
        }
        let name = |o: &OriginalArg| o.name.clone().unwrap_or_else(|| run_name(&o.path));
        let hint = |o: &OriginalArg, s: &'static [&'static str; 3]| {
            let flags = ArchFlags {
                arch: s[0],
                heads: s[1],
                config: s[2],
            };
            ArchHint::new(o.arch, o.heads, o.arch_config.as_deref(), flags)
        };
        let hints = [
            hint(&self.a, &["--arch-a", "--heads-a", "--arch-config-a"])?,
            hint(&self.b, &["--arch-b", "--heads-b", "--arch-config-b"])?,
        ];
        // Both networks are known (or the error names the file and the flag).
        resolve(&paths[0], &hints[0]).context("--a")?;
        resolve(&paths[1], &hints[1]).context("--b")?;
        Ok(Checked {
            job: self,
            names: [name(&self.a), name(&self.b)],
            paths,
            hints,
            explainers,
        })
    }
}

fn load_explainer(path: &Path, what: &str) -> Result<Loaded> {
    let (explainer, sur) = Explainer::load(path).with_context(|| what.to_string())?;
    ensure!(
        sur.is_file(),
        "{what}: its surrogate {} (recorded in {}) does not exist",
        sur.display(),
        path.display()
    );
    let surrogate = Surrogate::load(&sur).with_context(|| format!("{what}'s surrogate"))?;
    Ok(Loaded {
        explainer,
        surrogate,
        surrogate_path: sur,
    })
}

/// Notes (does not fail) when an explainer's surrogate was trained from another original
/// than the one it is shown with: paths may have moved since training.
fn note_original(l: &Loaded, original: &Path, what: &str) {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    match &l.surrogate.original {
        Some(o) if canon(o).is_some() && canon(o) == canon(original) => {}
        Some(o) => eprintln!(
            "note: {what}'s surrogate was trained from {}, not {}",
            o.display(),
            original.display()
        ),
        None => {}
    }
}

impl<'j> Checked<'j> {
    fn load_originals(&self) -> Result<([Model; 2], Dataset)> {
        let (pa, pb) = (&self.paths[0], &self.paths[1]);
        let a = load_original_as(pa, &self.hints[0]).context("--a")?;
        let b = load_original_as(pb, &self.hints[1]).context("--b")?;
        let (ka, kb) = (classes_of(&a)?, classes_of(&b)?);
        ensure!(
            ka == kb,
            "A ({}) predicts {ka} classes but B ({}) predicts {kb}: they must classify the same \
             classes",
            pa.display(),
            pb.display()
        );
        let (_, full) = crate::data::load_source(&self.job.data)?;
        ensure!(
            full.num_classes() == ka,
            "the models predict {ka} classes but the data has {}",
            full.num_classes()
        );
        Ok(([a, b], full))
    }

    fn load_explainers(&self, classes: usize) -> Result<[Option<Loaded>; 3]> {
        let mut out: [Option<Loaded>; 3] = Default::default();
        for (i, (slot, p)) in out.iter_mut().zip(&self.explainers).enumerate() {
            let Some(p) = p else { continue };
            let what = EXPLAINER_FLAGS[i];
            let l = load_explainer(p, what)?;
            ensure!(
                l.explainer.config.unet.classes == classes,
                "{what} explains {} classes but the originals predict {classes}",
                l.explainer.config.unet.classes
            );
            // B's explainer is shown with B; A's and the task-3 one with A.
            note_original(&l, &self.paths[usize::from(i == 1)], what);
            *slot = Some(l);
        }
        Ok(out)
    }

    /// Loads everything (the GPU must be up), predicts the test set with both originals and
    /// writes Table 3 and `subsets.json` into the output directory.
    pub fn table3(self) -> Result<Comparison<'j>> {
        let job = self.job;
        let ([model_a, model_b], full) = self.load_originals()?;
        let explainers = self.load_explainers(full.num_classes())?;
        std::fs::create_dir_all(&job.out)
            .with_context(|| format!("cannot create {}", job.out.display()))?;
        let started = Instant::now();
        let test = TestSet::new(&full, job.limit);
        let n = test.data.len();
        let mut progress = Progress::new("compare", 2 * n, "images", job.quiet);
        let pa = predict_with(&model_a, &test.data, job.batch_size, &mut progress)?;
        let pb = predict_with(&model_b, &test.data, job.batch_size, &mut progress)?;
        progress.finish();
        let agreement = Agreement::new(&test, &pa, &pb)?;
        let [name_a, name_b] = &self.names;
        let [path_a, path_b] = &self.paths;
        let notes = format!(
            "A = {name_a} ({}), B = {name_b} ({}); {n} test images of {}. The paper's are \
             ResNet18 (A) vs ViT (B) on the 10,000 CIFAR-10 test images.",
            path_a.display(),
            path_b.display(),
            job.data
        );
        let (acc_a, acc_b) = agreement.accuracy();
        let about = About {
            title: "Table 3: agreement subsets of A and B",
            notes: &notes,
            data: &job.data,
            a: json!({"name": name_a, "checkpoint": path_a.to_string_lossy(), "accuracy": acc_a}),
            b: json!({"name": name_b, "checkpoint": path_b.to_string_lossy(), "accuracy": acc_b}),
        };
        let table = agreement.write(&job.out, &about)?;
        let subsets = agreement.subsets;
        Ok(Comparison {
            classes: test.data.classes.clone(),
            checked: self,
            test,
            predictions: [pa, pb],
            subsets,
            explainers,
            table,
            started,
        })
    }
}

impl Comparison<'_> {
    /// The number of test images compared.
    pub fn test_images(&self) -> usize {
        self.test.data.len()
    }

    fn explained(&self, which: usize, original: usize) -> Option<Explained<'_>> {
        let l = self.explainers[which].as_ref()?;
        Some(Explained {
            name: format!(
                "{} via surrogate {}",
                self.checked.names[original],
                run_name(&l.surrogate_path)
            ),
            predictions: &self.predictions[original],
            explainer: &l.explainer,
            surrogate: &l.surrogate,
        })
    }

    /// Task 2 (with explainers of A and B): `task2-<subset>.png`; task 3 (with A's and the
    /// other one): `task3.png`, the same images through both.
    pub fn figures(&self) -> Result<Figures> {
        let job = self.checked.job;
        let mut opts = HeatmapOptions::new(&self.classes);
        opts.vmax = job.vmax;
        let agreement = Agreement {
            test: &self.test,
            subsets: self.subsets.clone(),
        };
        let picked = agreement.picked(job.per_subset);
        let mut out = Figures {
            empty: Vec::new(),
            written: Vec::new(),
        };
        let (ea, eb, ec) = (
            self.explained(0, 0),
            self.explained(1, 1),
            self.explained(2, 0),
        );
        if let (Some(ea), Some(eb)) = (&ea, &eb) {
            let [na, nb] = &self.checked.names;
            for t in agreement.task2(&job.out, (ea, eb), (na, nb), &picked, &opts)? {
                match t.file {
                    Some(f) => out.written.push(job.out.join(f)),
                    None => out.empty.push(SUBSETS[t.subset]),
                }
            }
        }
        if let (Some(ea), Some(ec)) = (&ea, &ec) {
            let title = format!("{} explained through two surrogates", self.checked.names[0]);
            let img = side_by_side(&title, ea, ec, &self.test, &picked.concat(), &opts)?;
            let path = job.out.join("task3.png");
            save_png(&img, &path)?;
            out.written.push(path);
        }
        Ok(out)
    }
}
