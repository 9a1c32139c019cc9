//! Tensor plumbing: permute/transpose, concat/narrow, pad/crop, patchify (all one strided-copy
//! kernel, `shaders/plumbing.wgsl`), index gathers with their scatter-add adjoints
//! (`shaders/gather.wgsl`) and 2x upsampling (`shaders/upsample.wgsl`).
//!
//! Index tensors hold **f32-encoded integers** (exact below 2^24), like `argmax`'s output, so an
//! index computed on the GPU can feed a gather directly; [`index_tensor`] uploads host indices.
//! Indices outside the axis gather 0 and scatter nowhere (a kernel cannot raise an error).

use super::divisor::{Axis, axis_words, merge_axes};
use super::launch;
use crate::shader;
use crate::tensor::{Tensor, numel};
use anyhow::{Result, bail, ensure};

/// Largest rank the strided-copy kernel walks.
pub const MAX_RANK: usize = 6;

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// For every coordinate `c` of `iter`: `dst[dst_off + c·dst_st] = src[src_off + c·src_st]`.
/// Records nothing on the tape; `dst` must already exist (other elements are left as they are).
#[allow(clippy::too_many_arguments)]
fn strided_copy(
    src: &Tensor,
    dst: &Tensor,
    iter: &[usize],
    src_st: &[usize],
    src_off: usize,
    dst_st: &[usize],
    dst_off: usize,
) -> Result<()> {
    let n = numel(iter);
    if n == 0 {
        return Ok(());
    }
    // Size-1 axes contribute nothing to any index; dropping them keeps rank-7 shapes like
    // [1, ...] within the kernel's limit. Axes both sides step across as one run merge (each
    // axis left costs the kernel a division per element or run).
    let axes = split_long_run(merge_axes(iter, src_st, dst_st));
    ensure!(
        axes.len() <= MAX_RANK,
        "strided copy supports rank up to {MAX_RANK}, got iteration shape {iter:?}"
    );
    if let Some(rows4) = in_fours(&axes, src_off, dst_off) {
        return copy_rows4(src, dst, &rows4, src_off / 4, dst_off / 4);
    }
    if let Some(tiles) = in_tiles(&axes, src_off, dst_off) {
        return copy_tiles(src, dst, &tiles, src_off / 4, dst_off / 4);
    }
    let mut w = axis_words([n, axes.len(), src_off, dst_off], &axes);
    // Runs along the last axis when they are long enough to pay for the per-run loop and
    // numerous enough to fill the adapter (and within llvmpipe's 65,536-iteration loop limit).
    let inner = axes.last().map_or(1, |a| a.0);
    let runs = n / inner;
    let entry = if (4..=65_536).contains(&inner) && runs >= 256 {
        w[0] = runs as u32;
        "strided_copy_rows"
    } else {
        "strided_copy"
    };
    let (count, wg) = if entry == "strided_copy" {
        (n, 256)
    } else {
        (runs, 64)
    };
    launch(
        &shader!("plumbing", "_udiv"),
        entry,
        &[],
        &w,
        &[src.bind(), dst.bind()],
        count,
        wg,
    )
}

/// The axes in vec4 units, when `strided_copy_rows4` can run them: runs contiguous on both sides
/// with a length divisible by 4, every other stride and both offsets divisible by 4, and enough
/// runs to fill the adapter.
fn in_fours(axes: &[Axis], src_off: usize, dst_off: usize) -> Option<Vec<Axis>> {
    let (&(len, s, d), outer) = axes.split_last()?;
    let runs: usize = outer.iter().map(|a| a.0).product();
    let fits = s == 1
        && d == 1
        && len.is_multiple_of(4)
        && len <= 4 * 65_536
        && runs >= 256
        && src_off.is_multiple_of(4)
        && dst_off.is_multiple_of(4)
        && outer
            .iter()
            .all(|a| a.1.is_multiple_of(4) && a.2.is_multiple_of(4));
    fits.then(|| {
        let mut v: Vec<_> = outer.iter().map(|&(n, s, d)| (n, s / 4, d / 4)).collect();
        v.push((len / 4, 1, 1));
        v
    })
}

fn copy_rows4(
    src: &Tensor,
    dst: &Tensor,
    axes: &[Axis],
    src_off: usize,
    dst_off: usize,
) -> Result<()> {
    let runs: usize = axes[..axes.len() - 1].iter().map(|a| a.0).product();
    let w = axis_words([runs, axes.len(), src_off, dst_off], axes);
    launch(
        &shader!("plumbing4", "_udiv"),
        "strided_copy_rows4",
        &[],
        &w,
        &[src.bind_vec4(), dst.bind_vec4()],
        runs,
        64,
    )
}

/// A copy that transposes 4 × 4 tiles: axis `i` of 4 runs along the source, axis `j` of 4 along
/// the destination, every other stride and both offsets divisible by 4, enough tiles to fill the
/// adapter. What `strided_copy_t4` needs, in vec4 units.
struct Tiles {
    outer: Vec<Axis>,
    /// The source stride of the destination-contiguous axis, the destination stride of the
    /// source-contiguous one.
    src_j: usize,
    dst_i: usize,
}

fn in_tiles(axes: &[Axis], src_off: usize, dst_off: usize) -> Option<Tiles> {
    let i = axes.iter().position(|a| a.0 == 4 && a.1 == 1)?;
    let j = axes.iter().position(|a| a.0 == 4 && a.2 == 1)?;
    let (src_j, dst_i) = (axes[j].1, axes[i].2);
    let outer: Vec<_> = (0..axes.len())
        .filter(|&k| k != i && k != j)
        .map(|k| axes[k])
        .collect();
    let tiles: usize = outer.iter().map(|a| a.0).product();
    let fours = |v: usize| v.is_multiple_of(4);
    let fits = i != j
        && fours(src_j)
        && fours(dst_i)
        && fours(src_off)
        && fours(dst_off)
        && tiles >= 256
        && outer.iter().all(|a| fours(a.1) && fours(a.2));
    fits.then(|| Tiles {
        outer: outer.iter().map(|&(n, s, d)| (n, s / 4, d / 4)).collect(),
        src_j: src_j / 4,
        dst_i: dst_i / 4,
    })
}

fn copy_tiles(src: &Tensor, dst: &Tensor, t: &Tiles, src_off: usize, dst_off: usize) -> Result<()> {
    let tiles: usize = t.outer.iter().map(|a| a.0).product();
    let mut w = axis_words([tiles, t.outer.len(), src_off, dst_off], &t.outer);
    w[10] = t.src_j as u32;
    w[11] = t.dst_i as u32;
    launch(
        &shader!("plumbing4", "_udiv"),
        "strided_copy_t4",
        &[],
        &w,
        &[src.bind_vec4(), dst.bind_vec4()],
        tiles,
        64,
    )
}

/// The last axis split into runs of 64 (or the largest of 32…4 that divides it) when it is
/// longer than a run of the rows kernel should be: a contiguous copy then runs as rows too.
fn split_long_run(mut axes: Vec<Axis>) -> Vec<Axis> {
    let Some(&(n, s, d)) = axes.last() else {
        return axes;
    };
    if n <= 1024 || axes.len() >= MAX_RANK {
        return axes;
    }
    if let Some(len) = [64, 32, 16, 8, 4]
        .into_iter()
        .find(|l| n.is_multiple_of(*l))
    {
        *axes.last_mut().expect("non-empty") = (n / len, s * len, d * len);
        axes.push((len, s, d));
    }
    axes
}

/// (outer, n, inner) around `axis`.
fn split3(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

fn permute_raw(x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let shape = x.shape();
    let mut seen = vec![false; shape.len()];
    let valid = perm.len() == shape.len()
        && perm
            .iter()
            .all(|&p| p < shape.len() && !std::mem::replace(&mut seen[p], true));
    if !valid {
        bail!("permute: {perm:?} is not a permutation of the axes of {shape:?}");
    }
    let st = strides(shape);
    let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    // Moving only size-1 axes (a one-head attention's [B, T, 1, D] → [B, 1, T, D]) leaves
    // every element where it was: the same buffer under the new shape, no copy.
    let moved: Vec<usize> = perm.iter().copied().filter(|&p| shape[p] != 1).collect();
    if moved.is_sorted() {
        return x.view(&out);
    }
    let src_st: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let y = Tensor::empty(&out)?;
    strided_copy(x, &y, &out, &src_st, 0, &strides(&out), 0)?;
    Ok(y)
}

fn narrow_raw(x: &Tensor, axis: usize, start: usize, len: usize) -> Result<Tensor> {
    let (o, n, i) = split3(x.shape(), axis);
    let mut out = x.shape().to_vec();
    out[axis] = len;
    let y = Tensor::empty(&out)?;
    strided_copy(
        x,
        &y,
        &[o, len, i],
        &[n * i, i, 1],
        start * i,
        &[len * i, i, 1],
        0,
    )?;
    Ok(y)
}

/// Writes all of `src` into `dst` at offset `start` along `axis` (`dst` is otherwise untouched).
fn place_raw(src: &Tensor, dst: &Tensor, axis: usize, start: usize) -> Result<()> {
    let (o, len, i) = split3(src.shape(), axis);
    let n = dst.shape()[axis];
    strided_copy(
        src,
        dst,
        &[o, len, i],
        &[len * i, i, 1],
        0,
        &[n * i, i, 1],
        start * i,
    )
}

/// `[.., h, w]` → `[.., h+t+b, w+l+r]` filled with `value` around `x`.
fn pad2d_raw(x: &Tensor, l: usize, r: usize, t: usize, b: usize, value: f32) -> Result<Tensor> {
    let s = x.shape();
    let (h, w) = (s[s.len() - 2], s[s.len() - 1]);
    let planes = numel(&s[..s.len() - 2]);
    let (ho, wo) = (h + t + b, w + l + r);
    let mut out = s.to_vec();
    out[s.len() - 2] = ho;
    out[s.len() - 1] = wo;
    let y = Tensor::full(&out, value)?;
    strided_copy(
        x,
        &y,
        &[planes, h, w],
        &[h * w, w, 1],
        0,
        &[ho * wo, wo, 1],
        t * wo + l,
    )?;
    Ok(y)
}

/// The inverse of `pad2d_raw`: the `[h, w]` window at (t, l) of each `[.., ho, wo]` plane.
fn crop2d_raw(g: &Tensor, l: usize, t: usize, h: usize, w: usize) -> Result<Tensor> {
    let s = g.shape();
    let (ho, wo) = (s[s.len() - 2], s[s.len() - 1]);
    let planes = numel(&s[..s.len() - 2]);
    let mut out = s.to_vec();
    out[s.len() - 2] = h;
    out[s.len() - 1] = w;
    let y = Tensor::empty(&out)?;
    strided_copy(
        g,
        &y,
        &[planes, h, w],
        &[ho * wo, wo, 1],
        t * wo + l,
        &[h * w, w, 1],
        0,
    )?;
    Ok(y)
}

/// Uploads host indices as an f32-encoded index tensor of `shape`.
pub fn index_tensor(idx: &[usize], shape: &[usize]) -> Result<Tensor> {
    ensure!(
        idx.iter().all(|&i| i < 1 << 24),
        "indices must be below 2^24 to be exact in f32"
    );
    let v: Vec<f32> = idx.iter().map(|&i| i as f32).collect();
    Tensor::from_slice(&v, shape)
}

/// Gather (`scatter = false`): y (outer, k, inner) from x (outer, n, inner); scatter-add
/// (`scatter = true`): y (outer, n, inner) from x (outer, k, inner). `per_slice` indices are
/// (outer, k), otherwise one shared list of k.
fn gather_raw(
    x: &Tensor,
    idx: &Tensor,
    out_shape: &[usize],
    (outer, n, inner, k): (usize, usize, usize, usize),
    per_slice: bool,
    scatter: bool,
) -> Result<Tensor> {
    let y = Tensor::empty(out_shape)?;
    if y.numel() == 0 {
        return Ok(y);
    }
    let idx_stride = if per_slice { k } else { 0 };
    let params = [outer, n, inner, k, idx_stride].map(|v| v as u32);
    launch(
        &shader!("gather"),
        if scatter { "scatter_add" } else { "gather" },
        &[],
        &params,
        &[x.bind(), idx.bind(), y.bind()],
        y.numel(),
        256,
    )?;
    Ok(y)
}

/// Which 2x upsampling.
#[derive(Clone, Copy)]
enum Up {
    Nearest,
    /// `align_corners`
    Bilinear(bool),
}

fn upsample_raw(x: &Tensor, mode: Up, backward: bool) -> Result<Tensor> {
    let s = x.shape();
    ensure!(s.len() >= 2, "upsample needs [.., h, w], got {s:?}");
    let (mut h, mut w) = (s[s.len() - 2], s[s.len() - 1]);
    let planes = numel(&s[..s.len() - 2]);
    let mut out = s.to_vec();
    if backward {
        ensure!(
            h.is_multiple_of(2) && w.is_multiple_of(2),
            "upsample backward needs even sizes, got {s:?}"
        );
        h /= 2;
        w /= 2;
        out[s.len() - 2] = h;
        out[s.len() - 1] = w;
    } else {
        out[s.len() - 2] = 2 * h;
        out[s.len() - 1] = 2 * w;
    }
    let y = Tensor::empty(&out)?;
    if y.numel() == 0 {
        return Ok(y);
    }
    let entry = match (mode, backward) {
        (Up::Nearest, false) => "nearest_fwd",
        (Up::Nearest, true) => "nearest_bwd",
        (Up::Bilinear(_), false) => "bilinear_fwd",
        (Up::Bilinear(_), true) => "bilinear_bwd",
    };
    let align = matches!(mode, Up::Bilinear(true));
    launch(
        &shader!("upsample"),
        entry,
        &[("ALIGN", if align { 1.0 } else { 0.0 })],
        &[planes as u32, h as u32, w as u32],
        &[x.bind(), y.bind()],
        y.numel(),
        256,
    )?;
    Ok(y)
}

impl Tensor {
    /// A view with another shape over the same data; one dimension may be `usize::MAX` (-1).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let view = self.view(shape)?;
        let from = self.shape().to_vec();
        Ok(Tensor::from_op(view, "reshape", &[self], move |_, g| {
            Ok(vec![Some(g.reshape(&from)?)])
        }))
    }

    /// Axes reordered (`y.shape[i] = x.shape[perm[i]]`), as an explicit copy; rank ≤ 6 after
    /// size-1 axes are dropped. Backward: the inverse permutation.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        let y = permute_raw(self, perm)?;
        let mut inv = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        Ok(Tensor::from_op(y, "permute", &[self], move |_, g| {
            Ok(vec![Some(permute_raw(g, &inv)?)])
        }))
    }

    /// Swaps two axes (negative counts from the end).
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let (a, b) = (self.axis(a), self.axis(b));
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// `len` entries of `axis` from `start` (a copy). Backward: the gradient placed into zeros
    /// of the full shape.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let ax = self.axis(axis);
        let n = self.shape()[ax];
        if start + len > n {
            bail!(
                "narrow: [{start}, {}) is outside axis {ax} of {:?}",
                start + len,
                self.shape()
            );
        }
        let y = narrow_raw(self, ax, start, len)?;
        let full = self.shape().to_vec();
        Ok(Tensor::from_op(y, "narrow", &[self], move |_, g| {
            let gx = Tensor::zeros(&full)?;
            place_raw(g, &gx, ax, start)?;
            Ok(vec![Some(gx)])
        }))
    }

    /// `x` (outer, n, inner) gathered along `axis` at `indices` (1-D, f32-encoded integers; may
    /// repeat): (outer, k, inner), as `torch.index_select`. Backward: [`Tensor::scatter_add`].
    pub fn index_select(&self, axis: isize, indices: &Tensor) -> Result<Tensor> {
        let ax = self.axis(axis);
        ensure!(
            indices.rank() == 1,
            "index_select: indices must be 1-D, got {:?}",
            indices.shape()
        );
        let (o, n, i) = split3(self.shape(), ax);
        let k = indices.numel();
        let mut out = self.shape().to_vec();
        out[ax] = k;
        let y = gather_raw(self, indices, &out, (o, n, i, k), false, false)?;
        let (full, idx) = (self.shape().to_vec(), indices.clone());
        Ok(Tensor::from_op(y, "index_select", &[self], move |_, g| {
            Ok(vec![Some(gather_raw(
                g,
                &idx,
                &full,
                (o, n, i, k),
                false,
                true,
            )?)])
        }))
    }

    /// The adjoint of [`Tensor::index_select`]: `x` (outer, k, inner) summed into `size` slots of
    /// `axis` by `indices` (1-D, k entries; repeats accumulate), i.e.
    /// `torch.zeros(..).index_add_(axis, indices, x)`. Backward: `index_select`.
    pub fn scatter_add(&self, axis: isize, indices: &Tensor, size: usize) -> Result<Tensor> {
        let ax = self.axis(axis);
        let (o, k, i) = split3(self.shape(), ax);
        ensure!(
            indices.rank() == 1 && indices.numel() == k,
            "scatter_add: indices {:?} must be 1-D with one entry per slot of axis {ax} of {:?}",
            indices.shape(),
            self.shape()
        );
        let mut out = self.shape().to_vec();
        out[ax] = size;
        let y = gather_raw(self, indices, &out, (o, size, i, k), false, true)?;
        let (part, idx) = (self.shape().to_vec(), indices.clone());
        Ok(Tensor::from_op(y, "scatter_add", &[self], move |_, g| {
            Ok(vec![Some(gather_raw(
                g,
                &idx,
                &part,
                (o, size, i, k),
                false,
                false,
            )?)])
        }))
    }

    /// Per-batch row gather (MAE's token shuffle): `x` [B, T, D], `idx` [B, T'] (f32-encoded,
    /// < T) → [B, T', D] with `y[b, t] = x[b, idx[b, t]]` (`torch.gather` on dim 1 with the index
    /// expanded over D). Backward: [`Tensor::scatter_add_rows`].
    pub fn gather_rows(&self, idx: &Tensor) -> Result<Tensor> {
        let (b, t, d) = rows3(self.shape(), idx.shape(), "gather_rows")?;
        let k = idx.shape()[1];
        let y = gather_raw(self, idx, &[b, k, d], (b, t, d, k), true, false)?;
        let (full, idx) = (self.shape().to_vec(), idx.clone());
        Ok(Tensor::from_op(y, "gather_rows", &[self], move |_, g| {
            Ok(vec![Some(gather_raw(
                g,
                &idx,
                &full,
                (b, t, d, k),
                true,
                true,
            )?)])
        }))
    }

    /// The adjoint of [`Tensor::gather_rows`]: `x` [B, T', D] summed into [B, t, D] at rows
    /// `idx` [B, T'] (repeats accumulate). Backward: `gather_rows`.
    pub fn scatter_add_rows(&self, idx: &Tensor, t: usize) -> Result<Tensor> {
        let (b, k, d) = rows3(self.shape(), idx.shape(), "scatter_add_rows")?;
        ensure!(
            idx.shape()[1] == k,
            "scatter_add_rows: idx {:?} needs one entry per row of {:?}",
            idx.shape(),
            self.shape()
        );
        let y = gather_raw(self, idx, &[b, t, d], (b, t, d, k), true, true)?;
        let (part, idx) = (self.shape().to_vec(), idx.clone());
        Ok(Tensor::from_op(
            y,
            "scatter_add_rows",
            &[self],
            move |_, g| {
                Ok(vec![Some(gather_raw(
                    g,
                    &idx,
                    &part,
                    (b, t, d, k),
                    true,
                    false,
                )?)])
            },
        ))
    }

    /// Pads the last two axes (NCHW: W by `left`/`right`, H by `top`/`bottom`) with `value`, as
    /// `F.pad(x, (left, right, top, bottom), value=value)`. Backward: the crop back.
    pub fn pad2d(
        &self,
        left: usize,
        right: usize,
        top: usize,
        bottom: usize,
        value: f32,
    ) -> Result<Tensor> {
        ensure!(
            self.rank() >= 2,
            "pad2d needs [.., h, w], got {:?}",
            self.shape()
        );
        let (h, w) = (self.dim(-2), self.dim(-1));
        let y = pad2d_raw(self, left, right, top, bottom, value)?;
        Ok(Tensor::from_op(y, "pad2d", &[self], move |_, g| {
            Ok(vec![Some(crop2d_raw(g, left, top, h, w)?)])
        }))
    }

    /// Nearest-neighbour 2x upsampling of the last two axes (`nn.Upsample(scale_factor=2)`).
    /// Backward: each input sums its 2x2 block of gradients.
    pub fn upsample_nearest2x(&self) -> Result<Tensor> {
        let y = upsample_raw(self, Up::Nearest, false)?;
        Ok(Tensor::from_op(y, "upsample_nearest2x", &[self], |_, g| {
            Ok(vec![Some(upsample_raw(g, Up::Nearest, true)?)])
        }))
    }

    /// Bilinear 2x upsampling of the last two axes, as
    /// `nn.Upsample(scale_factor=2, mode='bilinear', align_corners=...)` (formulas in
    /// `shaders/upsample.wgsl`; the FastSHAP UNet uses `align_corners=True`). Backward: each
    /// input gathers its weighted contributions.
    pub fn upsample_bilinear2x(&self, align_corners: bool) -> Result<Tensor> {
        let mode = Up::Bilinear(align_corners);
        let y = upsample_raw(self, mode, false)?;
        Ok(Tensor::from_op(
            y,
            "upsample_bilinear2x",
            &[self],
            move |_, g| Ok(vec![Some(upsample_raw(g, mode, true)?)]),
        ))
    }

    /// MAE's patchify: [B, C, H, W] → [B, (H/p)(W/p), p·p·C], patches row-major over the grid,
    /// each laid out (p, p, C) (`einsum('nchpwq->nhwpqc')`).
    pub fn patchify(&self, p: usize) -> Result<Tensor> {
        self.patchify_with(p, &[0, 2, 4, 3, 5, 1])
    }

    /// Patchify with each patch laid out (C, p, p), the flattening of a ViT Conv2d patch-embed
    /// weight [D, C, p, p]: a Linear over these vectors equals that Conv2d with stride p.
    pub fn patchify_chw(&self, p: usize) -> Result<Tensor> {
        self.patchify_with(p, &[0, 2, 4, 1, 3, 5])
    }

    /// The inverse of [`Tensor::patchify`]: [B, (h/p)(w/p), p·p·C] → [B, C, h, w].
    pub fn unpatchify(&self, p: usize, h: usize, w: usize) -> Result<Tensor> {
        // [B, gh, gw, p, p, C] → [B, C, gh, p, gw, p]
        self.unpatchify_with(p, h, w, false)
    }

    /// The inverse of [`Tensor::patchify_chw`].
    pub fn unpatchify_chw(&self, p: usize, h: usize, w: usize) -> Result<Tensor> {
        self.unpatchify_with(p, h, w, true)
    }

    /// [B, C, gh, p, gw, p] permuted by `perm`, flattened to tokens.
    fn patchify_with(&self, p: usize, perm: &[usize]) -> Result<Tensor> {
        let s = self.shape();
        if s.len() != 4 || p == 0 || !s[2].is_multiple_of(p) || !s[3].is_multiple_of(p) {
            bail!("patchify: need [B, C, H, W] with H, W divisible by p = {p}, got {s:?}");
        }
        let (b, c, gh, gw) = (s[0], s[1], s[2] / p, s[3] / p);
        self.reshape(&[b, c, gh, p, gw, p])?
            .permute(perm)?
            .reshape(&[b, gh * gw, p * p * c])
    }

    fn unpatchify_with(&self, p: usize, h: usize, w: usize, chw: bool) -> Result<Tensor> {
        let s = self.shape();
        if s.len() != 3 || p == 0 || !h.is_multiple_of(p) || !w.is_multiple_of(p) {
            bail!("unpatchify: need [B, L, D] and {h}x{w} divisible by p = {p}, got {s:?}");
        }
        let (gh, gw) = (h / p, w / p);
        if s[1] != gh * gw || !s[2].is_multiple_of(p * p) {
            bail!("unpatchify: {s:?} is not a {gh}x{gw} grid of {p}x{p} patches");
        }
        let (b, c) = (s[0], s[2] / (p * p));
        if chw {
            // [B, gh, gw, C, p, p] → [B, C, gh, p, gw, p]
            self.reshape(&[b, gh, gw, c, p, p])?
                .permute(&[0, 3, 1, 4, 2, 5])?
                .reshape(&[b, c, h, w])
        } else {
            // [B, gh, gw, p, p, C] → [B, C, gh, p, gw, p]
            self.reshape(&[b, gh, gw, p, p, c])?
                .permute(&[0, 5, 1, 3, 2, 4])?
                .reshape(&[b, c, h, w])
        }
    }
}

/// Joins tensors along `axis` (all other axes equal), as `torch.cat`. Backward: each input's
/// gradient is the matching `narrow` of the output gradient.
pub fn concat(xs: &[&Tensor], axis: isize) -> Result<Tensor> {
    let Some(first) = xs.first() else {
        bail!("concat of no tensors");
    };
    let ax = first.axis(axis);
    let mut out = first.shape().to_vec();
    out[ax] = 0;
    for x in xs {
        let ok = x.rank() == out.len()
            && (0..out.len()).all(|d| d == ax || x.shape()[d] == first.shape()[d]);
        if !ok {
            bail!(
                "concat along axis {ax}: shapes {:?} and {:?} differ off that axis",
                first.shape(),
                x.shape()
            );
        }
        out[ax] += x.shape()[ax];
    }
    let y = Tensor::empty(&out)?;
    let mut starts = Vec::with_capacity(xs.len());
    let mut at = 0;
    for x in xs {
        place_raw(x, &y, ax, at)?;
        starts.push((at, x.shape()[ax]));
        at += x.shape()[ax];
    }
    Ok(Tensor::from_op(y, "concat", xs, move |_, g| {
        starts
            .iter()
            .map(|&(s, len)| narrow_raw(g, ax, s, len).map(Some))
            .collect()
    }))
}

/// Checks `x` [B, T, D] against `idx` [B, T'] and returns (B, T, D).
fn rows3(x: &[usize], idx: &[usize], op: &str) -> Result<(usize, usize, usize)> {
    if x.len() != 3 || idx.len() != 2 || idx[0] != x[0] {
        bail!("{op}: need x [B, T, D] and idx [B, T'], got {x:?} and {idx:?}");
    }
    Ok((x[0], x[1], x[2]))
}
