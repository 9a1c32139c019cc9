//! The subgroup variant (`Variant::Subgroup`, CPU adapters with 8-lane subgroups) of LayerNorm
//! (`shaders/norm_ln_subgroup.wgsl`): one row per lane as the register-blocked kernels, but the
//! values all 8 lanes read at once (w, b; a row's mean and rstd in the weight gradient) are
//! loaded once per subgroup and broadcast. norm.rs calls these; the op and its backward stay
//! there.

use super::super::launch;
use crate::shader;
use crate::tensor::Tensor;
use anyhow::Result;

/// Rows of `params` = [rows, d, eps bits, chunk], padded to whole subgroups.
fn lanes(params: &[u32]) -> usize {
    (params[0] as usize).div_ceil(8) * 8
}

/// LayerNorm forward: y and stats [rows, 2] (mean, rstd).
pub fn layer_norm(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    y: &Tensor,
    stats: &Tensor,
    params: &[u32],
) -> Result<()> {
    if params[1].is_multiple_of(4) {
        // Rows of a length divisible by 4 as vec4s: a quarter of the loads.
        let binds = [
            x.bind_vec4(),
            w.bind_vec4(),
            b.bind_vec4(),
            y.bind_vec4(),
            stats.bind(),
        ];
        let sh = shader!("norm_ln_subgroup4");
        return launch(&sh, "ln_fwd_sg4", &[], params, &binds, lanes(params), 8);
    }
    let binds = [x.bind(), w.bind(), b.bind(), y.bind(), stats.bind()];
    let sh = shader!("norm_ln_subgroup");
    launch(&sh, "ln_fwd_sg", &[], params, &binds, lanes(params), 8)
}

/// LayerNorm input gradient from the saved stats.
pub fn layer_norm_dx(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    stats: &Tensor,
    dx: &Tensor,
    params: &[u32],
) -> Result<()> {
    let binds = [x.bind(), w.bind(), g.bind(), stats.bind(), dx.bind()];
    let sh = shader!("norm_ln_subgroup");
    launch(&sh, "ln_bwd_dx_sg", &[], params, &binds, lanes(params), 8)
}

/// LayerNorm weight and bias gradients as [nchunks, d] partial sums over chunks of rows.
pub fn layer_norm_dwb(
    x: &Tensor,
    g: &Tensor,
    stats: &Tensor,
    (dw, db): (&Tensor, &Tensor),
    params: &[u32],
    nchunks: usize,
) -> Result<()> {
    let binds = [x.bind(), g.bind(), stats.bind(), dw.bind(), db.bind()];
    let dpad = (params[1] as usize).div_ceil(8) * 8;
    let sh = shader!("norm_ln_subgroup");
    launch(&sh, "ln_bwd_dwb_sg", &[], params, &binds, nchunks * dpad, 8)
}
