//! Cooperative games: a value function v(S) over P players with K outputs (one per class).
//! Coalitions are passed as N×P row-major 0/1 masks (1 = player present); values come back N×K.

use crate::ops::masking::apply_player_mask;
pub use crate::train::model::CoalitionLogits;
use crate::{Tensor, no_grad};
use anyhow::{Result, bail};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub trait Game {
    fn players(&self) -> usize;
    fn outputs(&self) -> usize;
    /// `masks`: N×P, 0/1 → N×K values.
    fn eval(&self, masks: &[f32]) -> Result<Vec<f32>>;
}

/// How the surrogate's logits become the game's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Link {
    /// log p (FastSHAP explains log-probabilities by default).
    #[default]
    LogSoftmax,
    /// p.
    Softmax,
    /// log p − log(1 − p), the log-odds.
    Logit,
    /// The raw logits.
    Identity,
}

impl Link {
    /// Applies the link to one row of logits, in f64 with log-sum-exp so that p ≈ 1 keeps
    /// finite log-odds (log(1 − p) is taken as the log-sum-exp of the other classes).
    pub fn apply(self, logits: &[f32], out: &mut [f32]) {
        let lse = |skip: Option<usize>| -> f64 {
            let it = || {
                logits
                    .iter()
                    .enumerate()
                    .filter(move |(j, _)| Some(*j) != skip)
                    .map(|(_, &x)| x as f64)
            };
            let m = it().fold(f64::NEG_INFINITY, f64::max);
            if m == f64::NEG_INFINITY {
                return m;
            }
            m + it().map(|x| (x - m).exp()).sum::<f64>().ln()
        };
        match self {
            Link::Identity => out.copy_from_slice(logits),
            Link::LogSoftmax | Link::Softmax => {
                let z = lse(None);
                for (o, &x) in out.iter_mut().zip(logits) {
                    let lp = x as f64 - z;
                    *o = if self == Link::Softmax { lp.exp() } else { lp } as f32;
                }
            }
            Link::Logit => {
                for (j, o) in out.iter_mut().enumerate() {
                    *o = (logits[j] as f64 - lse(Some(j))) as f32;
                }
            }
        }
    }
}

/// A surrogate model explained at one image: v(S) = link(surrogate(image masked to S)).
pub struct SurrogateGame<'a> {
    surrogate: Surrogate<'a>,
    /// [1, C, H, W], normalised (masked superpixels become 0).
    pub image: Tensor,
    pub superpixel: usize,
    pub link: Link,
    /// Masks per surrogate call.
    pub batch: usize,
    classes: usize,
}

/// Logits [N, K] of masked inputs [N, C+1, H, W].
pub type MaskedLogits<'a> = Box<dyn Fn(&Tensor) -> Result<Tensor> + 'a>;

/// How a [`SurrogateGame`] gets the logits of a chunk of coalitions.
enum Surrogate<'a> {
    /// Logits [N, K] of masked inputs [N, C+1, H, W]; the game masks the image
    /// ([`apply_player_mask`]).
    Masked(MaskedLogits<'a>),
    /// Logits [N, K] of N host rows of P mask values, from a surrogate prepared for this image
    /// (e.g. `models::VitCoalitions`, which folds the masking into its first layer).
    Coalitions(CoalitionLogits<'a>),
}

impl<'a> SurrogateGame<'a> {
    /// A game over a surrogate of masked images. Probes the surrogate once (all players
    /// present) to learn the number of classes.
    pub fn new(
        surrogate: &'a dyn Fn(&Tensor) -> Result<Tensor>,
        image: Tensor,
        superpixel: usize,
        link: Link,
        batch: usize,
    ) -> Result<SurrogateGame<'a>> {
        SurrogateGame::masked(Box::new(surrogate), image, superpixel, link, batch)
    }

    /// [`SurrogateGame::new`] with the surrogate boxed (e.g. a closure over a model).
    pub fn masked(
        surrogate: MaskedLogits<'a>,
        image: Tensor,
        superpixel: usize,
        link: Link,
        batch: usize,
    ) -> Result<SurrogateGame<'a>> {
        SurrogateGame::with(Surrogate::Masked(surrogate), image, superpixel, link, batch)
    }

    /// A game over a surrogate that takes the coalitions themselves (rows of P mask values)
    /// and must give the logits the masked-image surrogate gives for `image` masked to them.
    pub fn from_coalitions(
        logits: CoalitionLogits<'a>,
        image: Tensor,
        superpixel: usize,
        link: Link,
        batch: usize,
    ) -> Result<SurrogateGame<'a>> {
        SurrogateGame::with(
            Surrogate::Coalitions(logits),
            image,
            superpixel,
            link,
            batch,
        )
    }

    fn with(
        surrogate: Surrogate<'a>,
        image: Tensor,
        superpixel: usize,
        link: Link,
        batch: usize,
    ) -> Result<SurrogateGame<'a>> {
        let s = image.shape();
        if s.len() != 4
            || s[0] != 1
            || superpixel == 0
            || !s[2].is_multiple_of(superpixel)
            || !s[3].is_multiple_of(superpixel)
        {
            bail!("SurrogateGame: image must be [1, C, H, W] with H, W divisible by s, got {s:?}");
        }
        let mut g = SurrogateGame {
            surrogate,
            image,
            superpixel,
            link,
            batch: batch.max(1),
            classes: 0,
        };
        let p = g.players();
        let _ng = no_grad();
        let logits = g.logits(&vec![1.0; p])?;
        g.classes = logits.dim(-1);
        Ok(g)
    }

    /// The surrogate's logits [N, K] of N mask rows.
    pub fn logits(&self, masks: &[f32]) -> Result<Tensor> {
        let n = masks.len() / self.players();
        match &self.surrogate {
            Surrogate::Masked(f) => {
                let m = Tensor::from_slice(masks, &[n, self.players()])?;
                f(&apply_player_mask(&self.image, &m, self.superpixel)?)
            }
            Surrogate::Coalitions(f) => f(masks),
        }
    }
}

impl Game for SurrogateGame<'_> {
    fn players(&self) -> usize {
        let s = self.image.shape();
        (s[2] / self.superpixel) * (s[3] / self.superpixel)
    }
    fn outputs(&self) -> usize {
        self.classes
    }
    fn eval(&self, masks: &[f32]) -> Result<Vec<f32>> {
        let (p, k) = (self.players(), self.classes);
        if !masks.len().is_multiple_of(p) {
            bail!(
                "SurrogateGame: {} mask values are not rows of {p}",
                masks.len()
            );
        }
        let _ng = no_grad();
        let mut out = vec![0f32; masks.len() / p * k];
        for (chunk, dst) in masks
            .chunks(self.batch * p)
            .zip(out.chunks_mut(self.batch * k))
        {
            let n = chunk.len() / p;
            let logits = self.logits(chunk)?;
            if logits.shape() != [n, k] {
                bail!(
                    "SurrogateGame: surrogate gave {:?}, expected [{n}, {k}]",
                    logits.shape()
                );
            }
            let logits = logits.to_vec()?;
            for (l, o) in logits.chunks(k).zip(dst.chunks_mut(k)) {
                self.link.apply(l, o);
            }
        }
        Ok(out)
    }
}

/// Coalition index of a 0/1 mask row: bit i set when player i is present.
pub fn coalition_index(mask: &[f32]) -> usize {
    mask.iter()
        .enumerate()
        .filter(|&(_, &m)| m > 0.5)
        .fold(0, |acc, (i, _)| acc | (1 << i))
}

/// The mask row of coalition index `idx` (inverse of [`coalition_index`]).
pub fn coalition_mask(idx: usize, players: usize, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate().take(players) {
        *o = ((idx >> i) & 1) as f32;
    }
}

/// Additive game v_k(S) = Σ_{i∈S} w_{k,i} x_i + b_k, whose Shapley values are w_{k,i} x_i.
pub struct LinearGame {
    pub players: usize,
    pub outputs: usize,
    /// K×P.
    pub w: Vec<f64>,
    /// P.
    pub x: Vec<f64>,
    /// K.
    pub b: Vec<f64>,
}

impl LinearGame {
    pub fn random(players: usize, outputs: usize, seed: u64) -> LinearGame {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut r = |n: usize| {
            (0..n)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect::<Vec<f64>>()
        };
        LinearGame {
            players,
            outputs,
            w: r(players * outputs),
            x: r(players),
            b: r(outputs),
        }
    }
    /// φ_{i,k} = w_{k,i} x_i, laid out P×K.
    pub fn shapley(&self) -> Vec<f64> {
        let (p, k) = (self.players, self.outputs);
        (0..p * k)
            .map(|ik| self.w[(ik % k) * p + ik / k] * self.x[ik / k])
            .collect()
    }
}

impl Game for LinearGame {
    fn players(&self) -> usize {
        self.players
    }
    fn outputs(&self) -> usize {
        self.outputs
    }
    fn eval(&self, masks: &[f32]) -> Result<Vec<f32>> {
        let (p, k) = (self.players, self.outputs);
        Ok(masks
            .chunks(p)
            .flat_map(|m| {
                (0..k).map(move |o| {
                    let s: f64 = (0..p)
                        .map(|i| m[i] as f64 * self.w[o * p + i] * self.x[i])
                        .sum();
                    (s + self.b[o]) as f32
                })
            })
            .collect())
    }
}

/// A game given by its full table of 2^P × K values (P ≤ 20), indexed by [`coalition_index`].
pub struct TableGame {
    pub players: usize,
    pub outputs: usize,
    pub values: Vec<f64>,
}

impl TableGame {
    pub fn from_fn(players: usize, outputs: usize, f: impl Fn(usize, usize) -> f64) -> TableGame {
        assert!(
            players <= 20,
            "TableGame holds 2^P values; P = {players} is too many"
        );
        let values = (0..(1usize << players) * outputs)
            .map(|i| f(i / outputs, i % outputs))
            .collect();
        TableGame {
            players,
            outputs,
            values,
        }
    }

    /// Independent uniform values in [−1, 1) for every coalition and output.
    pub fn random(players: usize, outputs: usize, seed: u64) -> TableGame {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = (1usize << players) * outputs;
        let table: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        TableGame::from_fn(players, outputs, |s, k| table[s * outputs + k])
    }

    /// A random game in which each `dummies` player changes nothing (v(S ∪ d) = v(S)) and each
    /// `pairs` (i, j) is symmetric (v(S ∪ i) = v(S ∪ j) for S without i, j): the random table
    /// is read at a canonical coalition with dummies removed and each pair's bits sorted.
    pub fn random_structured(
        players: usize,
        outputs: usize,
        seed: u64,
        dummies: &[usize],
        pairs: &[(usize, usize)],
    ) -> TableGame {
        let base = TableGame::random(players, outputs, seed);
        TableGame::from_fn(players, outputs, |mut s, k| {
            for &d in dummies {
                s &= !(1 << d);
            }
            for &(i, j) in pairs {
                // Only "i present, j absent" differs from its swap; map it to "j present".
                if (s >> i) & 1 == 1 && (s >> j) & 1 == 0 {
                    s = (s & !(1 << i)) | (1 << j);
                }
            }
            base.values[s * outputs + k]
        })
    }

    /// Pointwise a·self + b·other (for linearity checks).
    pub fn combine(&self, a: f64, other: &TableGame, b: f64) -> TableGame {
        assert_eq!((self.players, self.outputs), (other.players, other.outputs));
        TableGame {
            players: self.players,
            outputs: self.outputs,
            values: self
                .values
                .iter()
                .zip(&other.values)
                .map(|(x, y)| a * x + b * y)
                .collect(),
        }
    }
}

impl Game for TableGame {
    fn players(&self) -> usize {
        self.players
    }
    fn outputs(&self) -> usize {
        self.outputs
    }
    fn eval(&self, masks: &[f32]) -> Result<Vec<f32>> {
        let k = self.outputs;
        Ok(masks
            .chunks(self.players)
            .flat_map(|m| {
                let s = coalition_index(m);
                self.values[s * k..(s + 1) * k].iter().map(|&v| v as f32)
            })
            .collect())
    }
}

/// `inner` with only the `free` players in play and the others held at `base` (a 0/1 row of
/// the inner game's players): a smaller game, e.g. to enumerate exactly part of an image.
pub struct RestrictedGame<'a> {
    pub inner: &'a dyn Game,
    pub free: Vec<usize>,
    pub base: Vec<f32>,
}

impl Game for RestrictedGame<'_> {
    fn players(&self) -> usize {
        self.free.len()
    }
    fn outputs(&self) -> usize {
        self.inner.outputs()
    }
    fn eval(&self, masks: &[f32]) -> Result<Vec<f32>> {
        let p = self.free.len();
        if self.base.len() != self.inner.players() || !masks.len().is_multiple_of(p.max(1)) {
            bail!("RestrictedGame: base or masks do not match the players");
        }
        let mut full = Vec::with_capacity(masks.len() / p * self.base.len());
        for row in masks.chunks(p) {
            let start = full.len();
            full.extend_from_slice(&self.base);
            for (&i, &m) in self.free.iter().zip(row) {
                full[start + i] = m;
            }
        }
        self.inner.eval(&full)
    }
}
