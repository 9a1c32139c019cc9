//! A ViT explainer (ViT Shapley, Covert et al., ICLR 2023; the seed's future-work point 4): the
//! surrogate's own ViT, fed the unmasked image (all players present: the mask channel is ones),
//! with its classification head replaced by a per-token head that gives every player one value
//! per class. It starts from the surrogate's weights ([`VitExplainer::init_from`]), so its token
//! features already encode how the surrogate sees each patch; FastSHAP's loss then teaches the
//! head (and fine-tunes the backbone) to split v(1) − v(0) among the players.
//!
//! Players are `superpixel`-sided squares, row-major over the (32 / superpixel)² grid; a patch
//! token covers r × r of them (r = patch / superpixel), so its head ([`PlayerHead`]) emits r²·K
//! values, placed back on the player grid.

use super::player_head::PlayerHead;
use super::spec::Plan;
use super::vit::{Vit, VitConfig};
use crate::Tensor;
use crate::nn::{InitRng, Kind, Module, join};
use crate::ops::masking::all_present;
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
        PlayerHead::check(self.head_hidden, self.classes)
    }

    /// The tensors a [`VitExplainer`] holds: the backbone without its CLS head, then the head.
    pub fn plan(&self) -> Plan {
        let head = (
            self.backbone.dim,
            self.head_hidden,
            self.per_patch(),
            self.classes,
        );
        PlayerHead::plan(self.backbone.plan(), "head.", head)
    }
}

pub struct VitExplainer {
    pub config: VitExplainerConfig,
    backbone: Vit,
    head: PlayerHead,
}

impl VitExplainer {
    pub fn new(config: VitExplainerConfig, rng: &mut InitRng) -> Result<VitExplainer> {
        config.check()?;
        let backbone = Vit::new(config.backbone.clone(), rng)?;
        let grid = config.backbone.image / config.backbone.patch;
        let head = PlayerHead::new(
            config.backbone.dim,
            config.head_hidden,
            (grid, config.per_patch(), config.classes),
            rng,
        )?;
        Ok(VitExplainer {
            config,
            backbone,
            head,
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
        crate::nn::copy_visited(
            |f| self.backbone.visit_features("", f),
            |f| surrogate.visit_features("", f),
        )
    }

    /// Images [B, 3, 32, 32] → φ before normalisation [B, P, K].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_present(&all_present(x)?)
    }

    /// [`VitExplainer::forward`] of the images with every player present ([`all_present`]),
    /// for callers that have them already (the surrogate's v(1) reads the same tensor).
    pub fn forward_present(&self, full: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let grid = c.backbone.image / c.backbone.patch;
        let h = self.backbone.features(full)?;
        self.head.forward(&h.narrow(1, 1, grid * grid)?)
    }
}

impl Module for VitExplainer {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.backbone.visit_features(&join(p, "backbone"), f);
        self.head.visit(&join(p, "head"), f);
    }
}
