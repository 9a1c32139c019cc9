// requires: _erfc.wgsl, _udiv.wgsl
// Fused elementwise chains of the models, one pass over memory instead of two or three:
//   add_relu:      y = max(a + b, 0)            (ResNet's residual add + ReLU)
//   relu_grad:     d = g where y > 0, else 0    (its backward, the same d for a and b)
//   bias_gelu:     y = gelu(x + bias[col])      (a Linear's bias + GELU in transformer MLPs)
//   bias_gelu_grad d = g · gelu'(x + bias[col]) (its backward; the bias gradient is d's column sum)
// One element per invocation; the arithmetic matches the unfused ops' kernels (unary.wgsl,
// binary.wgsl) operation for operation, so fused and unfused models agree to rounding.

// The bias column i mod cols is taken with `udiv` (cols_magic, cols_shifts from
// src/ops/divisor.rs): `%` by a runtime value runs one lane at a time on CPU adapters.
struct Params { n: u32, cols: u32, cols_magic: u32, cols_shifts: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// bias_gelu_grad only: the incoming gradient.
@group(0) @binding(4) var<storage, read> g: array<f32>;

const WG: u32 = 256u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

fn col(i: u32) -> u32 { return i - udiv(i, p.cols_magic, p.cols_shifts) * p.cols; }


@compute @workgroup_size(WG)
fn add_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    y[i] = max(a[i] + b[i], 0.0);
}

// (a = the forward's output y, b = the incoming gradient)
@compute @workgroup_size(WG)
fn relu_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    y[i] = b[i] * select(0.0, 1.0, a[i] > 0.0); // as g · step(x) unfused (NaN stays NaN)
}

@compute @workgroup_size(WG)
fn bias_gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    y[i] = gelu(a[i] + b[col(i)]);
}

@compute @workgroup_size(WG)
fn bias_gelu_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    y[i] = g[i] * gelu_grad(a[i] + b[col(i)]);
}
