// Reductions over one axis of a tensor viewed as (outer, n, inner). Each invocation reduces one
// chunk of `chunk` values; long axes are reduced in several launches (partial results of
// (outer, nchunks, inner)) so that no single invocation walks a million values.

override OP: u32 = 0u;
const SUM: u32 = 0u;
const MAX: u32 = 1u;
const ARGMAX: u32 = 2u; // index of the first maximum, as f32 (exact below 2^24)

struct Params { outer: u32, n: u32, inner: u32, chunk: u32, nchunks: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * 256u;
    let per_outer = p.nchunks * p.inner;
    if (idx >= p.outer * per_outer) { return; }
    let o = idx / per_outer;
    let r = idx % per_outer;
    let c = r / p.inner;
    let i = r % p.inner;
    let k0 = c * p.chunk;
    let k1 = min(p.n, k0 + p.chunk);
    let base = o * p.n * p.inner + i;
    var acc = 0.0;
    var best = -0x1.fffffep+127f;
    var arg = k0;
    for (var k = k0; k < k1; k = k + 1u) {
        let v = x[base + k * p.inner];
        if (OP == SUM) {
            acc = acc + v;
        } else if (v > best || (k == k0)) {
            best = v;
            arg = k;
        }
    }
    switch OP {
        case SUM: { y[idx] = acc; }
        case MAX: { y[idx] = best; }
        default: { y[idx] = f32(arg); }
    }
}
