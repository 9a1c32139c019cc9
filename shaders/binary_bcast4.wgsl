// requires: _binary_ops.wgsl, _udiv.wgsl
// binary_bcast.wgsl four outputs at a time, for broadcasts whose innermost axis has a length
// divisible by 4 and every outer stride divisible by 4 (the host checks): one vec4 load per
// operand instead of four scalar ones (a storage load is the expensive part on CPU adapters),
// and the coordinates split once per four elements. An operand broadcast along the innermost
// axis (its stride there 0) reads one value and repeats it.
// Word layout: [0] n / 4, [1] rank, [2] a's innermost stride (0 or 1), [3] b's,
// [4..12) output shape with the innermost size divided by 4, [12..20) a strides, [20..28)
// b strides (in elements), [28..36) each axis's magic multiplier, [36..44) its packed shifts.

struct Params { w: array<vec4<u32>, 11> }
@group(0) @binding(0) var<uniform> p: Params;
fn P(i: u32) -> u32 { return p.w[i >> 2u][i & 3u]; }

@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

// Four values from `ix` on: a vec4 when the operand runs along the axis, else one repeated.
fn four_a(ix: u32, runs: bool) -> vec4<f32> {
    if (runs) { return a[ix >> 2u]; }
    return vec4<f32>(a[ix >> 2u][ix & 3u]);
}

fn four_b(ix: u32, runs: bool) -> vec4<f32> {
    if (runs) { return b[ix >> 2u]; }
    return vec4<f32>(b[ix >> 2u][ix & 3u]);
}

@compute @workgroup_size(256)
fn binary_bcast4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P(0u)) { return; }
    let rank = P(1u);
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = rank; d > 0u; d = d - 1u) {
        let k = d - 1u;
        let q = udiv(rem, P(28u + k), P(36u + k));
        var c = rem - q * P(4u + k);
        rem = q;
        if (k == rank - 1u) { c = c * 4u; } // the innermost axis counts groups of four
        ia = ia + c * P(12u + k);
        ib = ib + c * P(20u + k);
    }
    let va = four_a(ia, P(2u) == 1u);
    let vb = four_b(ib, P(3u) == 1u);
    y[i] = vec4<f32>(g(va.x, vb.x), g(va.y, vb.y), g(va.z, vb.z), g(va.w, vb.w));
}
