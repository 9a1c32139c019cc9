//! The network behind a classifier checkpoint. Our checkpoints name it in their metadata
//! (`fastshap.arch`, `fastshap.config`); a plain PyTorch `state_dict` saved with safetensors
//! does not, so it is built from `--arch` and what the tensors' names and shapes tell (widths,
//! blocks, depth, patch size, MLP width, classes, input channels). What they cannot tell (the
//! number of attention heads) comes from `--heads` or a JSON config (`--arch-config`).

use super::model::{META_ARCH, META_CONFIG, Model, Spec};
use crate::checkpoint::{self, Metadata};
use crate::models::MaeConfig;
use crate::nn::init_rng;
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The classifiers a plain state dict can hold (PyTorch names as in `tools/fastshap_torch.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum ClassifierArch {
    /// CIFAR ResNet18 (kuangliu/pytorch-cifar names), any widths and blocks.
    #[value(alias = "resnet")]
    Resnet18,
    /// ViT (omihub777/ViT-CIFAR layout; separate q/k/v/o projections).
    Vit,
    /// MAE encoder + linear head (IcarusWizard/MAE `ViT_Classifier` names).
    MaeClassifier,
}

impl ClassifierArch {
    /// The value `--arch` takes.
    pub fn flag(self) -> &'static str {
        match self {
            ClassifierArch::Resnet18 => "resnet18",
            ClassifierArch::Vit => "vit",
            ClassifierArch::MaeClassifier => "mae-classifier",
        }
    }

    /// The name in `fastshap.arch`.
    fn meta_name(self) -> &'static str {
        match self {
            ClassifierArch::Resnet18 => "resnet",
            ClassifierArch::Vit => "vit",
            ClassifierArch::MaeClassifier => "mae-classifier",
        }
    }
}

/// A network as checkpoint metadata holds it: `fastshap.arch` and the `fastshap.config` JSON.
/// A surrogate records its original's, so a plain state dict needs `--arch` only once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub arch: String,
    pub config: Value,
}

impl ModelSpec {
    pub fn metadata(&self) -> Metadata {
        HashMap::from([
            (META_ARCH.to_string(), self.arch.clone()),
            (META_CONFIG.to_string(), self.config.to_string()),
        ])
    }

    /// The spec our checkpoints' metadata names, if it names one.
    pub fn from_metadata(meta: &Metadata) -> Option<ModelSpec> {
        Some(ModelSpec {
            arch: meta.get(META_ARCH)?.clone(),
            config: serde_json::from_str(meta.get(META_CONFIG)?).ok()?,
        })
    }
}

/// The command-line names of the three hints, for error messages (`surrogate` says
/// `--original-arch`, `compare` `--arch-a`).
#[derive(Clone, Copy, Debug)]
pub struct ArchFlags {
    pub arch: &'static str,
    pub heads: &'static str,
    pub config: &'static str,
}

impl Default for ArchFlags {
    fn default() -> ArchFlags {
        ArchFlags {
            arch: "--arch",
            heads: "--heads",
            config: "--arch-config",
        }
    }
}

/// What a user (or a surrogate's record) says about a checkpoint without metadata.
#[derive(Clone, Debug, Default)]
pub struct ArchHint {
    /// `--arch`.
    pub arch: Option<ClassifierArch>,
    /// `--heads`: attention heads of a ViT / MAE classifier.
    pub heads: Option<usize>,
    /// `--arch-config FILE`: config fields (JSON object) that replace the inferred ones.
    pub config: Option<(PathBuf, Map<String, Value>)>,
    /// A spec recorded earlier (a surrogate's record of its original), used when the file has
    /// no metadata and no `--arch` is given.
    pub recorded: Option<ModelSpec>,
    /// How the flags are called where the hint came from.
    pub flags: ArchFlags,
}

impl ArchHint {
    /// `--arch`, `--heads` and the JSON object in `--arch-config` (read now, so a bad file
    /// fails before any work).
    pub fn new(
        arch: Option<ClassifierArch>,
        heads: Option<usize>,
        config: Option<&Path>,
        flags: ArchFlags,
    ) -> Result<ArchHint> {
        ensure!(heads != Some(0), "{} must be at least 1", flags.heads);
        let config = match config {
            None => None,
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {} {}", flags.config, p.display()))?;
                let map: Map<String, Value> = serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{} {} is not a JSON object of config fields \
                         (e.g. {{\"heads\": 12}})",
                        flags.config,
                        p.display()
                    )
                })?;
                Some((p.to_path_buf(), map))
            }
        };
        Ok(ArchHint {
            arch,
            heads,
            config,
            recorded: None,
            flags,
        })
    }

    fn is_given(&self) -> bool {
        self.arch.is_some() || self.heads.is_some() || self.config.is_some()
    }
}

/// How a checkpoint's network was found.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub spec: ModelSpec,
    /// True when built from `--arch` and the tensors (the file has no metadata).
    pub inferred: bool,
}

/// The network of classifier checkpoint `path`: from its metadata, else from `hint`
/// (`--arch` + the tensors' names and shapes, or a recorded spec). Reads the header only.
pub fn resolve(path: &Path, hint: &ArchHint) -> Result<Resolved> {
    let (meta, tensors) = checkpoint::read_header(path)?;
    let file = path.display();
    let flags = &hint.flags;
    if let Some(spec) = ModelSpec::from_metadata(&meta) {
        if let Some(a) = hint.arch
            && a.meta_name() != spec.arch
        {
            bail!(
                "{file} is a {} checkpoint (its metadata says so), not {} {}; drop {}",
                spec.arch,
                flags.arch,
                a.flag(),
                flags.arch
            );
        }
        return Ok(Resolved {
            spec,
            inferred: false,
        });
    }
    if meta.contains_key(META_ARCH) {
        bail!("{file}: its {META_CONFIG} metadata is missing or not JSON");
    }
    let shapes: HashMap<String, Vec<usize>> = tensors.into_iter().collect();
    let Some(arch) = hint.arch else {
        if let Some(spec) = &hint.recorded {
            return Ok(Resolved {
                spec: spec.clone(),
                inferred: true,
            });
        }
        bail!(
            "{file} has no fastshap metadata ({META_ARCH}), so its network is unknown (a plain \
             PyTorch state_dict?): pass {} resnet18|vit|mae-classifier{}",
            flags.arch,
            looks_like(&shapes, flags)
                .map(|l| format!("; its tensor names look like {l}"))
                .unwrap_or_default()
        );
    };
    let inf = Infer {
        file: &file.to_string(),
        arch,
        shapes: &shapes,
        flags,
    };
    let mut config = match arch {
        ClassifierArch::Resnet18 => inf.resnet()?,
        ClassifierArch::Vit => inf.vit(hint.heads)?,
        ClassifierArch::MaeClassifier => inf.mae_classifier(hint.heads)?,
    };
    if let Some((cfg_path, fields)) = &hint.config {
        apply_overrides(&mut config, fields, arch, cfg_path, flags)?;
    }
    inf.check_heads(&config)?;
    Ok(Resolved {
        spec: ModelSpec {
            arch: arch.meta_name().to_string(),
            config,
        },
        inferred: true,
    })
}

/// Builds and loads classifier checkpoint `path` (see [`resolve`]). A tensor that does not fit
/// a network built from the flags is named with both shapes and the flags to check.
pub fn load_classifier(path: &Path, hint: &ArchHint) -> Result<(Model, Resolved)> {
    let r = resolve(path, hint)?;
    let spec = Spec::parse(&r.spec.metadata())
        .with_context(|| format!("{}: cannot build the network", path.display()))?;
    ensure!(
        spec.is_classifier(),
        "{} is an MAE pre-training checkpoint; this command needs a classifier (fine-tune one \
         with `fastshap train --arch mae-classifier --init`)",
        path.display()
    );
    let model = match spec.load(path, &mut init_rng(0)) {
        Ok(m) => m,
        Err(e) if !r.inferred => return Err(e),
        Err(e) => bail!(
            "{e:#}\nThe network was built as {} {} from {}: check {}",
            r.spec.arch,
            r.spec.config,
            if hint.arch.is_some() {
                format!("{} and the file's tensor shapes", hint.flags.arch)
            } else {
                "the spec its surrogate recorded".to_string()
            },
            if hint.is_given() {
                format!(
                    "{}, {} and {}",
                    hint.flags.arch, hint.flags.heads, hint.flags.config
                )
            } else {
                "the surrogate's original".to_string()
            }
        ),
    };
    Ok((model, r))
}

/// Which of our architectures a state dict's names look like, for error messages.
fn looks_like(shapes: &HashMap<String, Vec<usize>>, flags: &ArchFlags) -> Option<String> {
    let has = |n: &str| shapes.contains_key(n);
    if !shapes.is_empty() && shapes.keys().all(|k| k.starts_with("module.")) {
        return Some(
            "a model wrapped in DataParallel (every name starts with \"module.\"); save \
             model.module.state_dict() instead"
                .into(),
        );
    }
    let a = flags.arch;
    Some(if has("layer1.0.conv1.weight") && has("fc.weight") {
        "torchvision's ImageNet ResNet (fc, downsample, 7×7 stem), which fastshap does not \
         build; fastshap's resnet18 is the CIFAR variant (kuangliu/pytorch-cifar: linear, \
         shortcut, 3×3 stem)"
            .to_string()
    } else if has("conv1.weight") && has("linear.weight") {
        format!("{a} resnet18")
    } else if has("emb.weight") && has("pos_emb") {
        format!("{a} vit")
    } else if has("patchify.weight") && has("head.weight") {
        format!("{a} mae-classifier")
    } else if has("encoder.patchify.weight") {
        "an MAE pre-training checkpoint (encoder + decoder), not a classifier".to_string()
    } else {
        return None;
    })
}

/// Reads an architecture's config off a state dict's names and shapes.
struct Infer<'a> {
    file: &'a str,
    arch: ClassifierArch,
    shapes: &'a HashMap<String, Vec<usize>>,
    flags: &'a ArchFlags,
}

impl Infer<'_> {
    /// The shape of `name`, which must have `rank` dimensions.
    fn shape(&self, name: &str, rank: usize) -> Result<&[usize]> {
        let Some(s) = self.shapes.get(name) else {
            bail!(
                "{}: no tensor {name}, which {} {} needs{}",
                self.file,
                self.flags.arch,
                self.arch.flag(),
                looks_like(self.shapes, self.flags)
                    .map(|l| format!("; its tensor names look like {l}"))
                    .unwrap_or_default()
            );
        };
        ensure!(
            s.len() == rank,
            "{}: tensor {name} has shape {s:?}; {} {} needs {rank} dimensions there",
            self.file,
            self.flags.arch,
            self.arch.flag()
        );
        Ok(s)
    }

    /// How many consecutive `prefix{i}.` groups (0, 1, …) the names hold; at least one.
    fn count(&self, prefix: &str) -> Result<usize> {
        let found: BTreeSet<usize> = self
            .shapes
            .keys()
            .filter_map(|k| k.strip_prefix(prefix)?.split('.').next()?.parse().ok())
            .collect();
        let n = found.len();
        ensure!(
            n > 0,
            "{}: no tensors named {prefix}0.…, which {} {} needs{}",
            self.file,
            self.flags.arch,
            self.arch.flag(),
            looks_like(self.shapes, self.flags)
                .map(|l| format!("; its tensor names look like {l}"))
                .unwrap_or_default()
        );
        ensure!(
            found.iter().copied().eq(0..n),
            "{}: the {prefix}N groups are not numbered 0…{} (found {found:?})",
            self.file,
            n - 1
        );
        Ok(n)
    }

    /// `name`'s dimension `dim` must equal `want` (what an earlier tensor implied).
    fn same(&self, name: &str, rank: usize, dim: usize, want: usize, from: &str) -> Result<()> {
        let s = self.shape(name, rank)?;
        ensure!(
            s[dim] == want,
            "{}: tensor {name} has shape {s:?}, but {from} implies {want} at dimension {dim}",
            self.file
        );
        Ok(())
    }

    fn resnet(&self) -> Result<Value> {
        let stem = self.shape("conv1.weight", 4)?;
        ensure!(
            stem[2] == 3 && stem[3] == 3,
            "{}: conv1.weight has shape {stem:?}, a {}×{} stem; fastshap's resnet18 is the CIFAR \
             variant with a 3×3 stem (kuangliu/pytorch-cifar)",
            self.file,
            stem[2],
            stem[3]
        );
        let (mut widths, mut blocks) = ([0; 4], [0; 4]);
        for s in 0..4 {
            blocks[s] = self.count(&format!("layer{}.", s + 1))?;
            widths[s] = self.shape(&format!("layer{}.0.conv1.weight", s + 1), 4)?[0];
        }
        let head = self.shape("linear.weight", 2)?;
        self.same("linear.weight", 2, 1, widths[3], "layer4.0.conv1.weight")?;
        Ok(json!({
            "in_channels": stem[1],
            "classes": head[0],
            "widths": widths,
            "blocks": blocks,
        }))
    }

    /// Tokens per image side from a position embedding of `tokens` patch tokens.
    fn grid(&self, name: &str, shape: &[usize], tokens: usize) -> Result<usize> {
        let g = (tokens as f64).sqrt().round() as usize;
        ensure!(
            g * g == tokens && g > 0,
            "{}: tensor {name} has shape {shape:?}: {tokens} patch tokens are not a square grid",
            self.file
        );
        Ok(g)
    }

    fn vit(&self, heads: Option<usize>) -> Result<Value> {
        let emb = self.shape("emb.weight", 2)?;
        let (dim, patch_len) = (emb[0], emb[1]);
        let pos = self.shape("pos_emb", 3)?;
        let g = self.grid("pos_emb", pos, pos[1].saturating_sub(1))?;
        // Every model here sees 32×32 images; the grid gives the patch, emb.weight the channels.
        let image = crate::data::SIDE;
        ensure!(
            image.is_multiple_of(g) && patch_len.is_multiple_of((image / g) * (image / g)),
            "{}: pos_emb {pos:?} ({g}×{g} patches) and emb.weight {emb:?} do not describe 32×32 \
             images in square patches",
            self.file
        );
        let patch = image / g;
        self.same("pos_emb", 3, 2, dim, "emb.weight")?;
        let depth = self.count("blocks.")?;
        let mlp = self.shape("blocks.0.mlp.fc1.weight", 2)?[0];
        for i in 0..depth {
            self.same(
                &format!("blocks.{i}.attn.q.weight"),
                2,
                1,
                dim,
                "emb.weight",
            )?;
            self.same(
                &format!("blocks.{i}.mlp.fc1.weight"),
                2,
                0,
                mlp,
                "blocks.0.mlp.fc1.weight",
            )?;
        }
        Ok(json!({
            "in_channels": patch_len / (patch * patch),
            "classes": self.shape("head.weight", 2)?[0],
            "image": image,
            "patch": patch,
            "dim": dim,
            "mlp": mlp,
            "heads": heads.map_or(Value::Null, Value::from),
            "depth": depth,
        }))
    }

    fn mae_classifier(&self, heads: Option<usize>) -> Result<Value> {
        let conv = self.shape("patchify.weight", 4)?;
        let (dim, in_channels, patch) = (conv[0], conv[1], conv[2]);
        let pos = self.shape("pos_embedding", 3)?;
        let g = self.grid("pos_embedding", pos, pos[0])?;
        self.same("pos_embedding", 3, 2, dim, "patchify.weight")?;
        let depth = self.count("transformer.")?;
        let mlp = self.shape("transformer.0.mlp.fc1.weight", 2)?[0];
        for i in 0..depth {
            let n = format!("transformer.{i}.attn.qkv.weight");
            self.same(&n, 2, 0, 3 * dim, "patchify.weight")?;
        }
        // The decoder and mask ratio play no part in a classifier.
        let defaults = MaeConfig::vit_tiny();
        Ok(json!({
            "encoder": {
                "in_channels": in_channels,
                "image": patch * g,
                "patch": patch,
                "dim": dim,
                "heads": heads.map_or(Value::Null, Value::from),
                "mlp": mlp,
                "encoder_depth": depth,
                "decoder_depth": 1,
                "mask_ratio": defaults.mask_ratio,
            },
            "classes": self.shape("head.weight", 2)?[0],
        }))
    }

    /// Heads must be given (the weights cannot tell) and divide the width.
    fn check_heads(&self, config: &Value) -> Result<()> {
        let c = config.get("encoder").unwrap_or(config);
        let (Some(heads), Some(dim)) = (c.get("heads"), c["dim"].as_u64()) else {
            return Ok(()); // ResNet
        };
        let Some(heads) = heads.as_u64() else {
            bail!(
                "{}: the number of attention heads cannot be read from the weights; pass \
                 {} N (or \"heads\" in {}), a divisor of the width {dim}",
                self.file,
                self.flags.heads,
                self.flags.config
            );
        };
        ensure!(
            heads > 0 && dim.is_multiple_of(heads),
            "{}: {heads} heads do not divide the width {dim}: fix {}",
            self.file,
            self.flags.heads
        );
        Ok(())
    }
}

/// Replaces inferred config fields by `--arch-config`'s; unknown fields are an error.
fn apply_overrides(
    config: &mut Value,
    fields: &Map<String, Value>,
    arch: ClassifierArch,
    path: &Path,
    flags: &ArchFlags,
) -> Result<()> {
    for (k, v) in fields {
        // An MAE classifier's fields live under "encoder", except its class count.
        let target = match (arch, k.as_str()) {
            (ClassifierArch::MaeClassifier, "classes") => &mut *config,
            (ClassifierArch::MaeClassifier, _) => &mut config["encoder"],
            _ => &mut *config,
        };
        let Some(obj) = target.as_object_mut() else {
            bail!("internal: config of {} is not an object", arch.flag());
        };
        let Some(slot) = obj.get_mut(k) else {
            let mut known: Vec<&String> = obj.keys().collect();
            known.sort();
            bail!(
                "{} {}: {k:?} is not a {} config field (known: {})",
                flags.config,
                path.display(),
                arch.flag(),
                known
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        *slot = v.clone();
    }
    Ok(())
}
