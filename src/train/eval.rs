//! Evaluation of a classifier on a dataset: mean cross-entropy (no label smoothing), accuracy
//! and the confusion matrix. Per-batch losses and predictions stay on the device and are read
//! back once at the end.

use super::model::Model;
use crate::Tensor;
use crate::data::Dataset;
use crate::ops::{self, elementwise::Binary, elementwise::binary_raw};
use crate::progress::Progress;
use anyhow::Result;

pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

/// Evaluates `model` (eval mode, no tape) on `data`.
pub fn evaluate(model: &Model, data: &Dataset, batch: usize) -> Result<Evaluation> {
    evaluate_with(model, data, batch, &mut Progress::hidden())
}

/// [`evaluate`], counting images on `progress` (which waits for the device after each batch
/// when it is shown, so it follows the work).
pub fn evaluate_with(
    model: &Model,
    data: &Dataset,
    batch: usize,
    progress: &mut Progress,
) -> Result<Evaluation> {
    let _g = crate::no_grad();
    let n = data.len();
    anyhow::ensure!(n > 0, "cannot evaluate on an empty dataset");
    let k = data.num_classes();
    let mut losses = Vec::new();
    let mut preds = Vec::new();
    for start in (0..n).step_by(batch.max(1)) {
        let idx: Vec<usize> = (start..(start + batch).min(n)).collect();
        let (images, labels) = data.batch(&idx);
        let x = Tensor::from_slice(&images, &[idx.len(), 3, 32, 32])?;
        let logits = model.logits(&x, false)?;
        // Sum of losses (batch mean × batch size) so uneven last batches weigh correctly.
        let loss = ops::loss::cross_entropy_indices(&logits, &labels, 0.0)?;
        losses.push(loss.mul_scalar(idx.len() as f32)?.reshape(&[1])?);
        preds.push(logits.argmax(1, false)?);
        if progress.visible() {
            crate::gpu::ctx().sync();
        }
        progress.inc(idx.len());
    }
    let losses = ops::plumbing::concat(&losses.iter().collect::<Vec<_>>(), 0)?.to_vec()?;
    let preds = ops::plumbing::concat(&preds.iter().collect::<Vec<_>>(), 0)?.to_vec()?;
    let mut confusion = vec![vec![0usize; k]; k];
    for (i, &p) in preds.iter().enumerate() {
        confusion[data.label(i) as usize][p as usize] += 1;
    }
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    Ok(Evaluation {
        loss: losses.iter().map(|&l| l as f64).sum::<f64>() / n as f64,
        accuracy: correct as f64 / n as f64,
        confusion,
    })
}

/// 1 where the predicted class (argmax of `logits`) equals `labels` ([B] class indices as f32),
/// summed: the number of correct predictions as a device scalar, recording nothing.
pub fn correct_count(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let pred = logits.detach().argmax(1, false)?;
    let ge = binary_raw(&pred, labels, Binary::Ge)?;
    let le = binary_raw(&pred, labels, Binary::Le)?;
    binary_raw(&ge, &le, Binary::Mul)?.sum_all()
}

/// The confusion matrix as text, rows = true class, columns = predicted.
pub fn format_confusion(m: &[Vec<usize>], classes: &[String]) -> String {
    let short: Vec<String> = classes
        .iter()
        .map(|c| c.chars().take(5).collect())
        .collect();
    let mut s = format!("{:>12}", "true\\pred");
    for c in &short {
        s += &format!(" {c:>5}");
    }
    s.push('\n');
    for (row, name) in m.iter().zip(classes) {
        s += &format!("{name:>12}");
        for v in row {
            s += &format!(" {v:>5}");
        }
        s.push('\n');
    }
    s
}
