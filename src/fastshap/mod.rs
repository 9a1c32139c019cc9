//! FastSHAP (Jethani et al. 2022, with Covert et al.'s surrogate recipe): from a trained
//! classifier to amortised Shapley-value explanations over superpixel players.
//!
//! - [`surrogate`]: a model with an extra mask channel trained to match the original's class
//!   probabilities on partially masked images (coalition size uniform over 0…P).
//! - [`compare`] and [`tables`]: the paper's agreement subsets (task 2, Table 3), one original
//!   through two surrogates (task 3), and Tables 1 and 2.
//! - [`explainer`]: the UNet that maps an image to φ [P, K], trained against the surrogate's
//!   values v(S) with the FastSHAP loss, and [`explainer::explain_batch`] for inference.
//! - [`explain`]: many images (test split, files, folders) through a trained explainer into
//!   per-image files, `summary.csv` and an `index.html` gallery.
//!
//! Both are tasks of the one epoch loop every trainer runs ([`crate::train::epoch_loop`]:
//! reduce-on-plateau, early stopping, NaN location, exact resumption) and write the
//! classifiers' run-directory layout: `metrics.jsonl`, `best.safetensors`, `last.safetensors`
//! + `optim-N.safetensors`, `config.json`.

pub mod compare;
pub mod evaluate;
pub mod explain_images;
pub mod explainer;
pub mod fidelity;
pub mod standing;
pub mod surrogate;
pub mod tables;

pub use explainer::{Explainer, ExplainerConfig, Explanation, explain_batch, train_explainer};
pub use surrogate::{Surrogate, SurrogateConfig, SurrogateLoss, train_surrogate};

use crate::Tensor;
use crate::shap::{Link, SurrogateGame};
use crate::train::task::RunConfig;
use crate::train::{AugmentKind, Schedule};
use anyhow::{Result, ensure};

/// Side of the images every model here sees.
pub const IMAGE: usize = 32;
/// Checkpoint metadata: what a file is (`surrogate` or `explainer`).
pub const META_ROLE: &str = "fastshap.role";
/// Checkpoint metadata: the superpixel side.
pub const META_SUPERPIXEL: &str = "fastshap.superpixel";
/// Checkpoint metadata: class names as a JSON list.
pub const META_CLASSES: &str = "fastshap.classes";

/// Superpixel sides the UNet explainer can produce (32/s must be a power-of-two grid it reaches
/// by pooling its 16×16 output).
pub fn check_superpixel(s: usize) -> Result<()> {
    ensure!(
        [2, 4, 8, 16].contains(&s),
        "--superpixel {s} is not supported: it must divide the 32-pixel image into a 16×16, 8×8, \
         4×4 or 2×2 grid, i.e. be 2, 4, 8 or 16"
    );
    Ok(())
}

/// Players for superpixel side `s` on a 32×32 image.
pub fn players(s: usize) -> usize {
    (IMAGE / s) * (IMAGE / s)
}

/// Both trainers' configs hold the epoch loop's settings under [`RunConfig`]'s names, and
/// stop early after `early_stop` epochs without a better validation loss.
macro_rules! run_config {
    ($($config:ty),*) => {$(
        impl RunConfig for $config {
            fn epochs(&self) -> usize {
                self.epochs
            }
            fn lr(&self) -> f64 {
                self.lr
            }
            fn schedule(&self) -> &Schedule {
                &self.schedule
            }
            fn seed(&self) -> u64 {
                self.seed
            }
            fn batch_size(&self) -> usize {
                self.batch_size
            }
            fn augment(&self) -> AugmentKind {
                self.augment
            }
            fn early_stop(&self) -> Option<usize> {
                Some(self.early_stop)
            }
        }
    )*};
}
run_config!(SurrogateConfig, ExplainerConfig);

/// What plays the surrogate's role: logits of images whose hidden superpixels are zeroed, with
/// the mask as an extra channel. A trained [`Surrogate`] is one; tests use closed-form games.
pub trait SurrogateModel {
    fn superpixel(&self) -> usize;
    fn classes(&self) -> usize;
    /// `masked` [N, C+1, 32, 32] (from [`crate::ops::masking::apply_player_mask`]) → logits [N, K].
    fn logits(&self, masked: &Tensor) -> Result<Tensor>;
    /// The surrogate's ViT, when it is one (a ViT explainer starts from its weights).
    fn vit(&self) -> Option<&crate::models::Vit> {
        None
    }
    /// The surrogate's ResNet, when it is one (a ResNet explainer starts from its weights).
    fn resnet(&self) -> Option<&crate::models::ResNet> {
        None
    }
    /// The game v(S) = link(logits of `image` [1, C, 32, 32] masked to S), evaluated in calls of
    /// `batch` coalitions. By default through [`SurrogateModel::logits`] of masked images; a
    /// surrogate with a faster path for coalitions (a ViT folds the masking into its patch
    /// embedding) returns that instead.
    fn game(&self, image: Tensor, link: Link, batch: usize) -> Result<SurrogateGame<'_>> {
        SurrogateGame::masked(
            Box::new(move |masked: &Tensor| self.logits(masked)),
            image,
            self.superpixel(),
            link,
            batch,
        )
    }
}

/// The game's value from surrogate logits [N, K] on the device. The log-odds link is computed
/// on the host in f64 ([`Link::apply`]): log(1 − p) in f32 loses everything once p ≈ 1.
pub fn link_values(link: Link, logits: &Tensor) -> Result<Tensor> {
    match link {
        Link::LogSoftmax => logits.log_softmax(),
        Link::Softmax => logits.softmax(),
        Link::Identity => Ok(logits.clone()),
        Link::Logit => {
            let k = logits.dim(-1);
            let host = logits.to_vec()?;
            let mut out = vec![0f32; host.len()];
            for (l, o) in host.chunks(k).zip(out.chunks_mut(k)) {
                link.apply(l, o);
            }
            Tensor::from_slice(&out, logits.shape())
        }
    }
}

/// The seed of FastSHAP's stream `parts` (its constant in [`crate::seed::Mixer`]).
pub(crate) fn mix(parts: &[u64]) -> u64 {
    crate::seed::Mixer::FASTSHAP.mix(parts)
}
