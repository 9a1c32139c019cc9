//! The ViT surrogate evaluated on coalitions instead of masked images: the game's fast path
//! (`shap::SurrogateGame`'s coalition evaluator).
//!
//! The surrogate's input is the image times the upsampled mask, plus the mask as a channel;
//! its patch embedding is linear in that input, hence linear in the mask values. So for one
//! image the embedded tokens of any coalition are h0 = [m, 1]·G, with G's row p the embedding
//! of player p alone (image and mask channel restricted to its superpixel, no bias) and G's last
//! row the tokens of the empty input plus the CLS token and position embeddings. One
//! [N, P+1]·[P+1, T·D] matmul replaces masking, patchifying and the [N·T, p²·C]·[p²·C, D]
//! embedding, for any superpixel and patch sizes, and fractional masks too.
//!
//! Only the CLS token's output is read, so the last block runs for it alone: its attention is
//! one query over the LayerNorm'd tokens, and with the query·key and value·output projections
//! multiplied out (below, in f64 once per image) it is `ops::softmax_pool` between two small
//! Linears; its MLP runs on one token per image. Earlier blocks (depth > 1) run in full.

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
    vit: &'a Vit,
    players: usize,
    /// [P+1, T·D]: per player its tokens' share, then the constant row.
    g: Tensor,
    /// The last block's attention for the CLS token, folded (None for a ViT without blocks).
    cls: Option<ClsAttention>,
}

/// x·W_qkᵀ + b_qk is q̃ [N, H·D], the CLS query pulled back through each head's key projection
/// (its bias only shifts every score of a head alike, so it drops out of the softmax); u·W_voᵀ +
/// b_vo is the attention output after the output projection, from the pooled rows u [N, H·D].
struct ClsAttention {
    w_qk: Tensor,
    b_qk: Tensor,
    w_vo: Tensor,
    b_vo: Tensor,
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
        let (t, d) = (c.tokens(), c.dim);
        // Each player alone: its share of every patch token (no bias: that is the constant row).
        let mut eye = vec![0f32; players * players];
        for p in 0..players {
            eye[p * players + p] = 1.0;
        }
        let alone = apply_player_mask(image, &Tensor::from_slice(&eye, &[players, players])?, s)?;
        let tokens = linear(&alone.patchify(c.patch)?, &self.emb.weight, None)?;
        let rows = concat(&[&Tensor::zeros(&[players, 1, d])?, &tokens], 1)?;
        let bias = match &self.emb.bias {
            Some(b) => b.broadcast_to(&[1, t - 1, d])?,
            None => Tensor::zeros(&[1, t - 1, d])?,
        };
        let konst = concat(&[&self.cls_token, &bias], 1)?.add(&self.pos_emb)?;
        let g = concat(
            &[&rows.reshape(&[players, t * d])?, &konst.reshape(&[1, t * d])?],
            0,
        )?;
        let cls = match self.blocks.last() {
            Some(b) => Some(ClsAttention::fold(b)?),
            None => None,
        };
        Ok(VitCoalitions {
            vit: self,
            players,
            g,
            cls,
        })
    }
}

impl VitCoalitions<'_> {
    pub fn players(&self) -> usize {
        self.players
    }

    /// `masks`: N rows of P values (0 hides a superpixel; fractions scale it) → logits [N, K].
    pub fn logits(&self, masks: &[f32]) -> Result<Tensor> {
        let (p, c) = (self.players, &self.vit.config);
        if masks.is_empty() || !masks.len().is_multiple_of(p) {
            bail!("ViT coalitions: {} mask values are not rows of {p}", masks.len());
        }
        let n = masks.len() / p;
        let mut with_one = Vec::with_capacity(n * (p + 1));
        for row in masks.chunks(p) {
            with_one.extend_from_slice(row);
            with_one.push(1.0);
        }
        let m = Tensor::from_slice(&with_one, &[n, p + 1])?;
        let mut h = m.matmul(&self.g)?.reshape(&[n, c.tokens(), c.dim])?;
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
    /// [out, in] weights, scale 1/√Dh):
    ///   W_qk[h·D + i, l] = scale Σ_j W_k[j, i] W_q[j, l],   b_qk[h·D + i] = scale Σ_j b_q[j] W_k[j, i]
    ///   W_vo[o, h·D + i] = Σ_j W_o[o, j] W_v[j, i],          b_vo[o] = Σ_j W_o[o, j] b_v[j] + b_o[o]
    fn fold(block: &Block) -> Result<ClsAttention> {
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
        let scale = 1.0 / (dh as f64).sqrt();
        let hd = heads * d;
        let (mut w_qk, mut b_qk) = (vec![0f64; hd * d], vec![0f64; hd]);
        let (mut w_vo, mut b_vo) = (vec![0f64; d * hd], bo);
        for h in 0..heads {
            for j in h * dh..(h + 1) * dh {
                for i in 0..d {
                    let k = scale * wk[j * d + i];
                    b_qk[h * d + i] += bq[j] * k;
                    for l in 0..d {
                        w_qk[(h * d + i) * d + l] += k * wq[j * d + l];
                    }
                }
                for o in 0..d {
                    let w = wo[o * d + j];
                    for i in 0..d {
                        w_vo[o * hd + h * d + i] += w * wv[j * d + i];
                    }
                }
            }
        }
        for o in 0..d {
            b_vo[o] += (0..d).map(|j| wo[o * d + j] * bv[j]).sum::<f64>();
        }
        let dev = |v: &[f64], shape: &[usize]| {
            Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape)
        };
        Ok(ClsAttention {
            w_qk: dev(&w_qk, &[hd, d])?,
            b_qk: dev(&b_qk, &[hd])?,
            w_vo: dev(&w_vo, &[d, hd])?,
            b_vo: dev(&b_vo, &[d])?,
        })
    }

    /// The last block's output for the CLS token, [N, D], from its input tokens h [N, T, D].
    fn forward(&self, block: &Block, h: &Tensor) -> Result<Tensor> {
        let (n, d) = (h.dim(0), h.dim(2));
        let heads = block.attn.heads;
        let ln = block.norm1.forward(h)?;
        let ln_cls = ln.narrow(1, 0, 1)?.reshape(&[n, d])?;
        let q = linear(&ln_cls, &self.w_qk, Some(&self.b_qk))?.reshape(&[n, heads, d])?;
        let u = softmax_pool(&ln, &q)?.reshape(&[n, heads * d])?;
        let attn = linear(&u, &self.w_vo, Some(&self.b_vo))?;
        let x = h.narrow(1, 0, 1)?.reshape(&[n, d])?.add(&attn)?;
        x.add(&block.mlp.forward(&block.norm2.forward(&x)?)?)
    }
}
