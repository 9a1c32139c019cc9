//! Multi-head self-attention, the MLP, and the pre-norm transformer block
//! (x + MHA(LN(x)); x + MLP(LN(x)), GELU), as in ViT / timm.

use super::{InitRng, Kind, LayerNorm, Linear, Module, join};
use crate::Tensor;
use crate::ops;
use anyhow::Result;

/// How the Q, K, V projections are stored: separate `q`, `k`, `v`, `o` Linears (the CIFAR ViT),
/// or timm's fused `qkv` plus `proj` (the MAE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QkvLayout {
    Separate,
    Fused,
}

pub struct MultiHeadAttention {
    pub heads: usize,
    pub dim: usize,
    pub layout: QkvLayout,
    /// [q, k, v] when separate; [qkv] when fused.
    pub proj_in: Vec<Linear>,
    pub proj_out: Linear,
}

impl MultiHeadAttention {
    pub fn new(
        dim: usize,
        heads: usize,
        layout: QkvLayout,
        rng: &mut InitRng,
    ) -> Result<MultiHeadAttention> {
        let proj_in = match layout {
            QkvLayout::Separate => vec![
                Linear::new(dim, dim, true, rng)?,
                Linear::new(dim, dim, true, rng)?,
                Linear::new(dim, dim, true, rng)?,
            ],
            QkvLayout::Fused => vec![Linear::new(dim, 3 * dim, true, rng)?],
        };
        Ok(MultiHeadAttention {
            heads,
            dim,
            layout,
            proj_in,
            proj_out: Linear::new(dim, dim, true, rng)?,
        })
    }

    /// x: [B, T, D] → [B, T, D].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = (x.dim(0), x.dim(1), x.dim(2));
        let dh = d / self.heads;
        let (q, k, v) = self.qkv(x)?;
        let o = ops::attention::attention(&q, &k, &v, None, 1.0 / (dh as f32).sqrt())?;
        let o = o.permute(&[0, 2, 1, 3])?.reshape(&[b, t, d])?;
        self.proj_out.forward(&o)
    }

    /// Q, K, V as [B, H, T, Dh] each.
    fn qkv(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, t, d) = (x.dim(0), x.dim(1), x.dim(2));
        let (h, dh) = (self.heads, d / self.heads);
        let split =
            |y: &Tensor| -> Result<Tensor> { y.reshape(&[b, t, h, dh])?.permute(&[0, 2, 1, 3]) };
        Ok(match self.layout {
            QkvLayout::Separate => (
                split(&self.proj_in[0].forward(x)?)?,
                split(&self.proj_in[1].forward(x)?)?,
                split(&self.proj_in[2].forward(x)?)?,
            ),
            QkvLayout::Fused => {
                let qkv = self.proj_in[0]
                    .forward(x)?
                    .reshape(&[b, t, 3, h, dh])?
                    .permute(&[2, 0, 3, 1, 4])?;
                let one =
                    |i: usize| -> Result<Tensor> { qkv.narrow(0, i, 1)?.reshape(&[b, h, t, dh]) };
                (one(0)?, one(1)?, one(2)?)
            }
        })
    }

    /// The attention probabilities softmax(Q Kᵀ / √Dh), [B, H, T, T], for attention rollout.
    /// The fused kernel in `forward` never materialises them, so they are recomputed here with
    /// an explicit matmul (no tape).
    pub fn attention_probs(&self, x: &Tensor) -> Result<Tensor> {
        let _ng = crate::no_grad();
        let (q, k, _) = self.qkv(x)?;
        let dh = self.dim / self.heads;
        q.matmul_t(&k, false, true)?
            .mul_scalar(1.0 / (dh as f32).sqrt())?
            .softmax()
    }
}

impl Module for MultiHeadAttention {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        match self.layout {
            QkvLayout::Separate => {
                for (name, l) in ["q", "k", "v"].iter().zip(&self.proj_in) {
                    l.visit(&join(p, name), f);
                }
                self.proj_out.visit(&join(p, "o"), f);
            }
            QkvLayout::Fused => {
                self.proj_in[0].visit(&join(p, "qkv"), f);
                self.proj_out.visit(&join(p, "proj"), f);
            }
        }
    }
}

pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(dim: usize, hidden: usize, rng: &mut InitRng) -> Result<Mlp> {
        Ok(Mlp {
            fc1: Linear::new(dim, hidden, true, rng)?,
            fc2: Linear::new(hidden, dim, true, rng)?,
        })
    }
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // fc1's bias and the GELU in one pass (ops::fused) after a bias-free matmul.
        let h = match &self.fc1.bias {
            Some(b) => ops::matmul::linear(x, &self.fc1.weight, None)?.bias_gelu(b)?,
            None => self.fc1.forward(x)?.gelu()?,
        };
        self.fc2.forward(&h)
    }
}

impl Module for Mlp {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.fc1.visit(&join(p, "fc1"), f);
        self.fc2.visit(&join(p, "fc2"), f);
    }
}

/// Pre-norm transformer encoder block.
pub struct Block {
    pub norm1: LayerNorm,
    pub attn: MultiHeadAttention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
}

impl Block {
    pub fn new(
        dim: usize,
        heads: usize,
        mlp_hidden: usize,
        layout: QkvLayout,
        rng: &mut InitRng,
    ) -> Result<Block> {
        Ok(Block {
            norm1: LayerNorm::new(dim)?,
            attn: MultiHeadAttention::new(dim, heads, layout, rng)?,
            norm2: LayerNorm::new(dim)?,
            mlp: Mlp::new(dim, mlp_hidden, rng)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.add(&self.attn.forward(&self.norm1.forward(x)?)?)?;
        x.add(&self.mlp.forward(&self.norm2.forward(&x)?)?)
    }
}

impl Module for Block {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.norm1.visit(&join(p, "norm1"), f);
        self.attn.visit(&join(p, "attn"), f);
        self.norm2.visit(&join(p, "norm2"), f);
        self.mlp.visit(&join(p, "mlp"), f);
    }
}
