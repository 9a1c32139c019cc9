//! ResNet18, CIFAR variant (kuangliu/pytorch-cifar layout and names): 3×3 conv stem, no
//! max-pool, BasicBlocks [2,2,2,2] at 64/128/256/512 with strides 1/2/2/2, 1×1 conv + BN
//! shortcuts where the shape changes, 4×4 average pool, Linear(512, classes).

use crate::Tensor;
use crate::nn::{BatchNorm2d, Conv2d, InitRng, Kind, Linear, Module, join};
use anyhow::Result;

mod coalitions;
pub use coalitions::ResNetCoalitions;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ResNetConfig {
    /// 3 for an original, 4 for a surrogate (image + mask channel).
    pub in_channels: usize,
    pub classes: usize,
    /// Channels of the four stages (64/128/256/512 for ResNet18).
    pub widths: [usize; 4],
    /// BasicBlocks per stage ([2,2,2,2] for ResNet18).
    pub blocks: [usize; 4],
}

impl ResNetConfig {
    pub fn resnet18(in_channels: usize, classes: usize) -> ResNetConfig {
        ResNetConfig {
            in_channels,
            classes,
            widths: [64, 128, 256, 512],
            blocks: [2, 2, 2, 2],
        }
    }
}

pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    shortcut: Option<(Conv2d, BatchNorm2d)>,
}

impl BasicBlock {
    fn new(cin: usize, cout: usize, stride: usize, rng: &mut InitRng) -> Result<BasicBlock> {
        let shortcut = if stride != 1 || cin != cout {
            Some((
                Conv2d::new(cin, cout, 1, stride, 0, false, rng)?,
                BatchNorm2d::new(cout)?,
            ))
        } else {
            None
        };
        Ok(BasicBlock {
            conv1: Conv2d::new(cin, cout, 3, stride, 1, false, rng)?,
            bn1: BatchNorm2d::new(cout)?,
            conv2: Conv2d::new(cout, cout, 3, 1, 1, false, rng)?,
            bn2: BatchNorm2d::new(cout)?,
            shortcut,
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let out = self.bn1.forward_relu(&self.conv1.forward(x)?, train)?;
        let out = self.bn2.forward(&self.conv2.forward(&out)?, train)?;
        let skip = match &self.shortcut {
            Some((conv, bn)) => bn.forward(&conv.forward(x)?, train)?,
            None => x.clone(),
        };
        // Residual add and ReLU in one pass (ops::fused).
        out.add_relu(&skip)
    }
}

impl Module for BasicBlock {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.conv1.visit(&join(p, "conv1"), f);
        self.bn1.visit(&join(p, "bn1"), f);
        self.conv2.visit(&join(p, "conv2"), f);
        self.bn2.visit(&join(p, "bn2"), f);
        if let Some((conv, bn)) = &self.shortcut {
            conv.visit(&join(p, "shortcut.0"), f);
            bn.visit(&join(p, "shortcut.1"), f);
        }
    }
}

pub struct ResNet {
    pub config: ResNetConfig,
    conv1: Conv2d,
    bn1: BatchNorm2d,
    layers: Vec<Vec<BasicBlock>>,
    linear: Linear,
}

impl ResNet {
    pub fn new(config: ResNetConfig, rng: &mut InitRng) -> Result<ResNet> {
        let w = config.widths;
        let conv1 = Conv2d::new(config.in_channels, w[0], 3, 1, 1, false, rng)?;
        let bn1 = BatchNorm2d::new(w[0])?;
        let mut layers = Vec::new();
        let mut cin = w[0];
        for (stage, (&cout, &n)) in w.iter().zip(&config.blocks).enumerate() {
            let first_stride = if stage == 0 { 1 } else { 2 };
            let mut blocks = Vec::new();
            for i in 0..n {
                blocks.push(BasicBlock::new(
                    cin,
                    cout,
                    if i == 0 { first_stride } else { 1 },
                    rng,
                )?);
                cin = cout;
            }
            layers.push(blocks);
        }
        let linear = Linear::new(cin, config.classes, true, rng)?;
        Ok(ResNet {
            config,
            conv1,
            bn1,
            layers,
            linear,
        })
    }

    /// x: [B, in_channels, 32, 32] → logits [B, classes].
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        // 4×4 average pool over the final 4×4 map (global for 32×32 inputs).
        let out = self.features(x, train)?.avg_pool2d(4, 4, 0)?;
        let b = out.dim(0);
        self.linear.forward(&out.reshape(&[b, usize::MAX])?)
    }

    /// The last stage's map before pooling: [B, widths[3], 4, 4] for 32×32 inputs.
    pub fn features(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut out = self.bn1.forward_relu(&self.conv1.forward(x)?, train)?;
        for stage in &self.layers {
            for block in stage {
                out = block.forward(&out, train)?;
            }
        }
        Ok(out)
    }

    /// Every tensor but the classifier's: what a [`super::ResNetExplainer`] takes from a
    /// surrogate.
    pub fn visit_features(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.conv1.visit(&join(p, "conv1"), f);
        self.bn1.visit(&join(p, "bn1"), f);
        for (s, stage) in self.layers.iter().enumerate() {
            for (i, block) in stage.iter().enumerate() {
                block.visit(&join(p, &format!("layer{}.{i}", s + 1)), f);
            }
        }
    }
}

impl Module for ResNet {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.visit_features(p, f);
        self.linear.visit(&join(p, "linear"), f);
    }
}
