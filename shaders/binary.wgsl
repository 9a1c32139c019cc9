// requires: _binary_ops.wgsl
// Elementwise binary ops on equal shapes, four values per invocation (vec4 loads). Broadcasting
// shapes go through binary_bcast.wgsl. Word 0 of the params: the number of vec4s.
struct Params { w: array<vec4<u32>, 8> }
@group(0) @binding(0) var<uniform> p: Params;
fn P(i: u32) -> u32 { return p.w[i >> 2u][i & 3u]; }

@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn binary_same(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P(0u)) { return; }
    let a = a4[i];
    let b = b4[i];
    y4[i] = vec4<f32>(g(a.x, b.x), g(a.y, b.y), g(a.z, b.z), g(a.w, b.w));
}
