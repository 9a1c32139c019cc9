//! FastSHAP player masking against an f64 reference: one mask per image and M masks per image,
//! binary and fractional masks, superpixel sizes that leave awkward grids (1, 7, 33 pixels).

use crate::helper::{Arr, Check, check_op, normal, seed, uniform};
use fastshap::Tensor;
use fastshap::ops::masking::{all_present, apply_player_mask};
use rand::{RngExt, SeedableRng};

/// out[r, ch, y, x] = mask[r, player(y, x)] · img[r / M, ch, y, x] for ch < C; the mask for ch = C.
fn mask_ref(img: &Arr, mask: &[f64], rows: usize, s: usize) -> Arr {
    let (b, c, h, w) = (img.shape[0], img.shape[1], img.shape[2], img.shape[3]);
    let (m, gw, players) = (rows / b, w / s, (h / s) * (w / s));
    let mut out = Vec::with_capacity(rows * (c + 1) * h * w);
    for r in 0..rows {
        for ch in 0..=c {
            for y in 0..h {
                for x in 0..w {
                    let mv = mask[r * players + (y / s) * gw + x / s];
                    out.push(if ch == c {
                        mv
                    } else {
                        mv * img.data[(((r / m) * c + ch) * h + y) * w + x]
                    });
                }
            }
        }
    }
    Arr::new(&[rows, c + 1, h, w], out)
}

#[test]
fn masking_binary_masks() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    // (B, C, H, s, M): CIFAR-sized with 8x8 players, then awkward grids.
    for (b, c, h, s, m) in [
        (2, 3, 32, 4, 1),
        (2, 3, 32, 4, 3),
        (1, 1, 7, 7, 2),
        (3, 2, 7, 1, 1),
        (1, 1, 33, 11, 5),
    ] {
        let players = (h / s) * (h / s);
        let mask: Vec<f64> = (0..b * m * players)
            .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
            .collect();
        let mask32: Vec<f32> = mask.iter().map(|&v| v as f32).collect();
        check_op(
            "apply_player_mask",
            &[normal(&[b, c, h, h])],
            |x| {
                let mt = Tensor::from_slice(&mask32, &[b * m, players])?;
                apply_player_mask(&x[0], &mt, s)
            },
            |a| mask_ref(&a[0], &mask, b * m, s),
            Check::default(),
        );
    }
}

/// `all_present` (a concat with a channel of ones) is the all-ones mask of `apply_player_mask`:
/// small images, then 300 of them (the vec4 row copies; forward only, as the copy tests).
#[test]
fn masking_all_present_is_the_all_ones_mask() {
    for (b, c, h, check) in [
        (2, 3, 8, Check::default()),
        (1, 2, 7, Check::default()),
        (300, 3, 8, Check::forward_only()),
    ] {
        let ones = vec![1.0; b];
        check_op(
            "all_present",
            &[normal(&[b, c, h, h])],
            |x| all_present(&x[0]),
            |a| mask_ref(&a[0], &ones, b, h),
            check,
        );
    }
    assert!(all_present(&Tensor::zeros(&[3, 8, 8]).unwrap()).is_err());
}

#[test]
fn masking_fractional_masks_as_input() {
    // The mask as a no-grad input of the check: fractional values scale pixels, and the mask
    // channel carries no gradient back (only the image is differentiable).
    for (b, c, h, s, m) in [(2, 3, 8, 2, 3), (1, 1, 1, 1, 1)] {
        let players = (h / s) * (h / s);
        check_op(
            "apply_player_mask fractional",
            &[
                normal(&[b, c, h, h]),
                uniform(&[b * m, players], 0.0, 1.0).no_grad(),
            ],
            |x| apply_player_mask(&x[0], &x[1], s),
            |a| mask_ref(&a[0], &a[1].data, b * m, s),
            Check::default(),
        );
    }
}

#[test]
fn masking_rejects_bad_shapes() {
    let img = Tensor::zeros(&[2, 3, 8, 8]).unwrap();
    let bad_players = Tensor::zeros(&[2, 15]).unwrap();
    let bad_rows = Tensor::zeros(&[3, 16]).unwrap();
    assert!(apply_player_mask(&img, &bad_players, 2).is_err());
    assert!(apply_player_mask(&img, &bad_rows, 2).is_err());
    assert!(apply_player_mask(&img, &Tensor::zeros(&[2, 4]).unwrap(), 3).is_err());
}
