//! The FastSHAP UNet explainer (iancovert/fastshap `unet.py`, CIFAR-10 settings): base 64
//! channels, `MultiConv` = 3 × (conv 3×3 → BN → ReLU); inc 3→64 at 32²; down (max-pool 2,
//! MultiConv 64→128) at 16²; down (max-pool 2, MultiConv 128→128) at 8²; up (bilinear ×2,
//! align_corners=True, concat with the 16² skip, MultiConv 256→128 via 128 mid channels) at 16²;
//! 1×1 conv 128→classes. Output [B, classes, 16, 16]: one value per 2×2 superpixel per class;
//! coarser superpixels average-pool it. 1,481,610 parameters.

use crate::Tensor;
use crate::nn::{BatchNorm2d, Conv2d, InitRng, Kind, Module, join};
use crate::ops;
use anyhow::{Result, bail};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct UNetConfig {
    pub in_channels: usize,
    pub classes: usize,
    pub base: usize,
    pub convs: usize,
    /// Superpixel side: 2 → 16×16 output, 4 → 8×8, 8 → 4×4.
    pub superpixel: usize,
}

impl UNetConfig {
    pub fn fastshap_cifar() -> UNetConfig {
        UNetConfig {
            in_channels: 3,
            classes: 10,
            base: 64,
            convs: 3,
            superpixel: 2,
        }
    }
}

/// `convs` × (conv 3×3 → BN → ReLU); the first conv goes to `mid` channels.
pub struct MultiConv {
    layers: Vec<(Conv2d, BatchNorm2d)>,
}

impl MultiConv {
    fn new(
        cin: usize,
        cout: usize,
        mid: usize,
        convs: usize,
        rng: &mut InitRng,
    ) -> Result<MultiConv> {
        let mut layers = vec![(
            Conv2d::new(cin, mid, 3, 1, 1, true, rng)?,
            BatchNorm2d::new(mid)?,
        )];
        let mut c = mid;
        for _ in 1..convs {
            layers.push((
                Conv2d::new(c, cout, 3, 1, 1, true, rng)?,
                BatchNorm2d::new(cout)?,
            ));
            c = cout;
        }
        Ok(MultiConv { layers })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.clone();
        for (conv, bn) in &self.layers {
            h = bn.forward_relu(&conv.forward(&h)?, train)?;
        }
        Ok(h)
    }
}

impl Module for MultiConv {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        // nn.Sequential(conv, bn, relu, conv, bn, relu, ...): indices 0,1 then 3,4 then 6,7.
        for (i, (conv, bn)) in self.layers.iter().enumerate() {
            conv.visit(&join(p, &format!("{}", 3 * i)), f);
            bn.visit(&join(p, &format!("{}", 3 * i + 1)), f);
        }
    }
}

pub struct UNet {
    pub config: UNetConfig,
    inc: MultiConv,
    down1: MultiConv,
    down2: MultiConv,
    up: MultiConv,
    outc: Conv2d,
}

impl UNet {
    pub fn new(config: UNetConfig, rng: &mut InitRng) -> Result<UNet> {
        let (b, n) = (config.base, config.convs);
        if ![2, 4, 8, 16].contains(&config.superpixel) {
            bail!(
                "UNet explainer: superpixel size {} must be 2, 4, 8 or 16",
                config.superpixel
            );
        }
        Ok(UNet {
            inc: MultiConv::new(config.in_channels, b, b, n, rng)?,
            down1: MultiConv::new(b, 2 * b, 2 * b, n, rng)?,
            down2: MultiConv::new(2 * b, 2 * b, 2 * b, n, rng)?,
            up: MultiConv::new(4 * b, 2 * b, 2 * b, n, rng)?,
            outc: Conv2d::new(2 * b, config.classes, 1, 1, 0, true, rng)?,
            config,
        })
    }

    /// x: [B, C, 32, 32] → φ per superpixel and class, [B, classes, 32/s, 32/s].
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x1 = self.inc.forward(x, train)?; // 32²
        let x2 = self.down1.forward(&x1.max_pool2d(2, 2, 0)?, train)?; // 16²
        let x3 = self.down2.forward(&x2.max_pool2d(2, 2, 0)?, train)?; // 8²
        let u = x3.upsample_bilinear2x(true)?; // 16²
        let h = self
            .up
            .forward(&ops::plumbing::concat(&[&x2, &u], 1)?, train)?;
        let out = self.outc.forward(&h)?; // [B, classes, 16, 16]
        let k = self.config.superpixel / 2;
        if k == 1 {
            Ok(out)
        } else {
            out.avg_pool2d(k, k, 0)
        }
    }
}

impl Module for UNet {
    fn visit(&self, p: &str, f: &mut dyn FnMut(String, &Tensor, Kind)) {
        self.inc.visit(&join(p, "inc.conv"), f);
        self.down1.visit(&join(p, "down1.conv"), f);
        self.down2.visit(&join(p, "down2.conv"), f);
        self.up.visit(&join(p, "up.conv"), f);
        self.outc.visit(&join(p, "outc"), f);
    }
}
