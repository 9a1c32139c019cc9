//! The epoch loop's read-backs: training losses (and classifiers' correct counts) stay on the
//! device and come back every few steps in one transfer, one value per step, so a non-finite
//! loss is still pinned to its step; with them one value says whether the model is finite
//! ([`super::nonfinite::weights_flag`]). Also the progress bar they update.

use super::nonfinite::{self, NonFiniteLoss};
use crate::Tensor;
use crate::nn::Module;
use crate::ops;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How a step's batch-mean loss is weighed by its batch size into the epoch's mean. Each
/// trainer keeps the arithmetic it always had, so recorded runs reproduce bit for bit.
#[derive(Clone, Copy, Debug)]
pub enum Weigh {
    /// In f64 on the host, after the read-back (classifiers, MAE).
    Host,
    /// In f32 on the device, before it (surrogates, explainers).
    Device,
}

/// Everything of an epoch's metrics line that the loop itself measures.
pub struct EpochBase {
    /// 1-based number of the finished epoch.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub step: u64,
    pub train_loss: f64,
    /// Training accuracy, when the task counted correct predictions.
    pub train_acc: Option<f64>,
    /// The learning rate of the epoch's last step.
    pub lr: f64,
    pub images_per_s: f64,
    pub seconds: f64,
}

/// The steps of an epoch not yet read back, and the sums of those that were.
pub struct Readback {
    /// Per step: the loss as weighed [1], the correct count [1] (classifiers), the batch size.
    steps: Vec<(Tensor, Option<Tensor>, usize)>,
    /// Global step of the first pending entry.
    first_step: u64,
    /// Σ loss × batch size over the steps read back.
    loss: f64,
    /// Σ correct predictions, when counted.
    correct: Option<f64>,
    images: usize,
}

impl Readback {
    /// An epoch whose first step is global step `first_step`.
    pub fn new(first_step: u64) -> Readback {
        Readback {
            steps: Vec::new(),
            first_step,
            loss: 0.0,
            correct: None,
            images: 0,
        }
    }

    /// Steps not yet read back.
    pub fn pending(&self) -> usize {
        self.steps.len()
    }

    /// Records a step's batch-mean `loss` over `n` images (no sync).
    pub fn push(
        &mut self,
        w: Weigh,
        loss: &Tensor,
        correct: Option<Tensor>,
        n: usize,
    ) -> Result<()> {
        let loss = match w {
            Weigh::Host => loss.detach().reshape(&[1])?,
            Weigh::Device => loss.detach().mul_scalar(n as f32)?.reshape(&[1])?,
        };
        self.steps.push((loss, correct, n));
        Ok(())
    }

    /// Reads the pending steps back in one transfer, with [`nonfinite::weights_flag`] of
    /// `model`. The first non-finite loss (else, the model not being finite, the last step) is
    /// returned as a [`NonFiniteLoss`] of a `what` run in 0-based `epoch`, whose first step is
    /// global step `epoch_first`.
    pub fn flush(
        &mut self,
        model: &dyn Module,
        w: Weigh,
        what: &str,
        epoch: usize,
        epoch_first: u64,
    ) -> Result<Option<NonFiniteLoss>> {
        if self.steps.is_empty() {
            return Ok(None);
        }
        let flag = nonfinite::weights_flag(model)?;
        let mut parts: Vec<&Tensor> = self.steps.iter().map(|s| &s.0).collect();
        parts.push(&flag);
        parts.extend(self.steps.iter().filter_map(|s| s.1.as_ref()));
        let v = ops::plumbing::concat(&parts, 0)?.to_vec()?;
        let k = self.steps.len();
        let bad_loss = (0..k).find(|&i| !v[i].is_finite());
        if let Some(i) = bad_loss.or((v[k] != 0.0).then_some(k - 1)) {
            let step = self.first_step + i as u64;
            let in_epoch = (step - epoch_first) as usize;
            return Ok(Some(NonFiniteLoss::at(step, what, v[i], epoch, in_epoch)));
        }
        // In step order, so the epoch's sums are the same however often this runs.
        let mut counts = v[k + 1..].iter();
        for (i, (_, c, n)) in self.steps.iter().enumerate() {
            self.loss += match w {
                Weigh::Host => v[i] as f64 * *n as f64,
                Weigh::Device => v[i] as f64,
            };
            if c.is_some() {
                let count = *counts.next().expect("one count per counted step") as f64;
                *self.correct.get_or_insert(0.0) += count;
            }
            self.images += n;
        }
        self.first_step += k as u64;
        self.steps.clear();
        Ok(None)
    }

    /// The progress bar's message after `secs` seconds of training.
    pub fn message(&self, secs: f64) -> String {
        let images = self.images as f64;
        let mut msg = format!("loss {:.4}", self.loss / images);
        if let Some(c) = self.correct {
            msg += &format!(" acc {:.3}", c / images);
        }
        msg + &format!(" {:.0} img/s", images / secs)
    }

    /// The epoch's metrics so far, every step read back (`seconds`: `secs`, the training's).
    pub fn epoch_base(&self, epoch: usize, step: u64, lr: f64, secs: f64) -> EpochBase {
        let images = self.images as f64;
        EpochBase {
            epoch,
            step,
            train_loss: self.loss / images,
            train_acc: self.correct.map(|c| c / images),
            lr,
            images_per_s: images / secs,
            seconds: secs,
        }
    }
}

/// A bar over an epoch's `len` steps, drawn only on a terminal and when not `quiet`.
pub fn progress_bar(len: usize, epoch: usize, epochs: usize, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    if quiet || !std::io::stdout().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        pb.set_draw_target(ProgressDrawTarget::stdout());
    }
    pb.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(format!("{}/{epochs}", epoch + 1));
    pb
}
