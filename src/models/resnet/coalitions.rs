//! The ResNet surrogate evaluated on coalitions instead of masked images: the game's fast path
//! (see `models::VitCoalitions` for the ViT's).
//!
//! Inference only, so every BatchNorm (running statistics) is an affine map per channel and is
//! folded into the convolution before it: weights scaled per output channel, the shift as the
//! conv's bias, the ReLU applied as the conv stores (`ops::conv::conv2d_bias_relu`). And the
//! stem is linear in the masked input, hence in the mask values: for one image its output for
//! any coalition is relu([m, 1]·G), G's row p the (folded) stem of player p alone (image and
//! mask channel restricted to its superpixel), its last row the stem's bias at every pixel. One
//! [N, P+1]·[P+1, C·H·W] matmul replaces masking and the 4-channel stem, the conv shape the
//! kernels handle worst — where it does fewer multiply-adds than the stem (P + 1 against
//! kh·kw·Cin per output, twice that for the masking pass): at superpixel 2 (P = 256) the image
//! is masked and the folded stem runs instead.

use super::{BasicBlock, ResNet};
use crate::Tensor;
use crate::nn::{BatchNorm2d, Conv2d};
use crate::ops::conv::{conv2d_bias_relu, conv2d_raw};
use crate::ops::masking::apply_player_mask;
use anyhow::{Result, bail, ensure};

/// A ResNet prepared for one image: logits of coalitions of its superpixels.
pub struct ResNetCoalitions<'a> {
    net: &'a ResNet,
    players: usize,
    first: Stem,
    blocks: Vec<FoldedBlock>,
}

/// How the stem's output is made.
enum Stem {
    /// relu([m, 1]·G), G [P+1, C·H·W]: per player its share of the stem's output, then the
    /// stem's bias; and that output's shape [C, H, W].
    Coalitions(Tensor, [usize; 3]),
    /// The folded stem on the image masked to each coalition.
    Masked(Tensor, usize, Folded),
}

/// A convolution with its BatchNorm folded in: weight, bias, stride, padding.
struct Folded(Tensor, Tensor, usize, usize);

struct FoldedBlock {
    conv1: Folded,
    conv2: Folded,
    shortcut: Option<Folded>,
}

impl Folded {
    /// w'[o] = w[o]·γ_o/√(var_o + eps), b' = β − mean·γ/√(var + eps) (+ the conv's own bias,
    /// scaled alike), in f64.
    fn new(conv: &Conv2d, bn: &BatchNorm2d) -> Result<Folded> {
        let host = |t: &Tensor| -> Result<Vec<f64>> {
            Ok(t.to_vec()?.into_iter().map(f64::from).collect())
        };
        let (g, b, mean, var) = (
            host(&bn.weight)?,
            host(&bn.bias)?,
            host(&bn.running_mean)?,
            host(&bn.running_var)?,
        );
        let cout = g.len();
        let own = match &conv.bias {
            Some(t) => host(t)?,
            None => vec![0.0; cout],
        };
        let w = host(&conv.weight)?;
        let per = w.len() / cout;
        let scale: Vec<f64> = (0..cout)
            .map(|o| g[o] / (var[o] + bn.eps as f64).sqrt())
            .collect();
        let w: Vec<f32> = w
            .iter()
            .enumerate()
            .map(|(i, &v)| (v * scale[i / per]) as f32)
            .collect();
        let bias: Vec<f32> = (0..cout)
            .map(|o| (b[o] + (own[o] - mean[o]) * scale[o]) as f32)
            .collect();
        Ok(Folded(
            Tensor::from_slice(&w, conv.weight.shape())?,
            Tensor::from_slice(&bias, &[cout])?,
            conv.stride,
            conv.padding,
        ))
    }

    fn forward(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let Folded(w, b, s, p) = self;
        if relu {
            conv2d_bias_relu(x, w, b, *s, *p)
        } else {
            conv2d_raw(x, w, Some(b), *s, *p)
        }
    }
}

impl FoldedBlock {
    fn new(b: &BasicBlock) -> Result<FoldedBlock> {
        Ok(FoldedBlock {
            conv1: Folded::new(&b.conv1, &b.bn1)?,
            conv2: Folded::new(&b.conv2, &b.bn2)?,
            shortcut: match &b.shortcut {
                Some((c, bn)) => Some(Folded::new(c, bn)?),
                None => None,
            },
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.conv2.forward(&self.conv1.forward(x, true)?, false)?;
        let skip = match &self.shortcut {
            Some(f) => f.forward(x, false)?,
            None => x.clone(),
        };
        out.add_relu(&skip)
    }
}

impl ResNet {
    /// The coalition evaluator for `image` [1, in_channels − 1, 32, 32] with superpixels of
    /// side `s`: [`ResNetCoalitions::logits`] of masks [N, P] equals this ResNet's eval-mode
    /// logits of `apply_player_mask(image, masks, s)`. Inference only (call under `no_grad`).
    pub fn coalitions(&self, image: &Tensor, s: usize) -> Result<ResNetCoalitions<'_>> {
        let is = image.shape();
        ensure!(
            is.len() == 4 && is[0] == 1 && is[1] + 1 == self.config.in_channels,
            "ResNet coalitions: the image must be [1, {}, H, W] for this surrogate, got {is:?}",
            self.config.in_channels - 1
        );
        ensure!(
            s > 0 && is[2].is_multiple_of(s) && is[3].is_multiple_of(s),
            "ResNet coalitions: superpixel {s} does not divide the image {is:?}"
        );
        let players = (is[2] / s) * (is[3] / s);
        let stem = Folded::new(&self.conv1, &self.bn1)?;
        let w = stem.0.shape();
        let first = if players < 2 * w[1] * w[2] * w[3] {
            coalition_stem(image, s, players, &stem)?
        } else {
            Stem::Masked(image.clone(), s, stem)
        };
        let blocks = self
            .layers
            .iter()
            .flatten()
            .map(FoldedBlock::new)
            .collect::<Result<_>>()?;
        Ok(ResNetCoalitions {
            net: self,
            players,
            first,
            blocks,
        })
    }
}

/// G [P+1, C·H·W] of the folded stem: each player alone (no bias), then the bias at every pixel.
fn coalition_stem(image: &Tensor, s: usize, players: usize, stem: &Folded) -> Result<Stem> {
    let mut eye = vec![0f32; players * players];
    for p in 0..players {
        eye[p * players + p] = 1.0;
    }
    let alone = apply_player_mask(image, &Tensor::from_slice(&eye, &[players, players])?, s)?;
    let rows = conv2d_raw(&alone, &stem.0, None, stem.2, stem.3)?;
    let (c, h, w) = (rows.dim(1), rows.dim(2), rows.dim(3));
    let konst = stem.1.reshape(&[1, c, 1, 1])?.broadcast_to(&[1, c, h, w])?;
    let g = crate::ops::plumbing::concat(
        &[
            &rows.reshape(&[players, c * h * w])?,
            &konst.reshape(&[1, c * h * w])?,
        ],
        0,
    )?;
    Ok(Stem::Coalitions(g, [c, h, w]))
}

impl ResNetCoalitions<'_> {
    pub fn players(&self) -> usize {
        self.players
    }

    /// `masks`: N rows of P values (0 hides a superpixel; fractions scale it) → logits [N, K].
    pub fn logits(&self, masks: &[f32]) -> Result<Tensor> {
        let p = self.players;
        if masks.is_empty() || !masks.len().is_multiple_of(p) {
            bail!(
                "ResNet coalitions: {} mask values are not rows of {p}",
                masks.len()
            );
        }
        let n = masks.len() / p;
        let mut out = match &self.first {
            Stem::Coalitions(g, [c, h, w]) => {
                let mut with_one = Vec::with_capacity(n * (p + 1));
                for row in masks.chunks(p) {
                    with_one.extend_from_slice(row);
                    with_one.push(1.0);
                }
                let m = Tensor::from_slice(&with_one, &[n, p + 1])?;
                m.matmul(g)?.relu()?.reshape(&[n, *c, *h, *w])?
            }
            Stem::Masked(image, s, stem) => {
                let m = Tensor::from_slice(masks, &[n, p])?;
                stem.forward(&apply_player_mask(image, &m, *s)?, true)?
            }
        };
        for block in &self.blocks {
            out = block.forward(&out)?;
        }
        let out = out.avg_pool2d(4, 4, 0)?;
        self.net.linear.forward(&out.reshape(&[n, usize::MAX])?)
    }
}
