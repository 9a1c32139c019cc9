//! A ViT explainer (ViT Shapley, Covert et al., ICLR 2023; the seed's future-work point 4): the
//! surrogate's own ViT, fed the unmasked image (all players present: the mask channel is ones),
//! with its classification head replaced by a per-token head that gives every player one value
//! per class. It starts from the surrogate's weights ([`VitExplainer::init_from`]), so its token
//! features already encode how the surrogate sees each patch; FastSHAP's loss then teaches the
//! head (and fine-tunes the backbone) to split v(1) − v(0) among the players.
//!
//! Players are `superpixel`-sided squares, row-major over the (32 / superpixel)² grid; a patch
//! token covers r × r of them (r = patch / superpixel), so its head emits r²·K values, placed
//! back on the player grid: [B, G, G, r, r, K] → [B, G, r, G, r, K] → [B, P, K].

use super::spec::Plan;
use super::vit::{Vit, VitConfig};
use crate::Tensor;
use crate::nn::{InitRng, Kind, Linear, Module, join};
use crate::ops::masking::apply_player_mask;
use anyhow::{Result, ensure};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct VitExplainerConfig {
    /// The backbone: the surrogate's ViT config (image + mask channel in, 4 channels).
    pub backbone: VitConfig,
    /// Player side in pixels; must divide the backbone's patch.
    pub superpixel: usize,
    /// Classes explained (the surrogate's).
    pub classes: usize,
    /// Hidden width of the per-token head (Linear → GELU → Linear).
    pub head_hidden: usize,
}

impl VitExplainerConfig {
    /// The head for `backbone`'s surrogate at `superpixel`: hidden width = the backbone's.
    pub fn for_backbone(backbone: VitConfig, superpixel: usize) -> VitExplainerConfig {
        VitExplainerConfig {
            classes: backbone.classes,
            head_hidden: backbone.dim,
            backbone,
            superpixel,
        }
    }

    /// Players per patch side (r).
    pub fn per_patch(&self) -> usize {
        self.backbone.patch / self.superpixel.max(1)
    }

    pub fn check(&self) -> Result<()> {
        self.backbone.check()?;
        let (p, s) = (self.backbone.patch, self.superpixel);
        ensure!(
            s >= 1 && p.is_multiple_of(s),
            "config field superpixel = {s} must divide the ViT's patch {p} (a patch token \
             explains the players inside it)"
        );
        ensure!(
            self.backbone.in_channels == 4,
            "the ViT explainer's backbone is a surrogate's ViT (image + mask: 4 channels), got {}",
            self.backbone.in_channels
        );
        ensure!(
            (1..=65_536).contains(&self.head_hidden),
            "config field head_hidden = {} is outside 1..=65536",
            self.head_hidden
        );
        ensure!(
            (1..=100_000).contains(&self.classes),
            "config field classes = {} is outside 1..=100000",
            self.classes
        );
        Ok(())
    }

    /// The tensors a [`VitExplainer`] holds: the backbone without its CLS head, then the head.
    pub fn plan(&self) -> Plan {
        let mut plan: Plan = self
            .backbone
            .plan()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("head."))
            .map(|(n, s)| (join("backbone", &n), s))
            .collect();
        let r = self.per_patch();
        let (d, h) = (self.backbone.dim, self.head_hidden);
        plan.push(("head.0.weight".into(), vec![h, d]));
        plan.push(("head.0.bias".into(), vec![h]));
        plan.push(("head.2.weight".into(), vec![r * r * self.classes, h]));
        plan.push(("head.2.bias".into(), vec![r * r * self.classes]));
        plan
    }
}

pub struct VitExplainer {
    pub config: VitExplainerConfig,
    backbone: Vit,
    fc1: Linear,
    fc2: Linear,
}

impl VitExplainer {
    pub fn new(config: VitExplainerConfig, rng: &mut InitRng) -> Result<VitExplainer> {
        config.check()?;
        let backbone = Vit::new(config.backbone.clone(), rng)?;
        let r = config.per_patch();
        let fc1 = Linear::new(config.backbone.dim, config.head_hidden, true, rng)?;
        let fc2 = Linear::new(config.head_hidden, r * r * config.classes, true, rng)?;
        // Zero output at the start: with additive normalisation the untrained explainer is the
        // uniform split of v(1) − v(0), as the UNet's near-zero start is, not a random one
        // whose loss is two orders of magnitude larger.
        fc2.weight.assign(&Tensor::zeros(fc2.weight.shape())?)?;
        if let Some(bias) = &fc2.bias {
            bias.assign(&Tensor::zeros(bias.shape())?)?;
        }
        Ok(VitExplainer {
            config,
            backbone,
            fc1,
            fc2,
        })
    }

    /// Copies the surrogate's ViT weights into the backbone (all but its CLS head).
    pub fn init_from(&self, surrogate: &Vit) -> Result<()> {
        ensure!(
            surrogate.config == self.config.backbone,
            "the surrogate's ViT config {:?} is not the explainer's backbone {:?}",
            surrogate.config,
            self.config.backbone
        );
        let mut src = Vec::new();
        surrogate.visit_features("", &mut |_, t, _| src.push(t.clone()));
        let mut dst = Vec::new();
        self.backbone
            .visit_features("", &mut |_, t, _| dst.push(t.clone()));
        for (d, s) in dst.iter().zip(&src) {
            d.assign(s)?;
        }
        Ok(())
    }

    /// Images [B, 3, 32, 32] → φ before normalisation [B, P, K].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let b = x.dim(0);
        let grid = c.backbone.image / c.backbone.patch;
        let players = (c.backbone.image / c.superpixel).pow(2);
        // The surrogate's input with every player present.
        let full = apply_player_mask(x, &Tensor::ones(&[b, players])?, c.superpixel)?;
        let h = self.backbone.features(&full)?;
        let tokens = h.narrow(1, 1, grid * grid)?;
        let out = self.fc2.forward(&self.fc1.forward(&tokens)?.gelu()?)?;
        tokens_to_players(&out, grid, c.per_patch(), c.classes)
    }
}

/// Per-token head outputs [B, G², r²·K] (token-major, then (dy, dx, class)) → φ [B, (G·r)², K]
/// on the row-major player grid: player (ty·r + dy, tx·r + dx) takes token (ty, tx)'s (dy, dx).
pub fn tokens_to_players(out: &Tensor, grid: usize, r: usize, k: usize) -> Result<Tensor> {
    if r == 1 {
        return Ok(out.clone());
    }
    let b = out.dim(0);
    out.reshape(&[b, grid, grid, r, r, k])?
        .permute(&[0, 1, 3, 2, 4, 5])?
        .reshape(&[b, (grid * r).pow(2), k])
}

impl Module for VitExplainer {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.backbone.visit_features(&join(p, "backbone"), f);
        self.fc1.visit(&join(p, "head.0"), f);
        self.fc2.visit(&join(p, "head.2"), f);
    }
}
