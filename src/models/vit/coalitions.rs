//! The ViT surrogate evaluated on coalitions instead of masked images: the game's fast path
//! (`shap::SurrogateGame`'s coalition evaluator).
//!
//! The surrogate's input is the image times the upsampled mask, plus the mask as a channel;
//! its patch embedding is linear in that input, hence linear in the mask values. So for one
//! image the embedded tokens of any coalition are h0 = [m, 1]·G, with G's row p the embedding
//! of player p alone (image and mask channel restricted to its superpixel, no bias) and G's last
//! row the tokens of the empty input plus the CLS token and position embeddings. One
//! [N, P+1]·[P+1, T·D] matmul replaces masking, patchifying and the [N·T, p²·C]·[p²·C, D]
//! embedding, for any superpixel and patch sizes, and fractional masks too — where it is the
//! cheaper of the two: G is dense, so with many players per patch (superpixel 2, patch 4:
//! P = 256) the plain masked embedding does fewer multiply-adds and is kept.
//!
//! Only the CLS token's output is read, so the last block runs for it alone: its attention is
//! one query over the LayerNorm'd tokens, and with the query·key and value·output projections
//! and the LayerNorm's γ, β multiplied out (below, in f64 once per image) it is one
//! `ops::softmax_pool` over the block's input rows (standardised in the kernel, never stored)
//! and one small Linear; its MLP runs on one token per image. In a one-block ViT the CLS
//! token entering that block is the same for every coalition (cls + pos), so its query is a
//! constant and its residual part of the Linear's bias. Earlier blocks (depth > 1) run in full.

use super::Vit;
use crate::Tensor;
use crate::nn::{Block, QkvLayout};
use crate::ops::masking::apply_player_mask;
use crate::ops::matmul::linear;
use crate::ops::plumbing::concat;
use crate::ops::softmax_pool::softmax_pool;
use anyhow::{Result, bail, ensure};

/// A ViT prepared for one image: logits of coalitions of its superpixels.
pub struct VitCoalitions<'a> {
    players: usize,
    first: FirstLayer,
    tail: ClsTail<'a>,
}

/// Everything after the first layer, read for the CLS token only: the blocks but the last in
/// full, the last one folded ([`ClsAttention`]), the final norm and the head. Independent of
/// the image, so masked images of any batch can go through it too ([`Vit::cls_logits`]).
pub struct ClsTail<'a> {
    vit: &'a Vit,
    /// The last block's attention for the CLS token, folded (None for a ViT without blocks).
    cls: Option<ClsAttention>,
}

/// How the tokens entering the first block are made.
enum FirstLayer {
    /// [m, 1]·G, G [P+1, T·D]: per player its tokens' share, then the constant row.
    Coalitions(Tensor),
    /// The plain embedding of the image masked to each coalition.
    Masked(Tensor, usize),
}

/// The last block's attention for the CLS token, folded. Scores are q'·ẑ_t with ẑ_t token t
/// standardised (γ, β of norm1 moved out: γ into q', β only shifts a head's scores alike), the
/// pooled ū = Σ_t a_t ẑ_t, and the output (after the output projection) ū·W_voᵀ + b_vo.
struct ClsAttention {
    query: Query,
    w_vo: Tensor,
    b_vo: Tensor,
    /// The CLS token is the same for every coalition: its residual is in `b_vo`.
    constant_cls: bool,
    eps: f32,
}

enum Query {
    /// q' [1, H, D] for every coalition (the CLS token entering the block is a constant).
    Constant(Tensor),
    /// q' = LN1(cls)·Wᵀ + b per coalition, [H·D, D] and [H·D].
    Linear(Tensor, Tensor),
}

impl Vit {
    /// The coalition evaluator for `image` [1, in_channels − 1, H, W] with superpixels of side
    /// `s`: [`VitCoalitions::logits`] of masks [N, P] equals this ViT's logits of
    /// `apply_player_mask(image, masks, s)`. Inference only (call under `no_grad`).
    pub fn coalitions(&self, image: &Tensor, s: usize) -> Result<VitCoalitions<'_>> {
        let c = &self.config;
        let is = image.shape();
        ensure!(
            is.len() == 4
                && is[0] == 1
                && is[1] + 1 == c.in_channels
                && is[2] == c.image
                && is[3] == c.image,
            "ViT coalitions: the image must be [1, {}, {}, {}] for this surrogate, got {is:?}",
            c.in_channels - 1,
            c.image,
            c.image
        );
        ensure!(
            s > 0 && c.image.is_multiple_of(s),
            "ViT coalitions: superpixel {s} does not divide the {}-pixel image",
            c.image
        );
        let players = (c.image / s).pow(2);
        let t = c.tokens();
        // Multiply-adds per coalition: [m, 1]·G against the embedding (masking and patchify
        // move about as much again, hence the 2).
        let patch_in = c.patch * c.patch * (c.in_channels);
        let first = if (players + 1) * t <= 2 * (t - 1) * patch_in {
            FirstLayer::Coalitions(self.coalition_embedding(image, s, players)?)
        } else {
            FirstLayer::Masked(image.clone(), s)
        };
        Ok(VitCoalitions {
            players,
            first,
            tail: self.cls_tail()?,
        })
    }

    /// Whether [`Vit::cls_tail`] can fold this ViT's last block (separate Q, K, V projections).
    pub fn folds_last_block(&self) -> bool {
        self.blocks
            .last()
            .is_none_or(|b| b.attn.layout == QkvLayout::Separate)
    }

    /// Logits [B, classes] of images x [B, in_channels, H, W], equal to [`Vit::forward`]'s up to
    /// rounding, with the last block run for the CLS token alone. Inference only (call under
    /// `no_grad`); the fold is redone per call, so weights may change between calls.
    pub fn cls_logits(&self, x: &Tensor) -> Result<Tensor> {
        self.cls_tail()?.logits(self.embed(x)?)
    }

    /// The folded tail of this ViT (reads its weights back once, in f64).
    pub fn cls_tail(&self) -> Result<ClsTail<'_>> {
        let d = self.config.dim;
        // With one block the CLS token entering it is cls + pos[0] for every coalition.
        let constant_cls = if self.blocks.len() == 1 {
            let host = |t: &Tensor| -> Result<Vec<f64>> {
                Ok(t.to_vec()?.into_iter().map(f64::from).collect())
            };
            let (cls, pos) = (host(&self.cls_token)?, host(&self.pos_emb)?);
            Some((0..d).map(|i| cls[i] + pos[i]).collect::<Vec<f64>>())
        } else {
            None
        };
        let cls = match self.blocks.last() {
            Some(b) => Some(ClsAttention::fold(b, constant_cls)?),
            None => None,
        };
        Ok(ClsTail { vit: self, cls })
    }

    /// G [P+1, T·D]: each player alone, its share of every patch token (no bias), then the
    /// tokens of the empty input (bias, CLS token, positions).
    fn coalition_embedding(&self, image: &Tensor, s: usize, players: usize) -> Result<Tensor> {
        let (t, d) = (self.config.tokens(), self.config.dim);
        let mut eye = vec![0f32; players * players];
        for p in 0..players {
            eye[p * players + p] = 1.0;
        }
        let alone = apply_player_mask(image, &Tensor::from_slice(&eye, &[players, players])?, s)?;
        let tokens = linear(&alone.patchify(self.config.patch)?, &self.emb.weight, None)?;
        let rows = concat(&[&Tensor::zeros(&[players, 1, d])?, &tokens], 1)?;
        let bias = match &self.emb.bias {
            Some(b) => b.broadcast_to(&[1, t - 1, d])?,
            None => Tensor::zeros(&[1, t - 1, d])?,
        };
        let konst = concat(&[&self.cls_token, &bias], 1)?.add(&self.pos_emb)?;
        concat(
            &[
                &rows.reshape(&[players, t * d])?,
                &konst.reshape(&[1, t * d])?,
            ],
            0,
        )
    }
}

impl VitCoalitions<'_> {
    pub fn players(&self) -> usize {
        self.players
    }

    /// `masks`: N rows of P values (0 hides a superpixel; fractions scale it) → logits [N, K].
    pub fn logits(&self, masks: &[f32]) -> Result<Tensor> {
        let p = self.players;
        if masks.is_empty() || !masks.len().is_multiple_of(p) {
            bail!(
                "ViT coalitions: {} mask values are not rows of {p}",
                masks.len()
            );
        }
        let n = masks.len() / p;
        let c = &self.tail.vit.config;
        let h = match &self.first {
            FirstLayer::Coalitions(g) => {
                let mut with_one = Vec::with_capacity(n * (p + 1));
                for row in masks.chunks(p) {
                    with_one.extend_from_slice(row);
                    with_one.push(1.0);
                }
                let m = Tensor::from_slice(&with_one, &[n, p + 1])?;
                m.matmul(g)?.reshape(&[n, c.tokens(), c.dim])?
            }
            FirstLayer::Masked(image, s) => {
                let m = Tensor::from_slice(masks, &[n, p])?;
                self.tail.vit.embed(&apply_player_mask(image, &m, *s)?)?
            }
        };
        self.tail.logits(h)
    }
}

impl ClsTail<'_> {
    /// Logits [N, K] from the tokens entering the first block, h [N, T, D].
    pub fn logits(&self, mut h: Tensor) -> Result<Tensor> {
        let n = h.dim(0);
        let c = &self.vit.config;
        let blocks = &self.vit.blocks;
        let Some((last, first)) = blocks.split_last() else {
            let cls = h.narrow(1, 0, 1)?.reshape(&[n, c.dim])?;
            return self.vit.head.forward(&self.vit.norm.forward(&cls)?);
        };
        for block in first {
            h = block.forward(&h)?;
        }
        let cls = self.cls.as_ref().expect("a ViT with blocks folds its last");
        let x = cls.forward(last, &h)?;
        self.vit.head.forward(&self.vit.norm.forward(&x)?)
    }
}

impl ClsAttention {
    /// Multiplies out the last block's projections in f64 (per head h with rows j ∈ h of the
    /// [out, in] weights, scale 1/√Dh, norm1's γ, β):
    ///   W_q'[h·D + i, l] = γ_i scale Σ_j W_k[j, i] W_q[j, l],   b_q'[h·D + i] = γ_i scale Σ_j b_q[j] W_k[j, i]
    ///   W_vo[o, h·D + i] = γ_i Σ_j W_o[o, j] W_v[j, i],
    ///   b_vo[o] = Σ_j W_o[o, j] (b_v[j] + Σ_i W_v[j, i] β_i) + b_o[o] (+ the constant CLS token)
    /// and with a constant CLS token x (`constant_cls`), q' = W_q'·LN1(x) + b_q' once.
    fn fold(block: &Block, constant_cls: Option<Vec<f64>>) -> Result<ClsAttention> {
        let a = &block.attn;
        ensure!(
            a.layout == QkvLayout::Separate,
            "ViT coalitions: the fused-QKV layout is not folded"
        );
        let (d, heads) = (a.dim, a.heads);
        let dh = d / heads;
        let host = |t: &Tensor| -> Result<Vec<f64>> {
            Ok(t.to_vec()?.into_iter().map(f64::from).collect())
        };
        let bias = |l: &crate::nn::Linear| -> Result<Vec<f64>> {
            l.bias.as_ref().map_or(Ok(vec![0.0; d]), host)
        };
        let (wq, wk, wv) = (
            host(&a.proj_in[0].weight)?,
            host(&a.proj_in[1].weight)?,
            host(&a.proj_in[2].weight)?,
        );
        let (bq, bv) = (bias(&a.proj_in[0])?, bias(&a.proj_in[2])?);
        let (wo, bo) = (host(&a.proj_out.weight)?, bias(&a.proj_out)?);
        let (gamma, beta) = (host(&block.norm1.weight)?, host(&block.norm1.bias)?);
        let eps = block.norm1.eps;
        let scale = 1.0 / (dh as f64).sqrt();
        let hd = heads * d;
        let (mut w_q, mut b_q) = (vec![0f64; hd * d], vec![0f64; hd]);
        let (mut w_vo, mut b_vo) = (vec![0f64; d * hd], bo);
        for h in 0..heads {
            for j in h * dh..(h + 1) * dh {
                for i in 0..d {
                    let k = gamma[i] * scale * wk[j * d + i];
                    b_q[h * d + i] += bq[j] * k;
                    for l in 0..d {
                        w_q[(h * d + i) * d + l] += k * wq[j * d + l];
                    }
                }
                let vb = bv[j] + (0..d).map(|i| wv[j * d + i] * beta[i]).sum::<f64>();
                for o in 0..d {
                    let w = wo[o * d + j];
                    b_vo[o] += w * vb;
                    for i in 0..d {
                        w_vo[o * hd + h * d + i] += w * wv[j * d + i] * gamma[i];
                    }
                }
            }
        }
        let dev = |v: &[f64], shape: &[usize]| {
            Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape)
        };
        let query = match &constant_cls {
            Some(x) => {
                // LN1 of the constant token, in f64, then its queries.
                let mean = x.iter().sum::<f64>() / d as f64;
                let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
                let ln: Vec<f64> = (0..d)
                    .map(|i| (x[i] - mean) / (var + eps as f64).sqrt() * gamma[i] + beta[i])
                    .collect();
                let q: Vec<f64> = (0..hd)
                    .map(|r| b_q[r] + (0..d).map(|l| w_q[r * d + l] * ln[l]).sum::<f64>())
                    .collect();
                for o in 0..d {
                    b_vo[o] += x[o];
                }
                Query::Constant(dev(&q, &[1, heads, d])?)
            }
            None => Query::Linear(dev(&w_q, &[hd, d])?, dev(&b_q, &[hd])?),
        };
        Ok(ClsAttention {
            query,
            w_vo: dev(&w_vo, &[d, hd])?,
            b_vo: dev(&b_vo, &[d])?,
            constant_cls: constant_cls.is_some(),
            eps,
        })
    }

    /// The last block's output for the CLS token, [N, D], from its input tokens h [N, T, D].
    fn forward(&self, block: &Block, h: &Tensor) -> Result<Tensor> {
        let (n, d) = (h.dim(0), h.dim(2));
        let heads = block.attn.heads;
        let cls = || h.narrow(1, 0, 1)?.reshape(&[n, d]);
        let q = match &self.query {
            Query::Constant(q) => q.clone(),
            Query::Linear(w, b) => {
                linear(&block.norm1.forward(&cls()?)?, w, Some(b))?.reshape(&[n, heads, d])?
            }
        };
        let u = softmax_pool(h, &q, Some(self.eps))?.reshape(&[n, heads * d])?;
        let attn = linear(&u, &self.w_vo, Some(&self.b_vo))?;
        let x = if self.constant_cls {
            attn
        } else {
            cls()?.add(&attn)?
        };
        x.add(&block.mlp.forward(&block.norm2.forward(&x)?)?)
    }
}
