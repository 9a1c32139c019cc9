//! Vision Transformer for CIFAR (the paper's ViT, after omihub777/ViT-CIFAR): 4×4 patches
//! flattened (p, p, C) and projected by Linear(48, 384), a learned CLS token and position
//! embeddings (65 tokens), 7 pre-norm blocks (hidden 384, MLP 384, 12 heads of 32), a final
//! LayerNorm and Linear(384, 10) on the CLS token. 6,268,810 parameters.
//! The same class with hidden 192 / MLP 768 / 3 heads is the paper's "ViT(192/768)" surrogate.

use crate::Tensor;
use crate::nn::{Block, InitRng, Kind, LayerNorm, Linear, Module, QkvLayout, join, layers::normal};
use crate::ops;
use anyhow::Result;

mod coalitions;
pub use coalitions::VitCoalitions;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct VitConfig {
    pub in_channels: usize,
    pub classes: usize,
    pub image: usize,
    pub patch: usize,
    pub dim: usize,
    pub mlp: usize,
    pub heads: usize,
    pub depth: usize,
}

impl VitConfig {
    /// The paper's ViT: 384 hidden, 384 MLP, 12 heads, 7 layers, 4×4 patches.
    pub fn cifar(in_channels: usize) -> VitConfig {
        VitConfig {
            in_channels,
            classes: 10,
            image: 32,
            patch: 4,
            dim: 384,
            mlp: 384,
            heads: 12,
            depth: 7,
        }
    }
    /// ViT with the MAE encoder's dimensions (192 hidden, MLP 768, 3 heads), 4×4 patches.
    pub fn cifar_192_768(in_channels: usize) -> VitConfig {
        VitConfig {
            dim: 192,
            mlp: 768,
            heads: 3,
            ..VitConfig::cifar(in_channels)
        }
    }
    pub fn tokens(&self) -> usize {
        (self.image / self.patch).pow(2) + 1
    }
}

pub struct Vit {
    pub config: VitConfig,
    emb: Linear,
    cls_token: Tensor,
    pos_emb: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Linear,
}

impl Vit {
    pub fn new(config: VitConfig, rng: &mut InitRng) -> Result<Vit> {
        let c = &config;
        let patch_dim = c.patch * c.patch * c.in_channels;
        let emb = Linear::new(patch_dim, c.dim, true, rng)?;
        let cls_token = normal(&[1, 1, c.dim], 0.02, rng)?;
        let pos_emb = normal(&[1, c.tokens(), c.dim], 0.02, rng)?;
        let blocks = (0..c.depth)
            .map(|_| Block::new(c.dim, c.heads, c.mlp, QkvLayout::Separate, rng))
            .collect::<Result<_>>()?;
        let norm = LayerNorm::new(c.dim)?;
        let head = Linear::new(c.dim, c.classes, true, rng)?;
        Ok(Vit {
            config,
            emb,
            cls_token,
            pos_emb,
            blocks,
            norm,
            head,
        })
    }

    /// Token features after the final LayerNorm: [B, 65, dim].
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.embed(x)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        self.norm.forward(&h)
    }

    /// The tokens entering the first block: patch embeddings after the CLS token, plus the
    /// position embeddings, [B, 65, dim].
    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        let b = x.dim(0);
        let tokens = self.emb.forward(&x.patchify(self.config.patch)?)?;
        let cls = self.cls_token.broadcast_to(&[b, 1, self.config.dim])?;
        ops::plumbing::concat(&[&cls, &tokens], 1)?.add(&self.pos_emb)
    }

    /// Per block, the attention probabilities [B, heads, 65, 65] (for attention rollout).
    pub fn attention_maps(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let _ng = crate::no_grad();
        let mut h = self.embed(x)?;
        let mut maps = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            maps.push(block.attn.attention_probs(&block.norm1.forward(&h)?)?);
            h = block.forward(&h)?;
        }
        Ok(maps)
    }

    /// x: [B, in_channels, 32, 32] → logits [B, classes] from the CLS token.
    pub fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let h = self.features(x)?;
        let b = h.dim(0);
        self.head
            .forward(&h.narrow(1, 0, 1)?.reshape(&[b, self.config.dim])?)
    }
}

impl Vit {
    /// Every tensor but the CLS head's: what a [`super::VitExplainer`] takes from a surrogate.
    pub fn visit_features(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.emb.visit(&join(p, "emb"), f);
        f(join(p, "cls_token"), &self.cls_token, Kind::Param);
        f(join(p, "pos_emb"), &self.pos_emb, Kind::Param);
        for (i, b) in self.blocks.iter().enumerate() {
            b.visit(&join(p, &format!("blocks.{i}")), f);
        }
        self.norm.visit(&join(p, "norm"), f);
    }
}

impl Module for Vit {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.visit_features(p, f);
        self.head.visit(&join(p, "head"), f);
    }
}
