//! Attention rollout (Abnar & Zuidema 2020): per layer, average the heads, add the identity for
//! the residual path and renormalise the rows, Â_l = (mean_h A_l + I) / rowsum; multiply through
//! the layers, R = Â_L ⋯ Â_1; the CLS row of R over the patch tokens is the map.

use crate::{Tensor, no_grad};
use anyhow::{Result, bail};

/// `attn`: per-layer attention probabilities [B, H, T, T] in layer order, token 0 the CLS token,
/// T − 1 = n² patch tokens in row-major order → [B, n, n].
pub fn attention_rollout(attn: &[Tensor]) -> Result<Tensor> {
    let _ng = no_grad();
    let Some(first) = attn.first() else {
        bail!("attention_rollout: no layers");
    };
    let s = first.shape().to_vec();
    let n = ((s[2].saturating_sub(1)) as f64).sqrt().round() as usize;
    if s.len() != 4 || s[2] != s[3] || n * n + 1 != s[2] {
        bail!("attention_rollout: need [B, H, 1 + n², 1 + n²], got {s:?}");
    }
    let (b, t) = (s[0], s[2]);
    let eye: Vec<f32> = (0..t * t)
        .map(|ij| (ij / t == ij % t) as u8 as f32)
        .collect();
    let eye = Tensor::from_slice(&eye, &[t, t])?;
    let mut r: Option<Tensor> = None;
    for a in attn {
        if a.shape() != s.as_slice() {
            bail!(
                "attention_rollout: layer shapes differ ({:?} vs {s:?})",
                a.shape()
            );
        }
        let a = a.mean(1, false)?.add(&eye)?;
        let a = a.div(&a.sum(-1, true)?)?;
        r = Some(match r {
            None => a,
            Some(r) => a.matmul(&r)?,
        });
    }
    let r = r.expect("at least one layer");
    r.narrow(1, 0, 1)?.narrow(2, 1, t - 1)?.reshape(&[b, n, n])
}

/// The same on the host in f64 (a reference for tests, and cheap for one image).
pub fn attention_rollout_host(attn: &[Vec<f32>], b: usize, h: usize, t: usize) -> Vec<f64> {
    let mut r: Vec<f64> = (0..b * t * t)
        .map(|x| ((x % (t * t)) / t == x % t) as u8 as f64)
        .collect();
    for a in attn {
        let mut next = vec![0f64; b * t * t];
        for bi in 0..b {
            let mut m = vec![0f64; t * t];
            for hi in 0..h {
                for ij in 0..t * t {
                    m[ij] += a[(bi * h + hi) * t * t + ij] as f64 / h as f64;
                }
            }
            for i in 0..t {
                m[i * t + i] += 1.0;
                let s: f64 = m[i * t..(i + 1) * t].iter().sum();
                m[i * t..(i + 1) * t].iter_mut().for_each(|x| *x /= s);
            }
            for i in 0..t {
                for j in 0..t {
                    next[bi * t * t + i * t + j] = (0..t)
                        .map(|l| m[i * t + l] * r[bi * t * t + l * t + j])
                        .sum();
                }
            }
        }
        r = next;
    }
    (0..b)
        .flat_map(|bi| (1..t).map(move |j| (bi, j)))
        .map(|(bi, j)| r[bi * t * t + j])
        .collect()
}
