//! The per-cell head of the backbone explainers (ViT Shapley, Covert et al., ICLR 2023): a
//! backbone's G × G grid of cells (a ViT's patch tokens, a ResNet's last feature map) gives each
//! of the r × r players a cell covers one value per class, through Linear → GELU → Linear. The
//! last layer starts at zero, so with additive normalisation the untrained explainer is the
//! uniform split of v(1) − v(0), as the UNet's near-zero start is, not a random one whose loss
//! is two orders of magnitude larger.

use super::spec::Plan;
use crate::Tensor;
use crate::nn::{InitRng, Kind, Linear, Module, join};
use anyhow::{Result, ensure};

pub struct PlayerHead {
    fc1: Linear,
    fc2: Linear,
    grid: usize,
    r: usize,
    classes: usize,
}

impl PlayerHead {
    /// A head for cells of `dim` features on a `grid` × `grid` map, `r` × `r` players per cell.
    pub fn new(
        dim: usize,
        hidden: usize,
        (grid, r, classes): (usize, usize, usize),
        rng: &mut InitRng,
    ) -> Result<PlayerHead> {
        let fc1 = Linear::new(dim, hidden, true, rng)?;
        let fc2 = Linear::new(hidden, r * r * classes, true, rng)?;
        fc2.weight.assign(&Tensor::zeros(fc2.weight.shape())?)?;
        if let Some(bias) = &fc2.bias {
            bias.assign(&Tensor::zeros(bias.shape())?)?;
        }
        Ok(PlayerHead {
            fc1,
            fc2,
            grid,
            r,
            classes,
        })
    }

    /// A backbone explainer's tensors: the surrogate's `network` plan under `backbone.` without
    /// its classifier (the names under `classifier`), then this head's under `head.0` / `head.2`
    /// (the PyTorch names of a Sequential).
    pub fn plan(
        network: Plan,
        classifier: &str,
        (dim, hidden, r, classes): (usize, usize, usize, usize),
    ) -> Plan {
        let mut plan: Plan = network
            .into_iter()
            .filter(|(n, _)| !n.starts_with(classifier))
            .map(|(n, s)| (join("backbone", &n), s))
            .collect();
        plan.extend([
            ("head.0.weight".into(), vec![hidden, dim]),
            ("head.0.bias".into(), vec![hidden]),
            ("head.2.weight".into(), vec![r * r * classes, hidden]),
            ("head.2.bias".into(), vec![r * r * classes]),
        ]);
        plan
    }

    /// Sane bounds on the head's fields (config errors name the field).
    pub fn check(hidden: usize, classes: usize) -> Result<()> {
        ensure!(
            (1..=65_536).contains(&hidden),
            "config field head_hidden = {hidden} is outside 1..=65536"
        );
        ensure!(
            (1..=100_000).contains(&classes),
            "config field classes = {classes} is outside 1..=100000"
        );
        Ok(())
    }

    /// Cell features [B, G², dim] (row-major cells) → φ before normalisation [B, P, K].
    pub fn forward(&self, cells: &Tensor) -> Result<Tensor> {
        let out = self.fc2.forward(&self.fc1.forward(cells)?.gelu()?)?;
        tokens_to_players(&out, self.grid, self.r, self.classes)
    }
}

impl Module for PlayerHead {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.fc1.visit(&join(p, "0"), f);
        self.fc2.visit(&join(p, "2"), f);
    }
}

/// Per-cell head outputs [B, G², r²·K] (cell-major, then (dy, dx, class)) → φ [B, (G·r)², K]
/// on the row-major player grid: player (ty·r + dy, tx·r + dx) takes cell (ty, tx)'s (dy, dx).
pub fn tokens_to_players(out: &Tensor, grid: usize, r: usize, k: usize) -> Result<Tensor> {
    if r == 1 {
        return Ok(out.clone());
    }
    let b = out.dim(0);
    out.reshape(&[b, grid, grid, r, r, k])?
        .permute(&[0, 1, 3, 2, 4, 5])?
        .reshape(&[b, (grid * r).pow(2), k])
}
