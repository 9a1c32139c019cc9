//! What a network config promises before anything is built: that its fields lie within sane
//! bounds, and the name and shape of every tensor the network will hold. Loading a checkpoint
//! checks both against the file's header before a single buffer is allocated, so a hostile
//! `fastshap.config` (widths of 100,000, 100 blocks per stage) is one error naming the field,
//! not a 360 GB allocation abort. `tests/models.rs` checks each plan against the built network's
//! `named_tensors`, so the two cannot drift apart.

use super::{MaeConfig, ResNetConfig, UNetConfig, VitConfig};
use crate::nn::QkvLayout;
use anyhow::{Result, ensure};

/// (name, shape) of every tensor a network holds, in `Module::visit` order.
pub type Plan = Vec<(String, Vec<usize>)>;

/// More parameters than this (8 GiB as f32) is no network this program trains or explains.
pub const MAX_PARAMS: u64 = 1 << 31;

/// `field` must lie in `lo..=hi`.
fn within(field: &str, v: usize, lo: usize, hi: usize) -> Result<()> {
    ensure!(
        (lo..=hi).contains(&v),
        "config field {field} = {v} is outside the sane range {lo}..={hi}"
    );
    Ok(())
}

const CHANNELS: usize = 64;
const CLASSES: usize = 100_000;
const WIDTH: usize = 16_384;
const HIDDEN: usize = 65_536;
const DEPTH: usize = 256;
const IMAGE: usize = 1024;

/// Parameters of a plan, or an error when it exceeds [`MAX_PARAMS`].
pub fn check_size(plan: &Plan) -> Result<u64> {
    let mut total = 0u64;
    for (name, shape) in plan {
        let n = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
            .filter(|&n| n <= MAX_PARAMS);
        total = n.and_then(|n| total.checked_add(n)).unwrap_or(u64::MAX);
        ensure!(
            total <= MAX_PARAMS,
            "the network would hold more than {MAX_PARAMS} parameters (reached at {name} \
             {shape:?})"
        );
    }
    Ok(total)
}

/// Builds a [`Plan`] with the layers' PyTorch names and layouts (`crate::nn`).
#[derive(Default)]
struct Planner(Plan);

impl Planner {
    fn t(&mut self, p: &str, name: &str, shape: &[usize]) {
        self.0.push((crate::nn::join(p, name), shape.to_vec()));
    }
    fn linear(&mut self, p: &str, inp: usize, out: usize) {
        self.t(p, "weight", &[out, inp]);
        self.t(p, "bias", &[out]);
    }
    fn conv(&mut self, p: &str, cin: usize, cout: usize, k: usize, bias: bool) {
        self.t(p, "weight", &[cout, cin, k, k]);
        if bias {
            self.t(p, "bias", &[cout]);
        }
    }
    fn bn(&mut self, p: &str, c: usize) {
        for n in ["weight", "bias", "running_mean", "running_var"] {
            self.t(p, n, &[c]);
        }
    }
    fn ln(&mut self, p: &str, d: usize) {
        self.t(p, "weight", &[d]);
        self.t(p, "bias", &[d]);
    }
    fn block(&mut self, p: &str, dim: usize, mlp: usize, layout: QkvLayout) {
        let j = |n: &str| crate::nn::join(p, n);
        self.ln(&j("norm1"), dim);
        match layout {
            QkvLayout::Separate => {
                for n in ["attn.q", "attn.k", "attn.v", "attn.o"] {
                    self.linear(&j(n), dim, dim);
                }
            }
            QkvLayout::Fused => {
                self.linear(&j("attn.qkv"), dim, 3 * dim);
                self.linear(&j("attn.proj"), dim, dim);
            }
        }
        self.ln(&j("norm2"), dim);
        self.linear(&j("mlp.fc1"), dim, mlp);
        self.linear(&j("mlp.fc2"), mlp, dim);
    }
}

impl ResNetConfig {
    /// Sane bounds on every field.
    pub fn check(&self) -> Result<()> {
        within("in_channels", self.in_channels, 1, CHANNELS)?;
        within("classes", self.classes, 1, CLASSES)?;
        for s in 0..4 {
            within(&format!("widths[{s}]"), self.widths[s], 1, WIDTH)?;
            within(&format!("blocks[{s}]"), self.blocks[s], 1, 64)?;
        }
        Ok(())
    }

    /// The tensors a [`super::ResNet`] of this config holds.
    pub fn plan(&self) -> Plan {
        let mut p = Planner::default();
        let w = self.widths;
        p.conv("conv1", self.in_channels, w[0], 3, false);
        p.bn("bn1", w[0]);
        let mut cin = w[0];
        for (s, (&cout, &n)) in w.iter().zip(&self.blocks).enumerate() {
            for i in 0..n {
                let b = format!("layer{}.{i}", s + 1);
                let stride = if i == 0 && s > 0 { 2 } else { 1 };
                p.conv(&format!("{b}.conv1"), cin, cout, 3, false);
                p.bn(&format!("{b}.bn1"), cout);
                p.conv(&format!("{b}.conv2"), cout, cout, 3, false);
                p.bn(&format!("{b}.bn2"), cout);
                if stride != 1 || cin != cout {
                    p.conv(&format!("{b}.shortcut.0"), cin, cout, 1, false);
                    p.bn(&format!("{b}.shortcut.1"), cout);
                }
                cin = cout;
            }
        }
        p.linear("linear", cin, self.classes);
        p.0
    }
}

/// Image, patch, width and heads of a transformer.
fn check_transformer(
    image: usize,
    patch: usize,
    dim: usize,
    heads: usize,
    mlp: usize,
) -> Result<()> {
    within("image", image, 1, IMAGE)?;
    within("patch", patch, 1, image)?;
    ensure!(
        image.is_multiple_of(patch),
        "config field patch = {patch} does not divide image = {image}"
    );
    within("dim", dim, 1, WIDTH)?;
    within("heads", heads, 1, dim)?;
    ensure!(
        dim.is_multiple_of(heads),
        "config field heads = {heads} does not divide dim = {dim}"
    );
    within("mlp", mlp, 1, HIDDEN)
}

impl VitConfig {
    pub fn check(&self) -> Result<()> {
        within("in_channels", self.in_channels, 1, CHANNELS)?;
        within("classes", self.classes, 1, CLASSES)?;
        check_transformer(self.image, self.patch, self.dim, self.heads, self.mlp)?;
        within("depth", self.depth, 0, DEPTH)
    }

    /// The tensors a [`super::Vit`] of this config holds.
    pub fn plan(&self) -> Plan {
        let mut p = Planner::default();
        let d = self.dim;
        p.linear("emb", self.patch * self.patch * self.in_channels, d);
        p.t("", "cls_token", &[1, 1, d]);
        p.t("", "pos_emb", &[1, self.tokens(), d]);
        for i in 0..self.depth {
            p.block(&format!("blocks.{i}"), d, self.mlp, QkvLayout::Separate);
        }
        p.ln("norm", d);
        p.linear("head", d, self.classes);
        p.0
    }
}

impl MaeConfig {
    /// Bounds of the encoder's fields (`pretrain`: also the decoder and a mask ratio that keeps
    /// at least one patch visible).
    pub fn check(&self, pretrain: bool) -> Result<()> {
        within("in_channels", self.in_channels, 1, CHANNELS)?;
        check_transformer(self.image, self.patch, self.dim, self.heads, self.mlp)?;
        within("encoder_depth", self.encoder_depth, 0, DEPTH)?;
        within("decoder_depth", self.decoder_depth, 0, DEPTH)?;
        if pretrain {
            ensure!(
                (0.0..1.0).contains(&self.mask_ratio) && self.kept() >= 1,
                "config field mask_ratio = {} must be in [0, 1) and keep at least one patch",
                self.mask_ratio
            );
        }
        Ok(())
    }

    /// The encoder's tensors under `prefix` (an MAE classifier keeps them at the top level).
    fn plan_encoder(&self, p: &mut Planner, prefix: &str) {
        let j = |n: &str| crate::nn::join(prefix, n);
        let d = self.dim;
        p.t(prefix, "cls_token", &[1, 1, d]);
        p.t(prefix, "pos_embedding", &[self.patches(), 1, d]);
        p.conv(&j("patchify"), self.in_channels, d, self.patch, true);
        for i in 0..self.encoder_depth {
            p.block(
                &j(&format!("transformer.{i}")),
                d,
                self.mlp,
                QkvLayout::Fused,
            );
        }
        p.ln(&j("layer_norm"), d);
    }

    /// The tensors a [`super::Mae`] (pre-training: encoder and decoder) holds.
    pub fn plan(&self) -> Plan {
        let mut p = Planner::default();
        let d = self.dim;
        self.plan_encoder(&mut p, "encoder");
        p.t("decoder", "mask_token", &[1, 1, d]);
        p.t("decoder", "pos_embedding", &[self.patches() + 1, 1, d]);
        for i in 0..self.decoder_depth {
            let b = format!("decoder.transformer.{i}");
            p.block(&b, d, self.mlp, QkvLayout::Fused);
        }
        let out = self.in_channels * self.patch * self.patch;
        p.linear("decoder.head", d, out);
        p.0
    }

    /// The tensors a [`super::MaeClassifier`] with `classes` outputs holds.
    pub fn plan_classifier(&self, classes: usize) -> Plan {
        let mut p = Planner::default();
        self.plan_encoder(&mut p, "");
        p.linear("head", self.dim, classes);
        p.0
    }
}

impl UNetConfig {
    pub fn check(&self) -> Result<()> {
        within("in_channels", self.in_channels, 1, CHANNELS)?;
        within("classes", self.classes, 1, CLASSES)?;
        within("base", self.base, 1, WIDTH / 4)?;
        within("convs", self.convs, 1, 16)?;
        ensure!(
            [2, 4, 8, 16].contains(&self.superpixel),
            "config field superpixel = {} must be 2, 4, 8 or 16",
            self.superpixel
        );
        Ok(())
    }

    /// The tensors a [`super::UNet`] of this config holds.
    pub fn plan(&self) -> Plan {
        let mut p = Planner::default();
        let (b, n) = (self.base, self.convs);
        let mut multi = |name: &str, cin: usize, cout: usize, mid: usize| {
            let mut c = cin;
            for i in 0..n {
                let out = if i == 0 { mid } else { cout };
                p.conv(&format!("{name}.{}", 3 * i), c, out, 3, true);
                p.bn(&format!("{name}.{}", 3 * i + 1), out);
                c = out;
            }
        };
        multi("inc.conv", self.in_channels, b, b);
        multi("down1.conv", b, 2 * b, 2 * b);
        multi("down2.conv", 2 * b, 2 * b, 2 * b);
        multi("up.conv", 4 * b, 2 * b, 2 * b);
        p.conv("outc", 2 * b, self.classes, 1, true);
        p.0
    }
}
