//! Linear, Conv2d, BatchNorm2d, LayerNorm — PyTorch's layouts and default initialisation.

use super::{InitRng, Kind, Module, join};
use crate::Tensor;
use crate::ops;
use anyhow::Result;
use rand::RngExt;

/// U(−bound, bound): PyTorch's default for Linear and Conv weights and biases
/// (`kaiming_uniform_(a=√5)` reduces to bound = 1/√fan_in).
pub fn uniform(shape: &[usize], bound: f32, rng: &mut InitRng) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
    Ok(Tensor::from_slice(&data, shape)?.param())
}

/// N(0, std²) (ViT tokens and position embeddings use std 0.02).
pub fn normal(shape: &[usize], std: f32, rng: &mut InitRng) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal) * std)
        .collect();
    Ok(Tensor::from_slice(&data, shape)?.param())
}

pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn new(inp: usize, out: usize, bias: bool, rng: &mut InitRng) -> Result<Linear> {
        let bound = 1.0 / (inp as f32).sqrt();
        Ok(Linear {
            weight: uniform(&[out, inp], bound, rng)?,
            bias: if bias {
                Some(uniform(&[out], bound, rng)?)
            } else {
                None
            },
        })
    }

    /// x·Wᵀ + b over the last axis.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::matmul::linear(x, &self.weight, self.bias.as_ref())
    }
}

impl Module for Linear {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        f(join(p, "weight"), &self.weight, Kind::Param);
        if let Some(b) = &self.bias {
            f(join(p, "bias"), b, Kind::Param);
        }
    }
}

pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        rng: &mut InitRng,
    ) -> Result<Conv2d> {
        let bound = 1.0 / ((cin * k * k) as f32).sqrt();
        Ok(Conv2d {
            weight: uniform(&[cout, cin, k, k], bound, rng)?,
            bias: if bias {
                Some(uniform(&[cout], bound, rng)?)
            } else {
                None
            },
            stride,
            padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.padding)
    }
}

impl Module for Conv2d {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        f(join(p, "weight"), &self.weight, Kind::Param);
        if let Some(b) = &self.bias {
            f(join(p, "bias"), b, Kind::Param);
        }
    }
}

pub struct BatchNorm2d {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub momentum: f32,
    pub eps: f32,
}

impl BatchNorm2d {
    pub fn new(c: usize) -> Result<BatchNorm2d> {
        Ok(BatchNorm2d {
            weight: Tensor::ones(&[c])?.param(),
            bias: Tensor::zeros(&[c])?.param(),
            running_mean: Tensor::zeros(&[c])?,
            running_var: Tensor::ones(&[c])?,
            momentum: 0.1,
            eps: 1e-5,
        })
    }

    /// Batch statistics (and a running-stat update) when `train`, running statistics otherwise.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        ops::norm::batch_norm2d(
            x,
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            train,
            self.momentum,
            self.eps,
        )
    }

    /// relu(forward(x)) in one op (`ops::norm::batch_norm2d_relu`).
    pub fn forward_relu(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        ops::norm::batch_norm2d_relu(
            x,
            &self.weight,
            &self.bias,
            &self.running_mean,
            &self.running_var,
            train,
            self.momentum,
            self.eps,
        )
    }
}

impl Module for BatchNorm2d {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        f(join(p, "weight"), &self.weight, Kind::Param);
        f(join(p, "bias"), &self.bias, Kind::Param);
        f(join(p, "running_mean"), &self.running_mean, Kind::Buffer);
        f(join(p, "running_var"), &self.running_var, Kind::Buffer);
    }
}

pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f32,
}

impl LayerNorm {
    pub fn new(d: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: Tensor::ones(&[d])?.param(),
            bias: Tensor::zeros(&[d])?.param(),
            eps: 1e-5,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::norm::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

impl Module for LayerNorm {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        f(join(p, "weight"), &self.weight, Kind::Param);
        f(join(p, "bias"), &self.bias, Kind::Param);
    }
}
