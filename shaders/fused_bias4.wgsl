// requires: _erfc.wgsl, _udiv.wgsl
// fused.wgsl's bias_gelu and bias_gelu_grad four elements at a time, for a bias length
// divisible by 4 (the host checks): vec4 loads of the input, the bias and the gradient instead
// of scalar ones (a storage load is the expensive part on CPU adapters), the bias group
// i mod (cols / 4) taken once per four elements with `udiv`. The same f32 arithmetic per
// element as fused.wgsl, so both variants agree bit for bit.

struct Params { n4: u32, cols4: u32, cols4_magic: u32, cols4_shifts: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
// bias_gelu_grad4 only: the incoming gradient.
@group(0) @binding(4) var<storage, read> g: array<vec4<f32>>;

const WG: u32 = 256u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

fn bias4(i: u32) -> vec4<f32> {
    return b[i - udiv(i, p.cols4_magic, p.cols4_shifts) * p.cols4];
}


@compute @workgroup_size(WG)
fn bias_gelu4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n4) { return; }
    let v = a[i] + bias4(i);
    y[i] = vec4<f32>(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w));
}

@compute @workgroup_size(WG)
fn bias_gelu_grad4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n4) { return; }
    let v = a[i] + bias4(i);
    y[i] = g[i] * vec4<f32>(gelu_grad(v.x), gelu_grad(v.y), gelu_grad(v.z), gelu_grad(v.w));
}
