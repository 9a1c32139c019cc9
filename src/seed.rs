//! Seeded mixing: a run's seed and a few counters (epoch, batch, purpose) give an independent
//! seed for each random stream. One function; each caller keeps its own starting constant, so
//! the streams of runs recorded before the callers shared it reproduce bit for bit.

/// SplitMix64 folded over parts, from a caller's starting constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mixer(u64);

impl Mixer {
    /// The data loader's streams: epoch order, per-batch augmentation.
    pub const LOADER: Mixer = Mixer(0x9e3779b97f4a7c15);
    /// The classifier and MAE trainer's: weight init per block, per-batch seeds.
    pub const TRAINER: Mixer = Mixer(0x243f6a8885a308d3);
    /// FastSHAP's: surrogate and explainer training, the fidelity experiment.
    pub const FASTSHAP: Mixer = Mixer(0x6a09e667f3bcc908);

    /// The seed of the stream named by `parts` (e.g. `[seed, epoch, batch, purpose]`).
    pub fn mix(self, parts: &[u64]) -> u64 {
        parts.iter().fold(self.0, |h, &p| {
            let mut z = (h ^ p).wrapping_add(0x9e3779b97f4a7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            z ^ (z >> 31)
        })
    }
}
