//! torchvision's `AutoAugment(AutoAugmentPolicy.CIFAR10)` on uint8 CHW 32×32 RGB images: the 25
//! sub-policies, the 10 magnitude bins and every op as torchvision's tensor path computes it
//! (nearest-neighbour geometry with zero fill, float32 blends truncated to uint8), so a model
//! trained here sees the same augmentation distribution as one trained with torchvision.

use super::{IMAGE_BYTES, SIDE};
use rand::{Rng, RngExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Color,
    Posterize,
    Solarize,
    Contrast,
    Sharpness,
    Brightness,
    AutoContrast,
    Equalize,
    Invert,
}

use Op::*;

/// One step of a sub-policy: the op, its probability and its magnitude bin (None: no magnitude).
pub type Step = (Op, f32, Option<usize>);

/// `AutoAugmentPolicy.CIFAR10`, in torchvision's order.
pub const CIFAR10_POLICY: [[Step; 2]; 25] = [
    [(Invert, 0.1, None), (Contrast, 0.2, Some(6))],
    [(Rotate, 0.7, Some(2)), (TranslateX, 0.3, Some(9))],
    [(Sharpness, 0.8, Some(1)), (Sharpness, 0.9, Some(3))],
    [(ShearY, 0.5, Some(8)), (TranslateY, 0.7, Some(9))],
    [(AutoContrast, 0.5, None), (Equalize, 0.9, None)],
    [(ShearY, 0.2, Some(7)), (Posterize, 0.3, Some(7))],
    [(Color, 0.4, Some(3)), (Brightness, 0.6, Some(7))],
    [(Sharpness, 0.3, Some(9)), (Brightness, 0.7, Some(9))],
    [(Equalize, 0.6, None), (Equalize, 0.5, None)],
    [(Contrast, 0.6, Some(7)), (Sharpness, 0.6, Some(5))],
    [(Color, 0.7, Some(7)), (TranslateX, 0.5, Some(8))],
    [(Equalize, 0.3, None), (AutoContrast, 0.4, None)],
    [(TranslateY, 0.4, Some(3)), (Sharpness, 0.2, Some(6))],
    [(Brightness, 0.9, Some(6)), (Color, 0.2, Some(8))],
    [(Solarize, 0.5, Some(2)), (Invert, 0.0, None)],
    [(Equalize, 0.2, None), (AutoContrast, 0.6, None)],
    [(Equalize, 0.2, None), (Equalize, 0.6, None)],
    [(Color, 0.9, Some(9)), (Equalize, 0.6, None)],
    [(AutoContrast, 0.8, None), (Solarize, 0.2, Some(8))],
    [(Brightness, 0.1, Some(3)), (Color, 0.7, Some(0))],
    [(Solarize, 0.4, Some(5)), (AutoContrast, 0.9, None)],
    [(TranslateY, 0.9, Some(9)), (TranslateY, 0.7, Some(9))],
    [(AutoContrast, 0.9, None), (Solarize, 0.8, Some(3))],
    [(Equalize, 0.8, None), (Invert, 0.1, None)],
    [(TranslateY, 0.7, Some(9)), (AutoContrast, 0.9, None)],
];

const BINS: usize = 10;

/// The unsigned magnitude of `op` at `bin` (torchvision's `_augmentation_space(10, (32, 32))`)
/// and whether it is given a random sign.
pub fn magnitude(op: Op, bin: usize) -> (f64, bool) {
    let t = bin as f64 / (BINS - 1) as f64; // linspace position
    match op {
        ShearX | ShearY => (0.3 * t, true),
        TranslateX | TranslateY => (150.0 / 331.0 * SIDE as f64 * t, true),
        Rotate => (30.0 * t, true),
        Brightness | Color | Contrast | Sharpness => (0.9 * t, true),
        // 8 - round(arange(10) / 2.25), rounding half to even as torch does.
        Posterize => (8.0 - (bin as f64 / 2.25).round_ties_even(), false),
        Solarize => (255.0 * (1.0 - t), false),
        AutoContrast | Equalize | Invert => (0.0, false),
    }
}

/// Picks a sub-policy and applies it (torchvision's `AutoAugment.forward`): the draws are the
/// policy index, two uniform probabilities and two signs, in that order.
pub fn apply<R: Rng + ?Sized>(img: &mut [u8], rng: &mut R) {
    let policy = &CIFAR10_POLICY[rng.random_range(0..CIFAR10_POLICY.len())];
    let probs: [f32; 2] = [rng.random(), rng.random()];
    let negative: [bool; 2] = [rng.random_bool(0.5), rng.random_bool(0.5)];
    for (i, &(op, p, bin)) in policy.iter().enumerate() {
        if probs[i] <= p {
            let (mut m, signed) = bin.map_or((0.0, false), |b| magnitude(op, b));
            if signed && negative[i] {
                m = -m;
            }
            apply_op(img, op, m);
        }
    }
}

/// Applies one op with a signed magnitude (torchvision's `_apply_op` on a uint8 tensor).
pub fn apply_op(img: &mut [u8], op: Op, m: f64) {
    assert_eq!(img.len(), IMAGE_BYTES);
    match op {
        // Shears are about the top-left corner (center=[0, 0]), as PIL does.
        ShearX => affine(
            img,
            0.0,
            [0.0, 0.0],
            [m.atan().to_degrees(), 0.0],
            Some([0.0, 0.0]),
        ),
        ShearY => affine(
            img,
            0.0,
            [0.0, 0.0],
            [0.0, m.atan().to_degrees()],
            Some([0.0, 0.0]),
        ),
        TranslateX => affine(img, 0.0, [m.trunc(), 0.0], [0.0, 0.0], None),
        TranslateY => affine(img, 0.0, [0.0, m.trunc()], [0.0, 0.0], None),
        // F.rotate passes -angle to the inverse-matrix helper.
        Rotate => affine(img, -m, [0.0, 0.0], [0.0, 0.0], None),
        Brightness => blend_const(img, 0.0, 1.0 + m as f32),
        Color => {
            let gray = grayscale(img);
            let f = 1.0 + m as f32;
            for c in 0..3 {
                for (x, &g) in plane_mut(img, c).iter_mut().zip(&gray) {
                    *x = blend(*x, g as f32, f);
                }
            }
        }
        Contrast => {
            let gray = grayscale(img);
            let mean = gray.iter().map(|&g| g as f32).sum::<f32>() / gray.len() as f32;
            blend_const(img, mean, 1.0 + m as f32);
        }
        Sharpness => sharpness(img, 1.0 + m as f32),
        Posterize => {
            let mask = !((1u16 << (8 - m as u32)) - 1) as u8;
            img.iter_mut().for_each(|x| *x &= mask);
        }
        Solarize => img.iter_mut().for_each(|x| {
            if *x as f64 >= m {
                *x = 255 - *x
            }
        }),
        AutoContrast => (0..3).for_each(|c| autocontrast(plane_mut(img, c))),
        Equalize => (0..3).for_each(|c| equalize(plane_mut(img, c))),
        Invert => img.iter_mut().for_each(|x| *x = 255 - *x),
    }
}

fn plane_mut(img: &mut [u8], c: usize) -> &mut [u8] {
    &mut img[c * SIDE * SIDE..(c + 1) * SIDE * SIDE]
}

/// torchvision `_blend`: `ratio·a + (1−ratio)·b` in float32, clamped to [0, 255], truncated.
fn blend(a: u8, b: f32, ratio: f32) -> u8 {
    (ratio * a as f32 + (1.0 - ratio) * b).clamp(0.0, 255.0) as u8
}

fn blend_const(img: &mut [u8], b: f32, ratio: f32) {
    img.iter_mut().for_each(|x| *x = blend(*x, b, ratio));
}

/// `rgb_to_grayscale` on uint8: ITU-R 601-2 luma, truncated to uint8.
fn grayscale(img: &[u8]) -> Vec<u8> {
    let n = SIDE * SIDE;
    (0..n)
        .map(|p| {
            (0.2989f32 * img[p] as f32 + 0.587 * img[n + p] as f32 + 0.114 * img[2 * n + p] as f32)
                as u8
        })
        .collect()
}

/// Blend with a blurred copy whose interior is the 3×3 kernel [1 1 1; 1 5 1; 1 1 1]/13 (rounded
/// to uint8) and whose border is the original, as `adjust_sharpness` does.
fn sharpness(img: &mut [u8], factor: f32) {
    let src = img.to_vec();
    for c in 0..3 {
        let s = &src[c * SIDE * SIDE..(c + 1) * SIDE * SIDE];
        let d = plane_mut(img, c);
        for y in 1..SIDE - 1 {
            for x in 1..SIDE - 1 {
                let mut acc = 0.0f32;
                for dy in 0..3 {
                    for dx in 0..3 {
                        let w = if dy == 1 && dx == 1 { 5.0 } else { 1.0 };
                        acc += w / 13.0 * s[(y + dy - 1) * SIDE + x + dx - 1] as f32;
                    }
                }
                let blurred = acc.round_ties_even().clamp(0.0, 255.0);
                d[y * SIDE + x] = blend(s[y * SIDE + x], blurred, factor);
            }
        }
        // Border pixels blend with themselves: unchanged up to float rounding.
        for p in 0..SIDE * SIDE {
            let (y, x) = (p / SIDE, p % SIDE);
            if y == 0 || x == 0 || y == SIDE - 1 || x == SIDE - 1 {
                d[p] = blend(s[p], s[p] as f32, factor);
            }
        }
    }
}

/// Stretches one channel to [0, 255]; a constant channel is left as it is.
fn autocontrast(p: &mut [u8]) {
    let lo = *p.iter().min().unwrap() as f32;
    let hi = *p.iter().max().unwrap() as f32;
    if hi == lo {
        return;
    }
    let scale = 255.0 / (hi - lo);
    p.iter_mut()
        .for_each(|x| *x = ((*x as f32 - lo) * scale).clamp(0.0, 255.0) as u8);
}

/// Histogram equalisation of one channel (torchvision `_scale_channel`, PIL's algorithm).
fn equalize(p: &mut [u8]) {
    let mut hist = [0i64; 256];
    p.iter().for_each(|&x| hist[x as usize] += 1);
    // Sum of all non-empty bins but the last non-empty one.
    let last = hist.iter().rposition(|&h| h != 0).unwrap();
    let step = hist[..last].iter().sum::<i64>() / 255;
    if step == 0 {
        return;
    }
    let mut lut = [0u8; 256];
    let mut cum = 0i64;
    for k in 0..255 {
        cum += hist[k];
        // lut is shifted right by one: lut[0] = 0, lut[k+1] = (cumsum[k] + step/2) / step.
        lut[k + 1] = ((cum + step / 2) / step).clamp(0, 255) as u8;
    }
    p.iter_mut().for_each(|x| *x = lut[*x as usize]);
}

/// torchvision `_get_inverse_affine_matrix`: output→input map for rotation `angle` (degrees),
/// translation, shear (degrees) about `center` (pixels relative to the image centre).
fn inverse_affine(center: [f64; 2], angle: f64, t: [f64; 2], shear: [f64; 2]) -> [f64; 6] {
    let rot = angle.to_radians();
    let (sx, sy) = (shear[0].to_radians(), shear[1].to_radians());
    let [cx, cy] = center;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0];
    m[2] += m[0] * (-cx - t[0]) + m[1] * (-cy - t[1]) + cx;
    m[5] += m[3] * (-cx - t[0]) + m[4] * (-cy - t[1]) + cy;
    m
}

/// `F.affine` with nearest sampling and zero fill. `center` is in pixel coordinates (None: the
/// image centre); coordinates are pixel centres relative to the image centre, as
/// `_gen_affine_grid` + `grid_sample(align_corners=False)` use them.
fn affine(img: &mut [u8], angle: f64, t: [f64; 2], shear: [f64; 2], center: Option<[f64; 2]>) {
    let half = SIDE as f64 * 0.5;
    let center = center.map_or([0.0, 0.0], |[x, y]| [x - half, y - half]);
    let m = inverse_affine(center, angle, t, shear);
    let src = img.to_vec();
    for i in 0..SIDE {
        for j in 0..SIDE {
            let (x, y) = (j as f64 + 0.5 - half, i as f64 + 0.5 - half);
            let sx = (m[0] * x + m[1] * y + m[2] + half - 0.5).round_ties_even();
            let sy = (m[3] * x + m[4] * y + m[5] + half - 0.5).round_ties_even();
            let inside = (0.0..SIDE as f64).contains(&sx) && (0.0..SIDE as f64).contains(&sy);
            for c in 0..3 {
                img[(c * SIDE + i) * SIDE + j] = if inside {
                    src[(c * SIDE + sy as usize) * SIDE + sx as usize]
                } else {
                    0
                };
            }
        }
    }
}
