// erfc with fractional error below 1.2e-7 everywhere (Numerical Recipes' erfcc, Chebyshev fit):
// the exact-erf GELU needs relative accuracy for negative inputs too. Shared by unary.wgsl,
// fused.wgsl and fused_bias4.wgsl.
fn erfc(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277)))))))));
    return select(2.0 - r, r, x >= 0.0);
}

// The exact-erf GELU and its derivative, as fused.wgsl and fused_bias4.wgsl compute them
// (unary.wgsl spells out the same operations, so fused and unfused models agree to rounding).
fn gelu(v: f32) -> f32 { return 0.5 * v * erfc(-v * 0.70710678118654752); }

fn gelu_grad(v: f32) -> f32 {
    return 0.5 * erfc(-v * 0.70710678118654752) + v * 0.39894228040143268 * exp(-0.5 * v * v);
}
