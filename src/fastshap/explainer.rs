//! The FastSHAP explainer (Jethani et al. 2022; the reference's `FastSHAP.train`): a UNet maps
//! an image to φ [P, K]. Per image, `samples` masks are drawn from the Shapley kernel in
//! complementary pairs; the targets are v(S) = link(surrogate(x, S)), the grand value v(1) comes
//! from the surrogate on the same unmasked image and the null v(0) from the fully masked input.
//! The loss is [`crate::ops::loss::fastshap_loss`] with efficiency normalisation and penalty λ;
//! Adam 2e-4, batch 128, reduce-on-plateau and early stopping on the loss over fixed, seeded
//! validation masks; the best validation model is kept. [`explain_batch`] applies the same
//! normalisation at inference, so with additive normalisation Σ_P φ = v(1) − v(0) exactly.

use super::{META_CLASSES, META_ROLE, META_SUPERPIXEL, SurrogateModel, link_values, mix, players};
use crate::checkpoint;
use crate::data::{Batch, Dataset};
use crate::models::{
    Plan, ResNetExplainer, ResNetExplainerConfig, UNet, UNetConfig, VitExplainer,
    VitExplainerConfig,
};
use crate::nn::{Module, init_rng};
use crate::ops::loss::{Normalization, fastshap_loss};
use crate::ops::{
    self,
    masking::{all_present, apply_player_mask},
    optim,
};
use crate::shap::Link;
use crate::shap::sampler::ShapleySampler;
use crate::train::RunOptions;
use crate::train::config::{AugmentKind, Preset};
use crate::train::epoch_loop;
use crate::train::model::{META_ARCH, META_CONFIG};
use crate::train::schedule::Schedule;
use crate::train::state::{self, Resumed};
use crate::train::task::{EpochBase, Meta, StepLoss, Task, Weigh};
use crate::{Tensor, no_grad};
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Checkpoint metadata: the [`ExplainerConfig`] as JSON.
pub const META_EXPLAINER: &str = "fastshap.explainer";
/// Checkpoint metadata: the surrogate's checkpoint path.
pub const META_SURROGATE_PATH: &str = "fastshap.surrogate_path";

/// The game's link, as a flag and in config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    LogSoftmax,
    Softmax,
    Logit,
    Identity,
}

impl LinkKind {
    pub fn link(self) -> Link {
        match self {
            LinkKind::LogSoftmax => Link::LogSoftmax,
            LinkKind::Softmax => Link::Softmax,
            LinkKind::Logit => Link::Logit,
            LinkKind::Identity => Link::Identity,
        }
    }
}

/// Efficiency normalisation, as a flag and in config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NormKind {
    None,
    Additive,
    Multiplicative,
}

impl NormKind {
    pub fn normalization(self) -> Normalization {
        match self {
            NormKind::None => Normalization::None,
            NormKind::Additive => Normalization::Additive,
            NormKind::Multiplicative => Normalization::Multiplicative,
        }
    }
}

/// The explainer's network, as a flag and in config files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ExplainerArch {
    /// The FastSHAP paper's UNet on the image.
    #[default]
    Unet,
    /// The surrogate's own ViT (its weights as the start) with a per-token head (ViT Shapley).
    Vit,
    /// The surrogate's own ResNet (its weights as the start) with a per-cell head on its last
    /// 4×4 map (ViT Shapley's idea for a ResNet surrogate; superpixel 8, 4, 2 or 1).
    Resnet,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplainerConfig {
    /// Which network maps the image to φ (configs from before the choice are UNets).
    #[serde(default)]
    pub arch: ExplainerArch,
    /// in_channels 3; classes and superpixel are set from the surrogate. Its `classes` and
    /// `superpixel` give the explainer's output [P, K] whichever the network.
    pub unet: UNetConfig,
    /// The ViT explainer's config (`arch = vit`): set from the surrogate's ViT.
    #[serde(default)]
    pub vit: Option<VitExplainerConfig>,
    /// The ResNet explainer's config (`arch = resnet`): set from the surrogate's ResNet.
    #[serde(default)]
    pub resnet: Option<ResNetExplainerConfig>,
    /// The surrogate's checkpoint (recorded; the training function takes the model itself).
    pub surrogate: PathBuf,
    pub data: String,
    pub link: LinkKind,
    pub normalization: NormKind,
    pub eff_lambda: f64,
    /// Masks per image, in complementary pairs (even).
    pub samples: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub schedule: Schedule,
    /// Stop after this many epochs without a better validation loss.
    pub early_stop: usize,
    pub augment: AugmentKind,
    /// Fixed masks per validation image (even).
    pub val_samples: usize,
    pub seed: u64,
    pub train_limit: Option<usize>,
    pub val_limit: Option<usize>,
}

impl ExplainerConfig {
    /// The reference's recipe: Adam 2e-4, batch 128, 2 paired samples, additive normalisation,
    /// λ = 1e-2, ReduceLROnPlateau (0.5, patience 2, min 1e-5), early stop after 5 epochs.
    pub fn recipe(preset: Preset, surrogate: &Path, data: &str) -> ExplainerConfig {
        let unet = match preset {
            Preset::Full => UNetConfig::fastshap_cifar(),
            Preset::Tiny => UNetConfig {
                base: 16,
                convs: 1,
                ..UNetConfig::fastshap_cifar()
            },
        };
        ExplainerConfig {
            arch: ExplainerArch::Unet,
            unet,
            vit: None,
            resnet: None,
            surrogate: surrogate.to_path_buf(),
            data: data.to_string(),
            link: LinkKind::LogSoftmax,
            normalization: NormKind::Additive,
            eff_lambda: 1e-2,
            samples: 2,
            epochs: 100,
            batch_size: 128,
            lr: 2e-4,
            schedule: Schedule::plateau_fastshap(),
            early_stop: 5,
            augment: AugmentKind::None,
            val_samples: 2,
            seed: 0,
            train_limit: None,
            val_limit: None,
        }
    }

    /// The config with the surrogate's classes and superpixel, as trained and recorded.
    pub fn for_surrogate(mut self, surrogate: &dyn SurrogateModel) -> Self {
        self.unet.classes = surrogate.classes();
        self.unet.superpixel = surrogate.superpixel();
        self.vit = match (self.arch, surrogate.vit()) {
            (ExplainerArch::Vit, Some(v)) => Some(VitExplainerConfig::for_backbone(
                v.config.clone(),
                surrogate.superpixel(),
            )),
            _ => None,
        };
        self.resnet = match (self.arch, surrogate.resnet()) {
            (ExplainerArch::Resnet, Some(r)) => Some(ResNetExplainerConfig::for_backbone(
                r.config.clone(),
                surrogate.superpixel(),
            )),
            _ => None,
        };
        self
    }

    pub fn validate(&self) -> Result<()> {
        super::check_superpixel(self.unet.superpixel)?;
        ensure!(
            self.samples >= 2 && self.samples.is_multiple_of(2),
            "--samples must be even and at least 2 (masks come in complementary pairs), got {}",
            self.samples
        );
        ensure!(
            self.val_samples >= 2 && self.val_samples.is_multiple_of(2),
            "--val-samples must be even and at least 2, got {}",
            self.val_samples
        );
        ensure!(
            self.eff_lambda.is_finite() && self.eff_lambda >= 0.0,
            "--eff-lambda must be ≥ 0, got {}",
            self.eff_lambda
        );
        ensure!(self.epochs >= 1, "--epochs must be at least 1");
        ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        ensure!(
            self.lr.is_finite() && self.lr > 0.0,
            "--lr must be a positive number, got {}",
            self.lr
        );
        ensure!(self.early_stop >= 1, "--early-stop must be at least 1");
        ensure!(
            self.unet.in_channels == 3,
            "the explainer sees RGB images (3 channels)"
        );
        if let Some(vit) = &self.vit {
            vit.check()?;
        }
        if let Some(resnet) = &self.resnet {
            resnet.check()?;
        }
        for (name, lim) in [
            ("--train-limit", self.train_limit),
            ("--val-limit", self.val_limit),
        ] {
            ensure!(lim != Some(0), "{name} must be at least 1");
        }
        Ok(())
    }
}

/// One line of an explainer run's `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplainerMetrics {
    pub epoch: usize,
    pub step: u64,
    pub train_loss: f64,
    /// The loss on the validation images with fixed masks (early stopping, best model).
    pub val_loss: f64,
    pub lr: f64,
    pub images_per_s: f64,
    pub seconds: f64,
}

/// The network of an explainer.
pub enum ExplainerNet {
    Unet(UNet),
    Vit(VitExplainer),
    Resnet(ResNetExplainer),
}

/// A trained explainer: its network with the link and normalisation it was trained with.
pub struct Explainer {
    pub net: ExplainerNet,
    pub config: ExplainerConfig,
    pub classes: Vec<String>,
}

impl Explainer {
    /// The network at its seeded initial weights (a ViT explainer's backbone still random: see
    /// [`Explainer::initial`]).
    pub fn new(config: ExplainerConfig, classes: Vec<String>) -> Result<Explainer> {
        let rng = &mut init_rng(config.seed);
        let net = match (config.arch, &config.vit) {
            (ExplainerArch::Unet, _) => ExplainerNet::Unet(UNet::new(config.unet.clone(), rng)?),
            (ExplainerArch::Vit, Some(v)) => ExplainerNet::Vit(VitExplainer::new(v.clone(), rng)?),
            (ExplainerArch::Vit, None) => bail!("a ViT explainer needs its ViT config"),
            (ExplainerArch::Resnet, _) => match &config.resnet {
                Some(r) => ExplainerNet::Resnet(ResNetExplainer::new(r.clone(), rng)?),
                None => bail!("a ResNet explainer needs its ResNet config"),
            },
        };
        Ok(Explainer {
            net,
            config,
            classes,
        })
    }

    /// The explainer before training: [`Explainer::new`], and a ViT or ResNet explainer's
    /// backbone set to the surrogate's weights.
    pub fn initial(
        config: ExplainerConfig,
        classes: Vec<String>,
        surrogate: &dyn SurrogateModel,
    ) -> Result<Explainer> {
        let e = Explainer::new(config, classes)?;
        if let ExplainerNet::Vit(v) = &e.net {
            let vit = surrogate
                .vit()
                .context("a ViT explainer starts from a ViT surrogate")?;
            v.init_from(vit)?;
        }
        if let ExplainerNet::Resnet(r) = &e.net {
            let resnet = surrogate
                .resnet()
                .context("a ResNet explainer starts from a ResNet surrogate")?;
            r.init_from(resnet)?;
        }
        Ok(e)
    }

    /// The network's parameters and buffers.
    pub fn module(&self) -> &dyn Module {
        match &self.net {
            ExplainerNet::Unet(u) => u,
            ExplainerNet::Vit(v) => v,
            ExplainerNet::Resnet(r) => r,
        }
    }

    /// What the network is, for logs: e.g. "UNet base 16 × 1 convs".
    pub fn describe(&self) -> String {
        match &self.net {
            ExplainerNet::Unet(u) => {
                format!("UNet base {} × {} convs", u.config.base, u.config.convs)
            }
            ExplainerNet::Vit(v) => {
                let b = &v.config.backbone;
                format!(
                    "ViT explainer (dim {}, depth {}, patch {}, from the surrogate)",
                    b.dim, b.depth, b.patch
                )
            }
            ExplainerNet::Resnet(r) => {
                let b = &r.config.backbone;
                format!(
                    "ResNet explainer (widths {:?}, blocks {:?}, from the surrogate)",
                    b.widths, b.blocks
                )
            }
        }
    }

    pub fn superpixel(&self) -> usize {
        self.config.unet.superpixel
    }

    /// φ before normalisation: images `x` [B, 3, 32, 32] → [B, P, K]. `full` is
    /// `all_present(x)`, what the backbone explainers read: the caller has it for v(1) too.
    pub fn raw_phi(&self, x: &Tensor, full: &Tensor, train: bool) -> Result<Tensor> {
        let unet = match &self.net {
            ExplainerNet::Unet(u) => u,
            ExplainerNet::Vit(v) => return v.forward_present(full),
            ExplainerNet::Resnet(r) => return r.forward_present(full),
        };
        let out = unet.forward(x, train)?; // [B, K, g, g]
        let (b, k) = (out.dim(0), out.dim(1));
        let p = out.dim(2) * out.dim(3);
        out.reshape(&[b, k, p])?.permute(&[0, 2, 1])
    }

    pub fn metadata(&self, surrogate: &Path, epoch: usize) -> Result<HashMap<String, String>> {
        Ok(HashMap::from([
            (META_ARCH.into(), self.arch_name().into()),
            (META_CONFIG.into(), self.net_config()?),
            (META_ROLE.into(), "explainer".into()),
            (META_SUPERPIXEL.into(), self.superpixel().to_string()),
            (META_CLASSES.into(), serde_json::to_string(&self.classes)?),
            (META_EXPLAINER.into(), serde_json::to_string(&self.config)?),
            (
                META_SURROGATE_PATH.into(),
                surrogate.to_string_lossy().into_owned(),
            ),
            ("fastshap.epoch".into(), epoch.to_string()),
        ]))
    }

    fn arch_name(&self) -> &'static str {
        match self.net {
            ExplainerNet::Unet(_) => "unet",
            ExplainerNet::Vit(_) => "vit-explainer",
            ExplainerNet::Resnet(_) => "resnet-explainer",
        }
    }

    fn net_config(&self) -> Result<String> {
        Ok(match &self.net {
            ExplainerNet::Unet(u) => serde_json::to_string(&u.config)?,
            ExplainerNet::Vit(v) => serde_json::to_string(&v.config)?,
            ExplainerNet::Resnet(r) => serde_json::to_string(&r.config)?,
        })
    }

    /// Rebuilds and loads an explainer checkpoint; also returns the surrogate path it records.
    /// Its metadata and header are checked before anything is allocated ([`check_metadata`]).
    pub fn load(path: &Path) -> Result<(Explainer, PathBuf)> {
        let meta = checkpoint::read_metadata(path)?;
        let checked = check_metadata(&path.display().to_string(), &meta)?;
        checkpoint::check_tensors(path, &checked.plan)?;
        let e = Explainer::new(checked.config, checked.classes)?;
        checkpoint::load(e.module(), path)?;
        Ok((e, checked.surrogate))
    }

    /// [`Explainer::load`] from the checkpoint's bytes (the browser's path; `name` is used in
    /// errors). The metadata gets the same checks before anything is allocated; the tensors are
    /// checked against the network as they load.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<(Explainer, PathBuf)> {
        let meta = checkpoint::metadata_of(name, bytes)?;
        let checked = check_metadata(name, &meta)?;
        let e = Explainer::new(checked.config, checked.classes)?;
        checkpoint::load_bytes(e.module(), name, bytes)?;
        Ok((e, checked.surrogate))
    }
}

/// An explainer checkpoint's metadata, checked.
pub struct CheckedMeta {
    pub config: ExplainerConfig,
    pub classes: Vec<String>,
    /// The UNet's tensors.
    pub plan: Plan,
    /// The surrogate path it records (empty when none).
    pub surrogate: PathBuf,
}

/// Checks an explainer checkpoint's metadata (`file` names it in errors): role, config, UNet
/// bounds, superpixel and classes. Host only, so it can be fuzzed.
pub fn check_metadata(file: &str, meta: &checkpoint::Metadata) -> Result<CheckedMeta> {
    if meta.get(META_ROLE).map(String::as_str) != Some("explainer") {
        bail!("{file} is not an explainer checkpoint (train one with `fastshap explainer`)");
    }
    let config: ExplainerConfig = meta
        .get(META_EXPLAINER)
        .and_then(|s| serde_json::from_str(s).ok())
        .with_context(|| format!("{file}: no valid {META_EXPLAINER}"))?;
    let classes: Vec<String> = meta
        .get(META_CLASSES)
        .and_then(|s| serde_json::from_str(s).ok())
        .with_context(|| format!("{file}: no valid {META_CLASSES}"))?;
    let unet = &config.unet;
    unet.check()
        .with_context(|| format!("{file}: bad UNet config in {META_EXPLAINER}"))?;
    ensure!(
        unet.in_channels == 3,
        "{file}: the UNet in {META_EXPLAINER} takes {} channels; an explainer sees RGB (3)",
        unet.in_channels
    );
    let superpixel = meta.get(META_SUPERPIXEL).and_then(|s| s.parse().ok());
    ensure!(
        superpixel == Some(unet.superpixel),
        "{file}: {META_SUPERPIXEL} {:?} is not the UNet's superpixel {}",
        meta.get(META_SUPERPIXEL),
        unet.superpixel
    );
    let plan = match config.arch {
        ExplainerArch::Unet => unet.plan(),
        ExplainerArch::Vit => {
            let v = (config.vit.as_ref())
                .with_context(|| format!("{file}: a ViT explainer without its ViT config"))?;
            check_backbone(file, "ViT", v.check(), (v.superpixel, v.classes), unet)?;
            v.plan()
        }
        ExplainerArch::Resnet => {
            let r = (config.resnet.as_ref())
                .with_context(|| format!("{file}: a ResNet explainer without its ResNet config"))?;
            check_backbone(file, "ResNet", r.check(), (r.superpixel, r.classes), unet)?;
            r.plan()
        }
    };
    crate::models::spec::check_size(&plan)
        .with_context(|| format!("{file}: bad UNet config in {META_EXPLAINER}"))?;
    let surrogate = meta
        .get(META_SURROGATE_PATH)
        .map(PathBuf::from)
        .unwrap_or_default();
    Ok(CheckedMeta {
        config,
        classes,
        plan,
        surrogate,
    })
}

/// A backbone explainer's own config checked, and its players and classes the explainer's.
fn check_backbone(
    file: &str,
    what: &str,
    checked: Result<()>,
    (superpixel, classes): (usize, usize),
    unet: &UNetConfig,
) -> Result<()> {
    checked.with_context(|| format!("{file}: bad {what} explainer config in {META_EXPLAINER}"))?;
    ensure!(
        superpixel == unet.superpixel && classes == unet.classes,
        "{file}: the {what} explainer's superpixel/classes ({superpixel}, {classes}) are not \
         the explainer's ({}, {})",
        unet.superpixel,
        unet.classes
    );
    Ok(())
}

/// v(0) [K]: the surrogate on the fully masked input (which no longer depends on the image).
pub fn null_value(surrogate: &dyn SurrogateModel, link: Link) -> Result<Tensor> {
    let _g = no_grad();
    let s = surrogate.superpixel();
    let x = Tensor::zeros(&[1, 3, 32, 32])?;
    let masked = apply_player_mask(&x, &Tensor::zeros(&[1, players(s)])?, s)?;
    let k = surrogate.classes();
    link_values(link, &surrogate.logits(&masked)?)?.reshape(&[k])
}

/// (v(1) [B, K], surrogate logits [B, K]) on the unmasked images, given as `full` =
/// `all_present(images)`.
fn grand_value(
    surrogate: &dyn SurrogateModel,
    link: Link,
    full: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let _g = no_grad();
    let logits = surrogate.logits(full)?;
    Ok((link_values(link, &logits)?, logits))
}

/// v(S) [B·M, K] for masks [B·M, P].
fn masked_values(
    surrogate: &dyn SurrogateModel,
    link: Link,
    x: &Tensor,
    masks: &Tensor,
) -> Result<Tensor> {
    let _g = no_grad();
    let masked = apply_player_mask(x, masks, surrogate.superpixel())?;
    link_values(link, &surrogate.logits(&masked)?)
}

/// Whether `explainer` was made for `surrogate` (superpixel size, classes): one clear error if not.
pub fn check_pair(explainer: &ExplainerConfig, surrogate: &dyn SurrogateModel) -> Result<()> {
    ensure!(
        explainer.unet.superpixel == surrogate.superpixel(),
        "the explainer uses superpixel {} but the surrogate was trained with {}",
        explainer.unet.superpixel,
        surrogate.superpixel()
    );
    ensure!(
        explainer.unet.classes == surrogate.classes(),
        "the explainer has {} classes, the surrogate {}",
        explainer.unet.classes,
        surrogate.classes()
    );
    Ok(())
}

/// An explained batch, host-side, player-major: φ[b][p][k].
#[derive(Clone, Debug)]
pub struct Explanation {
    pub images: usize,
    pub players: usize,
    pub classes: usize,
    /// [B, P, K], normalised as the explainer was trained.
    pub phi: Vec<f32>,
    /// The surrogate's class probabilities on the full images [B, K].
    pub probs: Vec<f32>,
    /// v(1) [B, K] and v(0) [K] under the explainer's link.
    pub grand: Vec<f32>,
    pub null: Vec<f32>,
}

impl Explanation {
    /// φ of image `i` as [P, K].
    pub fn phi_of(&self, i: usize) -> &[f32] {
        let n = self.players * self.classes;
        &self.phi[i * n..(i + 1) * n]
    }
}

/// Explains normalised images [B, 3, 32, 32]: the explainer's φ, normalised with the surrogate's
/// v(1) − v(0) exactly as in training (on the host in f64, so the additive sums are exact to f32
/// rounding), plus the surrogate's probabilities on the full images.
pub fn explain_batch(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    images: &Tensor,
) -> Result<Explanation> {
    let t = explain_tensors(explainer, surrogate, images)?;
    let host = [
        t[0].to_vec()?,
        t[1].to_vec()?,
        t[2].to_vec()?,
        t[3].to_vec()?,
    ];
    Ok(normalize_explanation(explainer, host))
}

/// [`explain_batch`] without blocking on the read-backs (a browser page's event loop must run
/// for them to complete); the same launches and the same arithmetic.
pub async fn explain_batch_async(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    images: &Tensor,
) -> Result<Explanation> {
    let t = explain_tensors(explainer, surrogate, images)?;
    let mut host = Vec::with_capacity(4);
    for x in &t {
        host.push(x.to_vec_async().await?);
    }
    let host: [Vec<f32>; 4] = host.try_into().expect("four read-backs");
    Ok(normalize_explanation(explainer, host))
}

/// The device side of an explanation, recorded but not read: raw φ [B, P, K], v(1) [B, K],
/// the surrogate's probabilities [B, K] and v(0) [K].
fn explain_tensors(
    explainer: &Explainer,
    surrogate: &dyn SurrogateModel,
    images: &Tensor,
) -> Result<[Tensor; 4]> {
    check_pair(&explainer.config, surrogate)?;
    let _g = no_grad();
    let link = explainer.config.link.link();
    let full = all_present(images)?;
    let raw = explainer.raw_phi(images, &full, false)?;
    let (grand, logits) = grand_value(surrogate, link, &full)?;
    let null = null_value(surrogate, link)?;
    Ok([raw, grand, logits.softmax()?, null])
}

/// φ normalised on the host from what [`explain_tensors`] computed, read back.
fn normalize_explanation(explainer: &Explainer, host: [Vec<f32>; 4]) -> Explanation {
    let [mut phi, grand, probs, null] = host;
    let (k, b) = (null.len(), grand.len() / null.len().max(1));
    let p = phi.len() / (b * k).max(1);
    let norm = explainer.config.normalization;
    for i in 0..b {
        let rows = &mut phi[i * p * k..(i + 1) * p * k];
        for c in 0..k {
            let gap = grand[i * k + c] as f64 - null[c] as f64;
            let sum: f64 = (0..p).map(|j| rows[j * k + c] as f64).sum();
            for j in 0..p {
                let v = &mut rows[j * k + c];
                *v = match norm {
                    NormKind::None => *v,
                    NormKind::Additive => (*v as f64 + (gap - sum) / p as f64) as f32,
                    NormKind::Multiplicative => (*v as f64 * gap / sum) as f32,
                };
            }
        }
    }
    Explanation {
        images: b,
        players: p,
        classes: k,
        phi,
        probs,
        grand,
        null,
    }
}

/// Validation images with their fixed masks and precomputed values (the surrogate is fixed and
/// validation images are not augmented, so these never change).
struct ValBatch {
    x: Tensor,
    /// `all_present(x)`, what a backbone explainer reads.
    full: Tensor,
    masks: Tensor,
    grand: Tensor,
    values: Tensor,
}

fn prepare_val(
    cfg: &ExplainerConfig,
    surrogate: &dyn SurrogateModel,
    val: &Dataset,
) -> Result<Vec<ValBatch>> {
    let _g = no_grad();
    let link = cfg.link.link();
    let p = players(cfg.unet.superpixel);
    let mut sampler = ShapleySampler::new(p, mix(&[cfg.seed, u64::MAX]));
    let mut out = Vec::new();
    for start in (0..val.len()).step_by(cfg.batch_size) {
        let idx: Vec<usize> = (start..(start + cfg.batch_size).min(val.len())).collect();
        let b = idx.len();
        let x = Tensor::from_slice(&val.batch(&idx).0, &[b, 3, 32, 32])?;
        let m = cfg.val_samples;
        let masks = Tensor::from_slice(&sampler.sample_paired(b * m / 2), &[b * m, p])?;
        let full = all_present(&x)?;
        out.push(ValBatch {
            grand: grand_value(surrogate, link, &full)?.0,
            values: masked_values(surrogate, link, &x, &masks)?,
            x,
            full,
            masks,
        });
    }
    Ok(out)
}

fn val_loss(
    explainer: &Explainer,
    cfg: &ExplainerConfig,
    null: &Tensor,
    batches: &[ValBatch],
) -> Result<f64> {
    let _g = no_grad();
    let mut parts = Vec::new();
    let mut n = 0;
    for vb in batches {
        let b = vb.x.dim(0);
        let phi = explainer.raw_phi(&vb.x, &vb.full, false)?;
        let l = fastshap_loss(
            &phi,
            &vb.masks,
            null,
            &vb.grand,
            &vb.values,
            cfg.normalization.normalization(),
            cfg.eff_lambda as f32,
        )?;
        parts.push(l.mul_scalar(b as f32)?.reshape(&[1])?);
        n += b;
    }
    let v = ops::plumbing::concat(&parts.iter().collect::<Vec<_>>(), 0)?.to_vec()?;
    Ok(v.iter().map(|&x| x as f64).sum::<f64>() / n as f64)
}

pub struct ExplainerSummary {
    /// The validation loss of the untrained explainer (the baseline training must beat).
    pub initial_val_loss: f64,
    pub metrics: Vec<ExplainerMetrics>,
    pub best_epoch: usize,
    pub early_stopped: bool,
    /// True when `stop_after_epoch` ended the run (continue it with `resume`).
    pub stopped: bool,
}

/// The explainer's side of the shared epoch loop.
struct ExplainerTask<'a> {
    cfg: &'a ExplainerConfig,
    explainer: Explainer,
    surrogate: &'a dyn SurrogateModel,
    /// v(0) [K].
    null: Tensor,
    val: Vec<ValBatch>,
}

impl Task for ExplainerTask<'_> {
    /// The epoch's coalitions.
    type Epoch = ShapleySampler;
    type Val = f64;
    type Metrics = ExplainerMetrics;
    const RUN: &'static str = "explainer training";
    const WEIGH: Weigh = Weigh::Device;

    fn module(&self) -> &dyn Module {
        self.explainer.module()
    }

    fn begin_epoch(&self, epoch: usize) -> ShapleySampler {
        let p = players(self.cfg.unet.superpixel);
        ShapleySampler::new(p, mix(&[self.cfg.seed, epoch as u64, 11]))
    }

    fn loss(&self, sampler: &mut ShapleySampler, batch: &Batch) -> Result<StepLoss> {
        let cfg = self.cfg;
        let link = cfg.link.link();
        let (b, p, m) = (batch.len(), players(cfg.unet.superpixel), cfg.samples);
        let x = Tensor::from_slice(&batch.images, &[b, 3, 32, 32])?;
        let masks = Tensor::from_slice(&sampler.sample_paired(b * m / 2), &[b * m, p])?;
        let values = masked_values(self.surrogate, link, &x, &masks)?;
        // v(1) of this very (possibly augmented) image, not a precomputed one.
        let full = all_present(&x)?;
        let (grand, _) = grand_value(self.surrogate, link, &full)?;
        let phi = self.explainer.raw_phi(&x, &full, true)?;
        fastshap_loss(
            &phi,
            &masks,
            &self.null,
            &grand,
            &values,
            cfg.normalization.normalization(),
            cfg.eff_lambda as f32,
        )
        .map(Into::into)
    }

    fn validate(&self) -> Result<(f64, f64)> {
        let vl = val_loss(&self.explainer, self.cfg, &self.null, &self.val)?;
        Ok((vl, vl))
    }

    fn metrics(&self, b: EpochBase, val_loss: f64) -> ExplainerMetrics {
        ExplainerMetrics {
            epoch: b.epoch,
            step: b.step,
            train_loss: b.train_loss,
            val_loss,
            lr: b.lr,
            images_per_s: b.images_per_s,
            seconds: b.seconds,
        }
    }

    fn epoch_of(m: &ExplainerMetrics) -> usize {
        m.epoch
    }

    fn last_meta(&self, epoch: usize) -> Result<Meta> {
        self.explainer.metadata(&self.cfg.surrogate, epoch)
    }

    fn print_epoch(&self, m: &ExplainerMetrics, epochs: usize, is_best: bool) {
        println!(
            "epoch {}/{}: train loss {:.5} | val loss {:.5} | lr {:.2e} | {:.0} img/s | {:.1} s{}",
            m.epoch,
            epochs,
            m.train_loss,
            m.val_loss,
            m.lr,
            m.images_per_s,
            m.seconds,
            if is_best { " (best)" } else { "" }
        );
    }
}

/// An explainer run's config and state from its `last.safetensors`, for `resume`.
pub fn read_resume(dir: &Path) -> Result<Resumed<ExplainerConfig>> {
    state::read_resume_as(dir, META_EXPLAINER)
}

/// Trains an explainer of `surrogate` on `train` (validation on `val`) into `dir`. `cfg.unet`'s
/// classes and superpixel are taken from the surrogate. With `resume` (from [`read_resume`] on
/// `dir`), continues that run exactly where its last checkpoint left it.
pub fn train_explainer(
    cfg: &ExplainerConfig,
    surrogate: &dyn SurrogateModel,
    train: &Dataset,
    val: &Dataset,
    dir: &Path,
    resume: Option<&Resumed<ExplainerConfig>>,
    opts: &RunOptions,
) -> Result<ExplainerSummary> {
    let cfg = &cfg.clone().for_surrogate(surrogate);
    cfg.validate()?;
    ensure!(
        cfg.arch != ExplainerArch::Vit || cfg.vit.is_some(),
        "--explainer-arch vit starts from the surrogate's ViT: train the surrogate with --arch \
         vit (this one is not a ViT)"
    );
    ensure!(
        cfg.arch != ExplainerArch::Resnet || cfg.resnet.is_some(),
        "--explainer-arch resnet starts from the surrogate's ResNet: train the surrogate with \
         --arch resnet18 (this one is not a ResNet)"
    );
    epoch_loop::prepare_dir(dir, resume.is_some())?;
    let train_set = Arc::new(train.spread_subset(cfg.train_limit));
    let val_set = val.spread_subset(cfg.val_limit);
    ensure!(!train_set.is_empty(), "the training set is empty");
    ensure!(!val_set.is_empty(), "the validation set is empty");
    ensure!(
        train_set.num_classes() == surrogate.classes(),
        "the data has {} classes, the surrogate {}",
        train_set.num_classes(),
        surrogate.classes()
    );
    let explainer = Explainer::initial(cfg.clone(), train_set.classes.clone(), surrogate)?;
    let mut opt = optim::Optimizer::adam(
        explainer.module().parameters(),
        cfg.lr as f32,
        optim::Adam::default(),
    )?;
    let link = cfg.link.link();
    let p = players(cfg.unet.superpixel);
    let null = null_value(surrogate, link)?;
    let val_batches = prepare_val(cfg, surrogate, &val_set)?;
    // Of the untrained explainer (rebuilt from the seed when resuming).
    let initial_val_loss = val_loss(&explainer, cfg, &null, &val_batches)?;
    if !opts.quiet {
        println!(
            "explainer {} ({} parameters): {p} players, link {:?}, \
             normalisation {:?}, λ {}, {} paired samples/image, Adam lr {:e}, batch {}, {}; \
             {} training / {} validation images; untrained val loss {:.5}",
            explainer.describe(),
            explainer.module().parameter_count(),
            cfg.link,
            cfg.normalization,
            cfg.eff_lambda,
            cfg.samples,
            cfg.lr,
            cfg.batch_size,
            cfg.schedule.describe(),
            train_set.len(),
            val_set.len(),
            initial_val_loss
        );
    }
    let task = ExplainerTask {
        cfg,
        explainer,
        surrogate,
        null,
        val: val_batches,
    };
    let s = epoch_loop::run(&task, &mut opt, cfg, train_set, dir, resume, opts)?;
    Ok(ExplainerSummary {
        initial_val_loss,
        metrics: s.metrics,
        best_epoch: s.best_epoch,
        early_stopped: s.early_stopped,
        stopped: s.stopped,
    })
}

/// The tiny-preset recipe with `surrogate`'s sizes, for tests and quick runs.
pub fn tiny_config(surrogate: &dyn SurrogateModel) -> ExplainerConfig {
    let mut c = ExplainerConfig::recipe(Preset::Tiny, Path::new(""), "embedded");
    c.unet.classes = surrogate.classes();
    c.unet.superpixel = surrogate.superpixel();
    c
}
