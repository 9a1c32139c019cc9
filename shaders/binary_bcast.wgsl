// requires: _binary_ops.wgsl, _udiv.wgsl
// Broadcasting binary ops (op table in _binary_ops.wgsl), one output element per invocation.
// The host merges axes that are contiguous in the output and both operands and drops size-1
// axes, so most calls have rank 1–3; each coordinate is split off with `udiv` (multiply and
// shift: `%` and `/` by a runtime size would run one lane at a time on CPU adapters).
// Word layout: [0] n, [1] rank, [4..12) output shape, [12..20) a strides, [20..28) b strides,
// [28..36) each axis's magic multiplier, [36..44) its packed shifts (src/ops/divisor.rs).

struct Params { w: array<vec4<u32>, 11> }
@group(0) @binding(0) var<uniform> p: Params;
fn P(i: u32) -> u32 { return p.w[i >> 2u][i & 3u]; }

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn binary_bcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P(0u)) { return; }
    let rank = P(1u);
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = rank; d > 0u; d = d - 1u) {
        let k = d - 1u;
        let q = udiv(rem, P(28u + k), P(36u + k));
        let c = rem - q * P(4u + k);
        rem = q;
        ia = ia + c * P(12u + k);
        ib = ib + c * P(20u + k);
    }
    y[i] = g(a[ia], b[ib]);
}
