// requires: _udiv.wgsl
// The check of `udiv` (kernels-tests/divisor.rs): y[i] = x[i] / d_i, the divisor's row of the
// table being (magic, shifts, unused, unused). Integers travel as the bits of f32 buffers.

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(64)
fn udiv_each(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= p.n) { return; }
    let t = table[i];
    y[i] = udiv(x[i], t.x, t.y);
}
