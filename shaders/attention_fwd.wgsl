// Fused scaled-dot-product attention, forward: out = softmax(Q·Kᵀ·scale + mask) · V over
// q [BH, Tq, Dh], k, v [BH, Tk, Dh], optional additive key mask [B, Tk] (row b = bh / heads).
//
// One invocation per query row loops over the keys with an online softmax (running max m,
// running sum l, output accumulator rescaled when the max grows): no Tq×Tk matrix anywhere and
// no barriers, which suits lavapipe (~µs per workgroupBarrier) and keeps the kernel small.
// Threads of one (b, h) read the same K/V rows, so on GPUs those reads hit in cache.
// Saved for the backward: lse = m + log l per row.

const MAXD: u32 = 128u;  // head dims up to this fit the per-invocation accumulators
const NEG: f32 = -0x1.fffffep+127f;  // finite "−∞": exp(NEG − s) is 0 without inf − inf = NaN
override HAS_MASK: bool = false;
// The head dim as a pipeline constant: loops over it get fixed trip counts, so the compiler
// unrolls them and keeps the per-row accumulators in registers instead of indexed scratch.
override DH: u32 = 32u;

struct Params { rows: u32, heads: u32, tq: u32, tk: u32, dh: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;  // any buffer when !HAS_MASK
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(64)
fn attn_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
    let bh = r / p.tq;
    let qb = r * p.dh;
    let kb0 = bh * p.tk * p.dh;
    let mb = (bh / p.heads) * p.tk;
    var qi: array<f32, MAXD>;
    var acc: array<f32, MAXD>;
    for (var d = 0u; d < DH; d = d + 1u) {
        qi[d] = q[qb + d] * p.scale;
        acc[d] = 0.0;
    }
    var m = NEG;
    var l = 0.0;
    for (var j = 0u; j < p.tk; j = j + 1u) {
        let kb = kb0 + j * p.dh;
        var s = 0.0;
        for (var d = 0u; d < DH; d = d + 1u) { s = s + qi[d] * k[kb + d]; }
        if (HAS_MASK) { s = s + mask[mb + j]; }
        if (s > m) {
            // New maximum: rescale what was summed so far (only then, not every key).
            let a = exp(m - s);
            l = l * a;
            for (var d = 0u; d < DH; d = d + 1u) { acc[d] = acc[d] * a; }
            m = s;
        }
        let e = exp(s - m);
        l = l + e;
        for (var d = 0u; d < DH; d = d + 1u) { acc[d] = acc[d] + e * v[kb + d]; }
    }
    // A row whose keys are all masked with −∞ has l = 0 and gives NaN, as PyTorch does.
    let inv = 1.0 / l;
    for (var d = 0u; d < DH; d = d + 1u) { out[qb + d] = acc[d] * inv; }
    lse[r] = m + log(l);
}
