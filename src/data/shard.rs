//! `explain --shard K/N`: a list of images cut into N contiguous runs of nearly equal length,
//! so N jobs (e.g. a SLURM array) explain one list between them and their outputs join in order.

use anyhow::{Result, ensure};

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` with 0 ≤ K < N; the error names `--shard`.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || anyhow::anyhow!("--shard {s:?} is not K/N with 0 ≤ K < N (e.g. 0/4 … 3/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        ensure!(count > 0 && index < count, bad());
        Ok(Shard { index, count })
    }

    /// The range of `len` items this shard explains: contiguous, sizes differing by at most 1.
    pub fn range(self, len: usize) -> std::ops::Range<usize> {
        let at = |k: usize| (k as u128 * len as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }

    /// The file-name suffix of this shard's summary, gallery and grid: `.shard-K-of-N`.
    pub fn suffix(self) -> String {
        format!(".shard-{}-of-{}", self.index, self.count)
    }
}
