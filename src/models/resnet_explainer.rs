//! A ResNet explainer: ViT Shapley's idea (Covert et al., ICLR 2023) for a convolutional
//! surrogate. The surrogate's own ResNet, fed the unmasked image (all players present: the mask
//! channel is ones), keeps its trunk; its pooled classifier is replaced by a per-cell head on
//! the last 4 × 4 map ([`PlayerHead`]). It starts from the surrogate's weights
//! ([`ResNetExplainer::init_from`]), so each cell's features already encode how the surrogate
//! sees that 8 × 8 region; FastSHAP's loss teaches the head (and fine-tunes the trunk) to split
//! v(1) − v(0) among the players. At 16 players (superpixel 8) a cell is one player; at 64 and
//! 256 it covers 2 × 2 and 4 × 4 of them.
//!
//! BatchNorm keeps the surrogate's running statistics (its affine weights still train): the
//! explainer's batches are a few unmasked images, whose batch statistics are neither stable nor
//! what the surrogate's trunk was trained with, so frozen statistics keep the starting features
//! the surrogate's own (the usual choice for fine-tuning with small batches).

use super::player_head::PlayerHead;
use super::resnet::{ResNet, ResNetConfig};
use super::spec::Plan;
use crate::Tensor;
use crate::nn::{InitRng, Kind, Module, join};
use crate::ops::masking::all_present;
use anyhow::{Result, ensure};

/// Side of the ResNet's last map for 32 × 32 inputs (three stride-2 stages).
pub const GRID: usize = 4;
/// Pixels per side of one cell of that map.
const CELL: usize = 32 / GRID;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ResNetExplainerConfig {
    /// The trunk: the surrogate's ResNet config (image + mask channel in, 4 channels).
    pub backbone: ResNetConfig,
    /// Player side in pixels; must divide the last map's cell (8 pixels).
    pub superpixel: usize,
    /// Classes explained (the surrogate's).
    pub classes: usize,
    /// Hidden width of the per-cell head (Linear → GELU → Linear).
    pub head_hidden: usize,
}

impl ResNetExplainerConfig {
    /// The head for `backbone`'s surrogate at `superpixel`: hidden width = the last stage's.
    pub fn for_backbone(backbone: ResNetConfig, superpixel: usize) -> ResNetExplainerConfig {
        ResNetExplainerConfig {
            classes: backbone.classes,
            head_hidden: backbone.widths[3],
            backbone,
            superpixel,
        }
    }

    /// Players per cell side (r).
    pub fn per_cell(&self) -> usize {
        CELL / self.superpixel.max(1)
    }

    pub fn check(&self) -> Result<()> {
        self.backbone.check()?;
        let s = self.superpixel;
        ensure!(
            s >= 1 && CELL.is_multiple_of(s),
            "config field superpixel = {s} must divide {CELL}: a cell of the ResNet's last \
             {GRID}×{GRID} map explains the players inside it (superpixel 8, 4, 2 or 1)"
        );
        ensure!(
            self.backbone.in_channels == 4,
            "the ResNet explainer's trunk is a surrogate's ResNet (image + mask: 4 channels), \
             got {}",
            self.backbone.in_channels
        );
        PlayerHead::check(self.head_hidden, self.classes)
    }

    /// The tensors a [`ResNetExplainer`] holds: the trunk without its classifier, then the head.
    pub fn plan(&self) -> Plan {
        let head = (
            self.backbone.widths[3],
            self.head_hidden,
            self.per_cell(),
            self.classes,
        );
        PlayerHead::plan(self.backbone.plan(), "linear.", head)
    }
}

pub struct ResNetExplainer {
    pub config: ResNetExplainerConfig,
    backbone: ResNet,
    head: PlayerHead,
}

impl ResNetExplainer {
    pub fn new(config: ResNetExplainerConfig, rng: &mut InitRng) -> Result<ResNetExplainer> {
        config.check()?;
        let backbone = ResNet::new(config.backbone.clone(), rng)?;
        let head = PlayerHead::new(
            config.backbone.widths[3],
            config.head_hidden,
            (GRID, config.per_cell(), config.classes),
            rng,
        )?;
        Ok(ResNetExplainer {
            config,
            backbone,
            head,
        })
    }

    /// Copies the surrogate's ResNet weights and BatchNorm statistics into the trunk (all but
    /// its classifier).
    pub fn init_from(&self, surrogate: &ResNet) -> Result<()> {
        ensure!(
            surrogate.config == self.config.backbone,
            "the surrogate's ResNet config {:?} is not the explainer's backbone {:?}",
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

    /// [`ResNetExplainer::forward`] of the images with every player present ([`all_present`]),
    /// for callers that have them already (the surrogate's v(1) reads the same tensor).
    pub fn forward_present(&self, full: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let b = full.dim(0);
        // Frozen BatchNorm statistics (module doc).
        let map = self.backbone.features(full, false)?; // [B, C, 4, 4]
        let cells = map.reshape(&[b, c.backbone.widths[3], GRID * GRID])?;
        self.head.forward(&cells.permute(&[0, 2, 1])?)
    }
}

impl Module for ResNetExplainer {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.backbone.visit_features(&join(p, "backbone"), f);
        self.head.visit(&join(p, "head"), f);
    }
}
