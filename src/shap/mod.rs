//! Shapley machinery: cooperative games over superpixel players, the Shapley-kernel sampler,
//! exact Shapley values, KernelSHAP, permutation sampling, the cheap baselines (leave-one-out,
//! singletons) and the additivity of a game, inclusion/exclusion curves, explainer-error metrics and
//! attention rollout. All Shapley arithmetic runs on the host in f64; only the model
//! evaluations (through [`game::SurrogateGame`]) touch the GPU.

pub mod baselines;
pub mod exact;
pub mod game;
pub mod inclusion_exclusion;
pub mod kernelshap;
pub mod linalg;
pub mod metrics;
pub mod permutation;
pub mod rollout;
pub mod sampler;

pub use game::{Game, Link, SurrogateGame};
