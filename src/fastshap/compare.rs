//! The paper's visualisation tasks 2 and 3. Task 2: two originals A and B split the test set
//! into four agreement subsets (A wrong B wrong, A wrong B correct, A correct B wrong, A correct
//! B correct; Table 3 holds their sizes) and a few images of each are explained through both.
//! Task 3: one original explained through two different surrogates on the same images.
//! agreement.rs writes Table 3 and task 2's images (for `compare` and `reproduce` alike);
//! job.rs is the whole `fastshap compare` run.

mod agreement;
mod job;

pub use agreement::{About, Agreement, Task2Image};
pub use job::{Checked, CompareJob, Comparison, Figures, OriginalArg};

use super::SurrogateModel;
use super::explainer::{Explainer, explain_batch};
use super::tables::Table;
use crate::data::{Dataset, SIDE};
use crate::progress::Progress;
use crate::train::Model;
use crate::viz::{Direction, HeatmapOptions, HeatmapRow, compose, heatmap_grid};
use crate::{Tensor, no_grad};
use anyhow::{Result, ensure};
use image::RgbImage;

/// The subsets in Table 3's column order; index = 2·[A correct] + [B correct].
pub const SUBSETS: [&str; 4] = [
    "A wrong, B wrong",
    "A wrong, B correct",
    "A correct, B wrong",
    "A correct, B correct",
];
/// File-name forms of [`SUBSETS`].
pub const SUBSET_SLUGS: [&str; 4] = [
    "a-wrong-b-wrong",
    "a-wrong-b-correct",
    "a-correct-b-wrong",
    "a-correct-b-correct",
];
/// Table 3 of the paper (REFERENCE.md): ResNet18 (A) vs ViT (B) on the 10,000 test images.
pub const PAPER_TABLE3: [usize; 4] = [347, 328, 593, 8732];

/// A classifier's class probabilities [N, K] and predicted classes on a dataset.
#[derive(Clone, Debug)]
pub struct Predictions {
    pub classes: usize,
    pub probs: Vec<f32>,
    pub pred: Vec<usize>,
}

impl Predictions {
    pub fn probs_of(&self, i: usize) -> &[f32] {
        &self.probs[i * self.classes..(i + 1) * self.classes]
    }
}

/// The number of classes `model` predicts (one forward pass of a blank image).
pub fn classes_of(model: &Model) -> Result<usize> {
    let _g = no_grad();
    Ok(model
        .logits(&Tensor::zeros(&[1, 3, SIDE, SIDE])?, false)?
        .dim(1))
}

/// `model`'s predictions (eval mode, no tape) on every image of `data`.
pub fn predict(model: &Model, data: &Dataset, batch: usize) -> Result<Predictions> {
    predict_with(model, data, batch, &mut Progress::hidden())
}

/// [`predict`], counting images on `progress` (each batch is read back, so it follows the work).
pub fn predict_with(
    model: &Model,
    data: &Dataset,
    batch: usize,
    progress: &mut Progress,
) -> Result<Predictions> {
    let _g = no_grad();
    ensure!(!data.is_empty(), "cannot predict on an empty dataset");
    let batch = batch.max(1);
    let mut probs = Vec::with_capacity(data.len() * data.num_classes());
    let mut classes = 0;
    for start in (0..data.len()).step_by(batch) {
        let idx: Vec<usize> = (start..(start + batch).min(data.len())).collect();
        let x = Tensor::from_slice(&data.batch(&idx).0, &[idx.len(), 3, SIDE, SIDE])?;
        let p = model.logits(&x, false)?.softmax()?;
        classes = p.dim(1);
        probs.extend(p.to_vec()?);
        progress.inc(idx.len());
    }
    let pred = probs
        .chunks(classes)
        .map(|row| (0..classes).fold(0, |b, c| if row[c] > row[b] { c } else { b }))
        .collect();
    Ok(Predictions {
        classes,
        probs,
        pred,
    })
}

/// Test-set indices of each agreement subset, in [`SUBSETS`] order.
pub fn partition(labels: &[u8], a: &[usize], b: &[usize]) -> Result<[Vec<usize>; 4]> {
    ensure!(
        labels.len() == a.len() && a.len() == b.len(),
        "partition: {} labels, {} predictions of A, {} of B",
        labels.len(),
        a.len(),
        b.len()
    );
    let mut out: [Vec<usize>; 4] = Default::default();
    for (i, &l) in labels.iter().enumerate() {
        let (ca, cb) = (a[i] == l as usize, b[i] == l as usize);
        out[2 * ca as usize + cb as usize].push(i);
    }
    Ok(out)
}

/// `n` members of `subset` spread evenly over it (the test set is grouped by class, so the
/// first `n` would all be one class).
pub fn pick(subset: &[usize], n: usize) -> Vec<usize> {
    let n = n.min(subset.len());
    (0..n).map(|i| subset[i * subset.len() / n]).collect()
}

/// Table 3: per subset our count and share beside the paper's.
pub fn table3(subsets: &[Vec<usize>; 4]) -> Table {
    let total: usize = subsets.iter().map(Vec::len).sum();
    let paper_total: usize = PAPER_TABLE3.iter().sum();
    let mut t = Table::new(&[
        "subset",
        "images",
        "share",
        "images (paper)",
        "share (paper)",
    ]);
    for (s, name) in subsets.iter().zip(SUBSETS) {
        let i = t.rows.len();
        t.rows.push(vec![
            name.to_string(),
            s.len().to_string(),
            format!("{:.4}", s.len() as f64 / total.max(1) as f64),
            PAPER_TABLE3[i].to_string(),
            format!("{:.4}", PAPER_TABLE3[i] as f64 / paper_total as f64),
        ]);
    }
    t
}

/// An original with its predictions on the test set and, optionally, an explainer with the
/// surrogate it was trained against.
pub struct Explained<'a> {
    pub name: String,
    pub predictions: &'a Predictions,
    pub explainer: &'a Explainer,
    pub surrogate: &'a dyn SurrogateModel,
}

/// A heatmap grid of test images `idx` through `m`: per image the image (titled with its index,
/// true class and whether `m`'s original got it right), then one Shapley panel per class with
/// the original's and the surrogate's probabilities.
pub fn explained_grid(
    m: &Explained,
    test: &TestSet,
    idx: &[usize],
    opts: &HeatmapOptions,
) -> Result<RgbImage> {
    ensure!(!idx.is_empty(), "explained_grid: no images");
    let (full_index, test) = (&test.index, &test.data);
    let x = Tensor::from_slice(&test.batch(idx).0, &[idx.len(), 3, SIDE, SIDE])?;
    let ex = explain_batch(m.explainer, m.surrogate, &x)?;
    let k = ex.classes;
    ensure!(
        k == m.predictions.classes,
        "{}: the explainer has {k} classes, the original {}",
        m.name,
        m.predictions.classes
    );
    let phis: Vec<Vec<f64>> = (0..idx.len())
        .map(|j| ex.phi_of(j).iter().map(|&v| v as f64).collect())
        .collect();
    let to64 = |v: &[f32]| v.iter().map(|&p| p as f64).collect::<Vec<_>>();
    let oprobs: Vec<Vec<f64>> = idx
        .iter()
        .map(|&i| to64(m.predictions.probs_of(i)))
        .collect();
    let sprobs: Vec<Vec<f64>> = (0..idx.len())
        .map(|j| to64(&ex.probs[j * k..(j + 1) * k]))
        .collect();
    let rows: Vec<HeatmapRow> = idx
        .iter()
        .enumerate()
        .map(|(j, &i)| {
            let ok = m.predictions.pred[i] == test.label(i) as usize;
            HeatmapRow {
                image: test.image(i),
                phi: &phis[j],
                probs: Some(&oprobs[j]),
                surrogate_probs: Some(&sprobs[j]),
                title: format!(
                    "#{} {} {}",
                    full_index[i],
                    test.class_name(i),
                    if ok { "ok" } else { "wrong" }
                ),
            }
        })
        .collect();
    heatmap_grid(&rows, opts)
}

/// The same images through two explained models, side by side with captions under `title`.
pub fn side_by_side(
    title: &str,
    left: &Explained,
    right: &Explained,
    test: &TestSet,
    idx: &[usize],
    opts: &HeatmapOptions,
) -> Result<RgbImage> {
    let l = explained_grid(left, test, idx, opts)?;
    let r = explained_grid(right, test, idx, opts)?;
    Ok(compose(
        title,
        &[(&left.name, &l), (&right.name, &r)],
        Direction::Horizontal,
    ))
}

/// A test set, possibly a subset of the full one, with each image's index in the full set
/// (what titles and `subsets.json` report).
pub struct TestSet {
    pub data: Dataset,
    pub index: Vec<usize>,
}

impl TestSet {
    /// `limit` images spread evenly over `full` (readers group images by class), or all.
    pub fn new(full: &Dataset, limit: Option<usize>) -> TestSet {
        let index: Vec<usize> = match limit {
            Some(n) if n < full.len() => (0..n).map(|i| i * full.len() / n).collect(),
            _ => (0..full.len()).collect(),
        };
        TestSet {
            data: full.select(&index),
            index,
        }
    }
}
