//! Flags and loading shared by the commands that take models: `--arch`/`--heads`/`--arch-config`
//! for a plain PyTorch state dict (`eval`, `explain`, `evaluate`, `profile`), and an explainer
//! with its surrogate and original (`explain`, `evaluate`, `web`).

/// How to build a classifier checkpoint that has no fastshap metadata (a plain PyTorch
/// `state_dict` saved with safetensors): everything else is read from its tensors.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct ArchArgs {
    /// The architecture of a checkpoint without fastshap metadata (a plain PyTorch state dict);
    /// widths, depth, blocks, patch size, classes and input channels come from its tensors.
    #[arg(long, value_enum)]
    arch: Option<crate::train::ClassifierArch>,
    /// Attention heads of a vit / mae-classifier state dict (the weights cannot tell).
    #[arg(long)]
    heads: Option<usize>,
    /// A JSON object of config fields that replace the inferred ones, e.g. {"heads": 12}.
    #[arg(long)]
    arch_config: Option<std::path::PathBuf>,
}

impl ArchArgs {
    pub(crate) fn hint(&self) -> anyhow::Result<crate::train::ArchHint> {
        crate::train::ArchHint::new(
            self.arch,
            self.heads,
            self.arch_config.as_deref(),
            Default::default(),
        )
    }
}

/// An explainer checkpoint and its surrogate: the one given, else the one the explainer
/// recorded at training time (one clear error when that file is gone). Shared by `explain`,
/// `evaluate` and `web`.
pub(crate) fn explainer_and_surrogate(
    explainer: &std::path::Path,
    surrogate: Option<&std::path::Path>,
) -> anyhow::Result<(
    crate::fastshap::Explainer,
    crate::fastshap::Surrogate,
    std::path::PathBuf,
)> {
    let (explainer, recorded) = crate::fastshap::Explainer::load(explainer)?;
    let path = surrogate.map_or(recorded, std::path::Path::to_path_buf);
    anyhow::ensure!(
        path.exists(),
        "surrogate checkpoint {} not found (pass --surrogate)",
        path.display()
    );
    let surrogate = crate::fastshap::Surrogate::load(&path)?;
    Ok((explainer, surrogate, path))
}

/// The original an explanation is of: `--original` (with `--arch` for a state dict), else the
/// one `surrogate` was trained from when its file is still there.
pub(crate) fn original_of(
    surrogate: &crate::fastshap::Surrogate,
    original: Option<&std::path::Path>,
    arch: &ArchArgs,
) -> anyhow::Result<Option<(std::path::PathBuf, crate::train::Model)>> {
    let Some(path) = original else {
        anyhow::ensure!(
            arch.arch.is_none() && arch.heads.is_none() && arch.arch_config.is_none(),
            "--arch, --heads and --arch-config describe --original; give --original too"
        );
        return surrogate.load_original();
    };
    let model = crate::fastshap::surrogate::load_original_as(path, &arch.hint()?)?;
    let (k, ks) = (model.classes().unwrap_or(0), surrogate.classes.len());
    anyhow::ensure!(
        k == ks,
        "--original {} predicts {k} classes but the surrogate {ks}",
        path.display()
    );
    Ok(Some((path.to_path_buf(), model)))
}
