// clip_grad_norm_: per-chunk sums of squares of each gradient into one partials buffer (each
// parameter writes its own range [offset, offset + chunks)), then, once the partials are reduced
// to Σg² on the device, every gradient is scaled by min(1, max_norm / (sqrt(Σg²) + 1e-6)) as
// PyTorch does — reading Σg² from the device, so nothing waits for the host.

struct Params { n: u32, chunk: u32, offset: u32, max_norm: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> sumsq_total: array<f32>;

@compute @workgroup_size(256)
fn sumsq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 256u;
    let k0 = c * p.chunk;
    if (k0 >= p.n) { return; }
    let k1 = min(p.n, k0 + p.chunk);
    var acc = 0.0;
    for (var k = k0; k < k1; k = k + 1u) { acc = acc + src[k] * src[k]; }
    dst[p.offset + c] = acc;
}

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    let coef = min(1.0, p.max_norm / (sqrt(sumsq_total[0]) + 1e-6));
    dst[i] = src[i] * coef;
}
