//! The tiled variant (`Variant::Tiled`, the GPU class) of the last-axis row kernels
//! (`shaders/rows_gpu.wgsl`), one workgroup per row: softmax / log-softmax, LayerNorm forward
//! and input gradient, and the sum over the last axis. softmax.rs, norm.rs and reduce.rs call
//! these on that variant; the ops, their backward rules and saved state stay theirs.
//!
//! Why: a row per invocation serialises D values per thread with uncoalesced reads (neighbouring
//! threads are D words apart), which a GPU only hides with many more rows than ViT's
//! batch × 65 tokens. 64 invocations per row read it coalesced and reduce it in a tree.

use crate::gpu::{self, Dispatch};
use crate::shader;
use crate::tensor::Tensor;
use anyhow::Result;

/// Invocations per row (`WG` in the shader).
const WG: usize = 64;

/// Whether a sum over rows of `n` values should use the workgroup-per-row kernel: up to 256
/// values per invocation, as the chunked kernel of reduce.rs takes. Longer rows (few of them, as
/// in `sum_all`) would leave all but a few multiprocessors idle; the chunked passes spread them
/// over the whole GPU instead (and stay far below llvmpipe's 65,536 loop iterations).
pub fn fits(n: usize) -> bool {
    n <= WG * 256
}

fn dispatch(
    entry: &'static str,
    constants: &[(&'static str, f64)],
    params: &[u32],
    bindings: &[gpu::Binding<'_>],
    rows: usize,
) -> Result<()> {
    gpu::ctx().dispatch(Dispatch {
        shader: &shader!("rows_gpu"),
        entry,
        constants,
        params,
        bindings,
        // One workgroup per row.
        workgroups: gpu::grid(rows, 1),
    })
}

/// y = softmax (or log-softmax) of each row of x viewed as [rows, n].
pub fn softmax(x: &Tensor, y: &Tensor, rows: usize, n: usize, log: bool) -> Result<()> {
    let params = [rows as u32, n as u32, 0];
    let log = [("LOG", if log { 1.0 } else { 0.0 })];
    dispatch("softmax_gpu", &log, &params, &[x.bind(), y.bind()], rows)
}

/// y [rows] = Σ of each row of x viewed as [rows, n].
pub fn sum_rows(x: &Tensor, y: &Tensor, rows: usize, n: usize) -> Result<()> {
    let params = [rows as u32, n as u32, 0];
    dispatch("sum_rows_gpu", &[], &params, &[x.bind(), y.bind()], rows)
}

/// LayerNorm forward: y and stats [rows, 2] (mean, rstd); `params` = [rows, d, eps bits, ..].
pub fn layer_norm(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    y: &Tensor,
    stats: &Tensor,
    params: &[u32],
) -> Result<()> {
    let binds = [x.bind(), w.bind(), b.bind(), y.bind(), stats.bind()];
    dispatch("ln_gpu_fwd", &[], params, &binds, params[0] as usize)
}

/// LayerNorm input gradient from the saved stats; `params` as for [`layer_norm`].
pub fn layer_norm_dx(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    stats: &Tensor,
    dx: &Tensor,
    params: &[u32],
) -> Result<()> {
    let binds = [x.bind(), w.bind(), g.bind(), stats.bind(), dx.bind()];
    dispatch("ln_gpu_bwd_dx", &[], params, &binds, params[0] as usize)
}
