// Inverted dropout: y = x·scale where the element is kept, 0 elsewhere; scale = 1/(1−p).
// The mask is never stored: a counter-based hash of (element index, 64-bit seed) decides each
// element, so the backward reruns this same kernel on the incoming gradient with the same seed
// and gets exactly mask·scale·g. Keep iff hash ≥ threshold = p·2³², so P(drop) = p.

struct Params { n: u32, seed_lo: u32, seed_hi: u32, threshold: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// PCG-RXS-M-XS output hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020):
// a bijection on u32 with good avalanche. The test suite has a CPU copy; keep them in step.
fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

fn keep_hash(i: u32) -> u32 {
    let key = pcg(p.seed_lo ^ pcg(p.seed_hi + 0x9e3779b9u));
    // Two rounds so that neighbouring indices decorrelate.
    return pcg(pcg(i ^ key) + key);
}

@compute @workgroup_size(256)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    y[i] = select(0.0, x[i] * p.scale, keep_hash(i) >= p.threshold);
}
