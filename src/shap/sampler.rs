//! Coalition samplers. The Shapley-kernel sampler draws |S| = k ∈ 1…P−1 with probability
//! ∝ (P−1)/(k(P−k)) and then S uniformly among the k-subsets: that makes plain averages over
//! samples equal the Shapley-kernel-weighted sums of KernelSHAP's regression (Covert & Lee 2021).
//! Paired sampling appends each mask's complement. The uniform sampler (|S| uniform on 0…P,
//! S uniform given |S|) is FastSHAP's surrogate-training distribution.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Probabilities of the coalition sizes 1…P−1 (index k−1) under the Shapley kernel.
pub fn shapley_size_probs(players: usize) -> Vec<f64> {
    let p = players as f64;
    let w: Vec<f64> = (1..players)
        .map(|k| (p - 1.0) / (k as f64 * (p - k as f64)))
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Writes a uniformly random k-subset of 0…P−1 as a 0/1 row (partial Fisher–Yates).
fn random_subset(rng: &mut StdRng, perm: &mut [usize], k: usize, row: &mut [f32]) {
    let p = perm.len();
    for i in 0..k {
        let j = rng.random_range(i..p);
        perm.swap(i, j);
    }
    row.fill(0.0);
    for &i in &perm[..k] {
        row[i] = 1.0;
    }
}

pub struct ShapleySampler {
    players: usize,
    cdf: Vec<f64>,
    perm: Vec<usize>,
    rng: StdRng,
}

impl ShapleySampler {
    pub fn new(players: usize, seed: u64) -> ShapleySampler {
        assert!(players >= 2, "the Shapley kernel needs at least 2 players");
        let mut acc = 0.0;
        let cdf = shapley_size_probs(players)
            .into_iter()
            .map(|q| {
                acc += q;
                acc
            })
            .collect();
        ShapleySampler {
            players,
            cdf,
            perm: (0..players).collect(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// One coalition size k ∈ 1…P−1.
    pub fn size(&mut self) -> usize {
        let u: f64 = self.rng.random();
        // partition_point: the first k−1 whose cdf exceeds u; clamp guards rounding at the top.
        (self.cdf.partition_point(|&c| c <= u) + 1).min(self.players - 1)
    }

    /// `pairs` mask pairs, 2·pairs rows of P: each sampled mask followed by its complement.
    pub fn sample_paired(&mut self, pairs: usize) -> Vec<f32> {
        let p = self.players;
        let mut out = vec![0f32; 2 * pairs * p];
        for pair in out.chunks_mut(2 * p) {
            let k = self.size();
            let (a, b) = pair.split_at_mut(p);
            random_subset(&mut self.rng, &mut self.perm, k, a);
            for (c, &x) in b.iter_mut().zip(a.iter()) {
                *c = 1.0 - x;
            }
        }
        out
    }
}

/// |S| uniform on 0…P, S uniform given |S|.
pub struct UniformSizeSampler {
    players: usize,
    perm: Vec<usize>,
    rng: StdRng,
}

impl UniformSizeSampler {
    pub fn new(players: usize, seed: u64) -> UniformSizeSampler {
        UniformSizeSampler {
            players,
            perm: (0..players).collect(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// `n` masks, n×P.
    pub fn sample(&mut self, n: usize) -> Vec<f32> {
        let p = self.players;
        let mut out = vec![0f32; n * p];
        for row in out.chunks_mut(p) {
            let k = self.rng.random_range(0..=p);
            random_subset(&mut self.rng, &mut self.perm, k, row);
        }
        out
    }
}
