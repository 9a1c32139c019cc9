//! The trainable architectures behind one type, so the loop, checkpoints and `eval` need not
//! know which network they hold. A checkpoint's metadata (`fastshap.arch`, `fastshap.config`)
//! is enough to rebuild the model.

use crate::Tensor;
use crate::checkpoint;
use crate::models::{Mae, MaeClassifier, MaeConfig, Plan, ResNet, ResNetConfig, Vit, VitConfig};
use crate::nn::{InitRng, Kind, Module};
use anyhow::{Context, Result, bail, ensure};
use std::collections::HashMap;
use std::path::Path;

pub const META_ARCH: &str = "fastshap.arch";
pub const META_CONFIG: &str = "fastshap.config";

pub enum Model {
    ResNet(ResNet),
    Vit(Vit),
    /// MAE pre-training (no classes; the loss is the masked reconstruction error).
    Mae(Mae),
    MaeClassifier(MaeClassifier, usize),
}

/// What `fastshap.config` holds for a fine-tuned MAE classifier.
#[derive(serde::Serialize, serde::Deserialize)]
struct MaeClassifierConfig {
    encoder: MaeConfig,
    classes: usize,
}

impl Model {
    /// The name stored in `fastshap.arch`.
    pub fn arch(&self) -> &'static str {
        match self {
            Model::ResNet(_) => "resnet",
            Model::Vit(_) => "vit",
            Model::Mae(_) => "mae",
            Model::MaeClassifier(..) => "mae-classifier",
        }
    }

    pub fn config_json(&self) -> String {
        match self {
            Model::ResNet(m) => serde_json::to_string(&m.config),
            Model::Vit(m) => serde_json::to_string(&m.config),
            Model::Mae(m) => serde_json::to_string(&m.encoder.config),
            Model::MaeClassifier(m, classes) => serde_json::to_string(&MaeClassifierConfig {
                encoder: m.encoder.config.clone(),
                classes: *classes,
            }),
        }
        .expect("configs serialise")
    }

    /// `fastshap.arch` and `fastshap.config` for a checkpoint.
    pub fn metadata(&self) -> HashMap<String, String> {
        HashMap::from([
            (META_ARCH.to_string(), self.arch().to_string()),
            (META_CONFIG.to_string(), self.config_json()),
        ])
    }

    /// A freshly initialised model of the architecture and config a checkpoint's metadata names
    /// (its config checked against sane bounds first, see [`Spec::parse`]).
    pub fn from_metadata(meta: &HashMap<String, String>, rng: &mut InitRng) -> Result<Model> {
        Spec::parse(meta)?.build(rng)
    }

    /// Checks checkpoint `path` against the network its metadata `meta` names (bounds, then
    /// every tensor's name, shape, dtype and size and the device's limits, from the header
    /// alone), and only then builds the model (initialised from `rng`) and loads the tensors.
    pub fn load_checked(
        path: &Path,
        meta: &HashMap<String, String>,
        rng: &mut InitRng,
    ) -> Result<Model> {
        let spec = Spec::parse(meta).with_context(|| path.display().to_string())?;
        spec.load(path, rng)
    }

    /// Classes a classifier predicts (`None` for MAE pre-training).
    pub fn classes(&self) -> Option<usize> {
        match self {
            Model::ResNet(m) => Some(m.config.classes),
            Model::Vit(m) => Some(m.config.classes),
            Model::MaeClassifier(_, k) => Some(*k),
            Model::Mae(_) => None,
        }
    }

    pub fn is_classifier(&self) -> bool {
        !matches!(self, Model::Mae(_))
    }

    /// Logits [B, classes] of a classifier.
    pub fn logits(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Model::ResNet(m) => m.forward(x, train),
            Model::Vit(m) => m.forward(x, train),
            Model::MaeClassifier(m, _) => m.forward(x, train),
            Model::Mae(_) => bail!("an MAE being pre-trained has no logits"),
        }
    }
}

impl Model {
    /// The surrogate game's fast path where this network has one: logits of coalitions of
    /// `image`'s superpixels of side `s` (host rows of P mask values), equal to [`Model::logits`]
    /// of the masked image with its mask channel, without building either (see
    /// `models::VitCoalitions`). `None`: evaluate masked images.
    pub fn coalition_logits<'a>(
        &'a self,
        image: &Tensor,
        s: usize,
    ) -> Result<Option<CoalitionLogits<'a>>> {
        Ok(match self {
            Model::Vit(m) => {
                let c = m.coalitions(image, s)?;
                Some(Box::new(move |masks: &[f32]| c.logits(masks)))
            }
            Model::ResNet(m) => {
                let c = m.coalitions(image, s)?;
                Some(Box::new(move |masks: &[f32]| c.logits(masks)))
            }
            _ => None,
        })
    }
}

/// A network as a checkpoint's metadata names it, parsed and within bounds, with the tensors it
/// will hold: nothing is allocated until [`Spec::build`].
pub struct Spec {
    config: Config,
    pub plan: Plan,
}

enum Config {
    ResNet(ResNetConfig),
    Vit(VitConfig),
    Mae(MaeConfig),
    MaeClassifier(MaeClassifierConfig),
}

impl Spec {
    /// `fastshap.arch` and `fastshap.config`, parsed and checked against sane bounds
    /// ([`crate::models::spec`]); the error names the field.
    pub fn parse(meta: &HashMap<String, String>) -> Result<Spec> {
        let arch = meta
            .get(META_ARCH)
            .with_context(|| format!("checkpoint metadata has no {META_ARCH}"))?;
        let json = meta
            .get(META_CONFIG)
            .with_context(|| format!("checkpoint metadata has no {META_CONFIG}"))?;
        let bad = || format!("checkpoint's {META_CONFIG} is not a valid {arch} config");
        let (config, plan): (Config, Plan) = match arch.as_str() {
            "resnet" => {
                let c: ResNetConfig = serde_json::from_str(json).with_context(bad)?;
                c.check().with_context(bad)?;
                {
                    let plan = c.plan();
                    (Config::ResNet(c), plan)
                }
            }
            "vit" => {
                let c: VitConfig = serde_json::from_str(json).with_context(bad)?;
                c.check().with_context(bad)?;
                {
                    let plan = c.plan();
                    (Config::Vit(c), plan)
                }
            }
            "mae" => {
                let c: MaeConfig = serde_json::from_str(json).with_context(bad)?;
                c.check(true).with_context(bad)?;
                {
                    let plan = c.plan();
                    (Config::Mae(c), plan)
                }
            }
            "mae-classifier" => {
                let c: MaeClassifierConfig = serde_json::from_str(json).with_context(bad)?;
                c.encoder.check(false).with_context(bad)?;
                ensure!(
                    (1..=100_000).contains(&c.classes),
                    "{}: config field classes = {} is outside the sane range 1..=100000",
                    bad(),
                    c.classes
                );
                {
                    let plan = c.encoder.plan_classifier(c.classes);
                    (Config::MaeClassifier(c), plan)
                }
            }
            other => bail!("unknown architecture {other:?} in checkpoint metadata"),
        };
        crate::models::spec::check_size(&plan).with_context(bad)?;
        Ok(Spec { config, plan })
    }

    /// Checks `path`'s header against [`Spec::plan`], then builds the network and loads it.
    pub fn load(self, path: &Path, rng: &mut InitRng) -> Result<Model> {
        checkpoint::check_tensors(path, &self.plan)?;
        let model = self.build(rng)?;
        checkpoint::load(&model, path)?;
        Ok(model)
    }

    /// Classes the network predicts (`None` for MAE pre-training).
    pub fn classes(&self) -> Option<usize> {
        match &self.config {
            Config::ResNet(c) => Some(c.classes),
            Config::Vit(c) => Some(c.classes),
            Config::Mae(_) => None,
            Config::MaeClassifier(c) => Some(c.classes),
        }
    }

    /// Whether the network is a classifier (not an MAE being pre-trained).
    pub fn is_classifier(&self) -> bool {
        !matches!(self.config, Config::Mae(_))
    }

    /// The network, freshly initialised.
    pub fn build(self, rng: &mut InitRng) -> Result<Model> {
        Ok(match self.config {
            Config::ResNet(c) => Model::ResNet(ResNet::new(c, rng)?),
            Config::Vit(c) => Model::Vit(Vit::new(c, rng)?),
            Config::Mae(c) => Model::Mae(Mae::new(c, rng)?),
            Config::MaeClassifier(c) => {
                let mae = Mae::new(c.encoder, rng)?;
                Model::MaeClassifier(MaeClassifier::from_mae(mae, c.classes, rng)?, c.classes)
            }
        })
    }
}

/// Logits [N, K] of N host rows of P mask values.
pub type CoalitionLogits<'a> = Box<dyn Fn(&[f32]) -> Result<Tensor> + 'a>;

impl Module for Model {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        match self {
            Model::ResNet(m) => m.visit(prefix, f),
            Model::Vit(m) => m.visit(prefix, f),
            Model::Mae(m) => m.visit(prefix, f),
            Model::MaeClassifier(m, _) => m.visit(prefix, f),
        }
    }
}
