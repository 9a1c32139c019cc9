//! A batch loader that prepares the next batches on a background thread while the caller works.
//!
//! Every random draw is derived from (seed, epoch, batch): the epoch's order from (seed, epoch),
//! a batch's augmentation from (seed, epoch, batch). So the whole RNG state is the small
//! [`LoaderState`] — save it with a checkpoint and [`Loader::resume`] continues with exactly the
//! batches an uninterrupted run would have produced, whatever the prefetch depth.

use super::{Augment, Dataset};
use crate::seed::Mixer;
use anyhow::{Result, bail};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Reshuffle the order every epoch (else dataset order).
    pub shuffle: bool,
    /// Skip the last, smaller batch of an epoch.
    pub drop_last: bool,
    pub augment: Augment,
    pub seed: u64,
    /// How many batches the worker may have ready ahead of the caller.
    pub prefetch: usize,
}

impl LoaderConfig {
    /// Shuffled, no augmentation, last batch kept, two batches prefetched.
    pub fn new(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            shuffle: true,
            drop_last: false,
            augment: Augment::NONE,
            seed,
            prefetch: 2,
        }
    }
}

/// Where the loader stands: the next batch it will yield is batch `batch` of epoch `epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoaderState {
    pub seed: u64,
    pub epoch: u64,
    pub batch: usize,
}

/// One prepared batch: normalised NCHW f32 images and labels, with where it came from.
#[derive(Clone, Debug)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
    /// Dataset indices of the images, in batch order.
    pub indices: Vec<usize>,
    pub epoch: u64,
    pub batch: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

pub struct Loader {
    rx: Option<Receiver<Batch>>,
    worker: Option<JoinHandle<()>>,
    state: LoaderState,
    per_epoch: usize,
}

/// The order of dataset indices in `epoch`.
pub fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(
            Mixer::LOADER.mix(&[seed, epoch, 0]),
        ));
    }
    order
}

fn batches_per_epoch(n: usize, cfg: &LoaderConfig) -> usize {
    if cfg.drop_last {
        n / cfg.batch_size
    } else {
        n.div_ceil(cfg.batch_size)
    }
}

fn make_batch(
    data: &Dataset,
    cfg: &LoaderConfig,
    seed: u64,
    epoch: u64,
    b: usize,
    order: &[usize],
) -> Batch {
    let end = ((b + 1) * cfg.batch_size).min(order.len());
    let indices = order[b * cfg.batch_size..end].to_vec();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(Mixer::LOADER.mix(&[seed, epoch, 1, b as u64]));
    let (images, labels) = data.batch_augmented(&indices, &cfg.augment, &mut rng);
    Batch {
        images,
        labels,
        indices,
        epoch,
        batch: b,
    }
}

fn work(
    data: Arc<Dataset>,
    cfg: LoaderConfig,
    start: LoaderState,
    per_epoch: usize,
    tx: SyncSender<Batch>,
) {
    let mut first = start.batch;
    for epoch in start.epoch.. {
        let order = epoch_order(data.len(), cfg.shuffle, start.seed, epoch);
        for b in first..per_epoch {
            let batch = make_batch(&data, &cfg, start.seed, epoch, b, &order);
            if tx.send(batch).is_err() {
                return; // the Loader was dropped
            }
        }
        first = 0;
    }
}

impl Loader {
    /// Starts at epoch 0, batch 0 with `cfg.seed`.
    pub fn new(data: Arc<Dataset>, cfg: LoaderConfig) -> Result<Self> {
        let state = LoaderState {
            seed: cfg.seed,
            epoch: 0,
            batch: 0,
        };
        Self::resume(data, cfg, state)
    }

    /// Continues from a saved [`Loader::state`] (its seed replaces `cfg.seed`).
    pub fn resume(data: Arc<Dataset>, cfg: LoaderConfig, state: LoaderState) -> Result<Self> {
        if cfg.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        let per_epoch = batches_per_epoch(data.len(), &cfg);
        if per_epoch == 0 {
            bail!(
                "{} images make no batch of {} (drop_last = {})",
                data.len(),
                cfg.batch_size,
                cfg.drop_last
            );
        }
        if state.batch >= per_epoch {
            bail!(
                "resume state batch {} but an epoch has {per_epoch} batches",
                state.batch
            );
        }
        let (tx, rx) = sync_channel(cfg.prefetch.max(1));
        let worker = std::thread::Builder::new()
            .name("fastshap-loader".into())
            .spawn(move || work(data, cfg, state, per_epoch, tx))?;
        Ok(Self {
            rx: Some(rx),
            worker: Some(worker),
            state,
            per_epoch,
        })
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.per_epoch
    }

    /// The state to save for resuming after the batches yielded so far.
    pub fn state(&self) -> LoaderState {
        self.state
    }

    /// The next batch; epochs follow each other without end.
    pub fn next_batch(&mut self) -> Batch {
        let batch = self
            .rx
            .as_ref()
            .unwrap()
            .recv()
            .expect("data loader thread died");
        self.state.batch += 1;
        if self.state.batch == self.per_epoch {
            self.state.batch = 0;
            self.state.epoch += 1;
        }
        batch
    }

    /// The remaining batches of the current epoch.
    pub fn epoch(&mut self) -> impl Iterator<Item = Batch> + '_ {
        let left = self.per_epoch - self.state.batch;
        (0..left).map(move |_| self.next_batch())
    }
}

impl Iterator for Loader {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        Some(self.next_batch())
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channel makes the worker's next send fail, so it returns.
        drop(self.rx.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
