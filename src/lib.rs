//! fastshap: Shapley-value explanations of image classifiers (FastSHAP) on a small GPU tensor
//! runtime of our own — wgpu, hand-written WGSL kernels and an autodiff tape.
//!
//! Layers, bottom to top: [`gpu`] (context, pool, batching) → [`tensor`] → [`autograd`] →
//! [`ops`] (one module per kernel family, backward beside forward).

pub mod autograd;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod fastshap;
pub mod gpu;
pub mod io;
pub mod math;
pub mod models;
pub mod nn;
pub mod ops;
pub mod progress;
pub mod report;
pub mod reproduce;
pub mod seed;
pub mod shap;
pub mod tensor;
pub mod time;
pub mod train;
pub mod viz;

pub use autograd::{no_grad, with_no_grad};
pub use tensor::Tensor;
