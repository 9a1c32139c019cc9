//! Masked autoencoder with a ViT-Tiny encoder (after IcarusWizard/MAE, the CIFAR-10 MAE):
//! 2×2 patches by Conv2d(3, 192, 2, stride 2) → 256 tokens + learned position embeddings;
//! random masking keeps 25% of the tokens per image (shuffle with a gather), the CLS token is
//! added after masking; 12 encoder blocks (dim 192, 3 heads, MLP 768, fused qkv) and a
//! LayerNorm. The decoder appends mask tokens, unshuffles, adds its own 257 position
//! embeddings, runs 4 blocks and predicts each patch's 12 pixels with Linear(192, 12).
//! Loss: mean squared error on the masked patches only (mean over all pixels × mask / ratio).

use crate::Tensor;
use crate::nn::{
    Block, Conv2d, InitRng, Kind, LayerNorm, Linear, Module, QkvLayout, join, layers::normal,
};
use crate::ops;
use anyhow::{Result, bail};
use rand::seq::SliceRandom;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct MaeConfig {
    pub in_channels: usize,
    pub image: usize,
    pub patch: usize,
    pub dim: usize,
    pub heads: usize,
    pub mlp: usize,
    pub encoder_depth: usize,
    pub decoder_depth: usize,
    pub mask_ratio: f32,
}

impl MaeConfig {
    pub fn vit_tiny() -> MaeConfig {
        MaeConfig {
            in_channels: 3,
            image: 32,
            patch: 2,
            dim: 192,
            heads: 3,
            mlp: 768,
            encoder_depth: 12,
            decoder_depth: 4,
            mask_ratio: 0.75,
        }
    }
    pub fn patches(&self) -> usize {
        (self.image / self.patch).pow(2)
    }
    pub fn kept(&self) -> usize {
        (self.patches() as f32 * (1.0 - self.mask_ratio)) as usize
    }
}

/// Encoder parts shared by the MAE and the classifier built from it.
pub struct MaeEncoder {
    pub config: MaeConfig,
    cls_token: Tensor,
    pos_embedding: Tensor,
    patchify: Conv2d,
    blocks: Vec<Block>,
    layer_norm: LayerNorm,
}

impl MaeEncoder {
    fn new(config: MaeConfig, rng: &mut InitRng) -> Result<MaeEncoder> {
        let c = &config;
        Ok(MaeEncoder {
            cls_token: normal(&[1, 1, c.dim], 0.02, rng)?,
            pos_embedding: normal(&[c.patches(), 1, c.dim], 0.02, rng)?,
            patchify: Conv2d::new(c.in_channels, c.dim, c.patch, c.patch, 0, true, rng)?,
            blocks: (0..c.encoder_depth)
                .map(|_| Block::new(c.dim, c.heads, c.mlp, QkvLayout::Fused, rng))
                .collect::<Result<_>>()?,
            layer_norm: LayerNorm::new(c.dim)?,
            config,
        })
    }

    /// Patch tokens with position embeddings: [B, 256, dim].
    fn tokens(&self, img: &Tensor) -> Result<Tensor> {
        let (b, d, n) = (img.dim(0), self.config.dim, self.config.patches());
        let x = self
            .patchify
            .forward(img)?
            .reshape(&[b, d, n])?
            .permute(&[0, 2, 1])?;
        x.add(&self.pos_embedding.reshape(&[1, n, d])?)
    }

    /// CLS + tokens → blocks → LayerNorm.
    fn encode(&self, tokens: &Tensor) -> Result<Tensor> {
        let b = tokens.dim(0);
        let cls = self.cls_token.broadcast_to(&[b, 1, self.config.dim])?;
        let mut h = ops::plumbing::concat(&[&cls, tokens], 1)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        self.layer_norm.forward(&h)
    }
}

impl MaeEncoder {
    /// Per encoder block, the attention probabilities [B, heads, 257, 257] on all tokens.
    pub fn attention_maps(&self, img: &Tensor) -> Result<Vec<Tensor>> {
        let _ng = crate::no_grad();
        let tokens = self.tokens(img)?;
        let cls = self
            .cls_token
            .broadcast_to(&[tokens.dim(0), 1, self.config.dim])?;
        let mut h = ops::plumbing::concat(&[&cls, &tokens], 1)?;
        let mut maps = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            maps.push(block.attn.attention_probs(&block.norm1.forward(&h)?)?);
            h = block.forward(&h)?;
        }
        Ok(maps)
    }
}

impl Module for MaeEncoder {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        f(join(p, "cls_token"), &self.cls_token, Kind::Param);
        f(join(p, "pos_embedding"), &self.pos_embedding, Kind::Param);
        self.patchify.visit(&join(p, "patchify"), f);
        for (i, b) in self.blocks.iter().enumerate() {
            b.visit(&join(p, &format!("transformer.{i}")), f);
        }
        self.layer_norm.visit(&join(p, "layer_norm"), f);
    }
}

pub struct MaeDecoder {
    mask_token: Tensor,
    pos_embedding: Tensor,
    blocks: Vec<Block>,
    head: Linear,
}

impl Module for MaeDecoder {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        f(join(p, "mask_token"), &self.mask_token, Kind::Param);
        f(join(p, "pos_embedding"), &self.pos_embedding, Kind::Param);
        for (i, b) in self.blocks.iter().enumerate() {
            b.visit(&join(p, &format!("transformer.{i}")), f);
        }
        self.head.visit(&join(p, "head"), f);
    }
}

pub struct Mae {
    pub encoder: MaeEncoder,
    pub decoder: MaeDecoder,
}

/// Per image, a permutation of the patch indices: the first `kept` are visible.
pub fn random_shuffles(batch: usize, patches: usize, rng: &mut InitRng) -> Vec<Vec<u32>> {
    (0..batch)
        .map(|_| {
            let mut v: Vec<u32> = (0..patches as u32).collect();
            v.shuffle(rng);
            v
        })
        .collect()
}

/// Output of one MAE step.
pub struct MaeOutput {
    /// Predicted pixels per patch, [B, 256, C·p·p] in (C, p, p) order.
    pub pred: Tensor,
    /// 1 for masked patches, [B, 256].
    pub mask: Vec<f32>,
    pub loss: Tensor,
}

impl Mae {
    pub fn new(config: MaeConfig, rng: &mut InitRng) -> Result<Mae> {
        let c = config.clone();
        let decoder = MaeDecoder {
            mask_token: normal(&[1, 1, c.dim], 0.02, rng)?,
            pos_embedding: normal(&[c.patches() + 1, 1, c.dim], 0.02, rng)?,
            blocks: (0..c.decoder_depth)
                .map(|_| Block::new(c.dim, c.heads, c.mlp, QkvLayout::Fused, rng))
                .collect::<Result<_>>()?,
            head: Linear::new(c.dim, c.in_channels * c.patch * c.patch, true, rng)?,
        };
        Ok(Mae {
            encoder: MaeEncoder::new(config, rng)?,
            decoder,
        })
    }

    /// One pre-training forward with the given shuffles (see [`random_shuffles`]).
    pub fn forward(&self, img: &Tensor, shuffles: &[Vec<u32>]) -> Result<MaeOutput> {
        let c = &self.encoder.config;
        let (b, n, kept, d) = (img.dim(0), c.patches(), c.kept(), c.dim);
        if shuffles.len() != b || shuffles.iter().any(|s| s.len() != n) {
            bail!("MAE needs one permutation of {n} patches per image ({b} images)");
        }
        // Encoder on the visible tokens only.
        let visible: Vec<f32> = shuffles
            .iter()
            .flat_map(|s| s[..kept].iter().map(|&i| i as f32))
            .collect();
        let visible = Tensor::from_slice(&visible, &[b, kept])?;
        let tokens = self.encoder.tokens(img)?.gather_rows(&visible)?;
        let features = self.encoder.encode(&tokens)?; // [B, 1 + kept, d]

        // Decoder: append mask tokens, unshuffle (CLS stays first), add position embeddings.
        let masks = self.decoder.mask_token.broadcast_to(&[b, n - kept, d])?;
        let h = ops::plumbing::concat(&[&features, &masks], 1)?; // [B, 1 + n, d] in shuffled order
        let mut unshuffle = Vec::with_capacity(b * (n + 1));
        let mut mask = vec![0f32; b * n];
        for (bi, s) in shuffles.iter().enumerate() {
            let mut inverse = vec![0u32; n];
            for (pos, &patch) in s.iter().enumerate() {
                inverse[patch as usize] = pos as u32;
            }
            unshuffle.push(0.0);
            for (patch, &pos) in inverse.iter().enumerate() {
                unshuffle.push((pos + 1) as f32);
                if pos as usize >= kept {
                    mask[bi * n + patch] = 1.0;
                }
            }
        }
        let unshuffle = Tensor::from_slice(&unshuffle, &[b, n + 1])?;
        let mut h = h
            .gather_rows(&unshuffle)?
            .add(&self.decoder.pos_embedding.reshape(&[1, n + 1, d])?)?;
        for block in &self.decoder.blocks {
            h = block.forward(&h)?;
        }
        let pred = self.decoder.head.forward(&h.narrow(1, 1, n)?)?; // [B, n, C·p·p]

        // Loss: mean((pred − target)² · mask) / mask_ratio, target patches in (C, p, p) order.
        let target = img.patchify_chw(c.patch)?;
        let m = Tensor::from_slice(&mask, &[b, n, 1])?;
        let loss = pred
            .sub(&target)?
            .square()?
            .mul(&m)?
            .mean_all()?
            .mul_scalar(1.0 / c.mask_ratio)?;
        Ok(MaeOutput { pred, mask, loss })
    }
}

impl Module for Mae {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.encoder.visit(&join(p, "encoder"), f);
        self.decoder.visit(&join(p, "decoder"), f);
    }
}

/// The pretrained encoder fine-tuned as a classifier: all 257 tokens, head on the CLS token.
pub struct MaeClassifier {
    pub encoder: MaeEncoder,
    head: Linear,
}

impl MaeClassifier {
    /// A classifier from a (pretrained) MAE's encoder.
    pub fn from_mae(mae: Mae, classes: usize, rng: &mut InitRng) -> Result<MaeClassifier> {
        let d = mae.encoder.config.dim;
        Ok(MaeClassifier {
            encoder: mae.encoder,
            head: Linear::new(d, classes, true, rng)?,
        })
    }

    pub fn forward(&self, img: &Tensor, _train: bool) -> Result<Tensor> {
        let h = self.encoder.encode(&self.encoder.tokens(img)?)?;
        let (b, d) = (h.dim(0), h.dim(2));
        self.head.forward(&h.narrow(1, 0, 1)?.reshape(&[b, d])?)
    }
}

impl MaeClassifier {
    /// Attention probabilities of every encoder block (see [`MaeEncoder::attention_maps`]).
    pub fn attention_maps(&self, img: &Tensor) -> Result<Vec<Tensor>> {
        self.encoder.attention_maps(img)
    }
}

impl Module for MaeClassifier {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        // IcarusWizard's ViT_Classifier keeps the encoder's names at the top level.
        self.encoder.visit(p, f);
        self.head.visit(&join(p, "head"), f);
    }
}
