//! Seeded augmentation of one uint8 CHW 32×32 image, in the usual CIFAR order (torchvision's
//! `RandomCrop(32, padding=4)`, `RandomHorizontalFlip()`, then optionally `AutoAugment`).

use super::{IMAGE_BYTES, SIDE, autoaugment};
use rand::{Rng, RngExt};

/// Which augmentations to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    /// Zero padding on each side before a random 32×32 crop; 0 turns cropping off.
    pub crop_padding: usize,
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
    /// torchvision's `AutoAugment(AutoAugmentPolicy.CIFAR10)` after crop and flip.
    pub autoaugment: bool,
}

impl Augment {
    pub const NONE: Augment = Augment {
        crop_padding: 0,
        flip: false,
        autoaugment: false,
    };
    /// Crop with 4-pixel padding and flip.
    pub const STANDARD: Augment = Augment {
        crop_padding: 4,
        flip: true,
        autoaugment: false,
    };
    /// Crop, flip and AutoAugment.
    pub const AUTOAUGMENT: Augment = Augment {
        crop_padding: 4,
        flip: true,
        autoaugment: true,
    };

    /// Augments `img` in place, drawing from `rng` (draws are the same for a given rng state).
    pub fn apply<R: Rng + ?Sized>(&self, img: &mut [u8], rng: &mut R) {
        if self.crop_padding > 0 {
            let span = 2 * self.crop_padding + 1;
            let top = rng.random_range(0..span);
            let left = rng.random_range(0..span);
            crop(img, self.crop_padding, top, left);
        }
        if self.flip && rng.random_bool(0.5) {
            hflip(img);
        }
        if self.autoaugment {
            autoaugment::apply(img, rng);
        }
    }
}

impl Default for Augment {
    fn default() -> Self {
        Augment::NONE
    }
}

/// Pads by `pad` zero pixels on each side and keeps the 32×32 window whose top-left corner is at
/// (`top`, `left`) of the padded image (so `top = left = pad` is the identity).
pub fn crop(img: &mut [u8], pad: usize, top: usize, left: usize) {
    assert_eq!(img.len(), IMAGE_BYTES);
    let src = img.to_vec();
    for c in 0..3 {
        for y in 0..SIDE {
            for x in 0..SIDE {
                // Source pixel in the unpadded image; outside it the padding gives 0.
                let sy = (y + top).wrapping_sub(pad);
                let sx = (x + left).wrapping_sub(pad);
                img[(c * SIDE + y) * SIDE + x] = if sy < SIDE && sx < SIDE {
                    src[(c * SIDE + sy) * SIDE + sx]
                } else {
                    0
                };
            }
        }
    }
}

/// Mirrors every row left-right.
pub fn hflip(img: &mut [u8]) {
    assert_eq!(img.len(), IMAGE_BYTES);
    for row in img.chunks_exact_mut(SIDE) {
        row.reverse();
    }
}
