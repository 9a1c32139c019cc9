// requires: _binary_ops.wgsl
// Broadcasting binary ops (op table in _binary_ops.wgsl), one output element per invocation.
// Word layout: [0] n, [1] rank, [4..4+rank) output shape, [12..) a strides, [20..) b strides.

struct Params { w: array<vec4<u32>, 8> }
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
        let size = P(4u + k);
        let c = rem % size;
        rem = rem / size;
        ia = ia + c * P(12u + k);
        ib = ib + c * P(20u + k);
    }
    y[i] = g(a[ia], b[ib]);
}
