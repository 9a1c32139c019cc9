// requires: _attention_sg_fwd_io.wgsl
// Fused attention for CPU adapters with 8-lane subgroups: the same math and outputs as
// attention_fwd.wgsl / attention_bwd.wgsl, with loads shared between lanes (why: ARCHITECTURE.md,
// "Facts about lavapipe"). A workgroup is one subgroup of 8 rows of one (batch, head) — 8 queries
// (forward, dQ) or 8 keys (dK/dV) — which all read the same K/V (or Q/dO) rows. Each lane loads
// an eighth of such a row (dims 32c + 4l .. +4 of every 32-wide chunk c) and subgroupBroadcast
// hands every lane the rest: per key, DH/4 loads per lane instead of 2·DH. Rows past the end
// (a tile straddling Tq) compute on a clamped row and skip their writes, so every lane runs the
// same loop (broadcasts need uniform control flow). Needs DH a multiple of 32, at most 128.

const MAXV: u32 = 32u;  // vec4s of the longest row (DH = 128)
const NEG: f32 = -0x1.fffffep+127f;  // finite "−∞": exp(NEG − s) is 0 without inf − inf = NaN
override HAS_MASK: bool = false;
// The head dim as a pipeline constant: loops over it get fixed trip counts and are unrolled, so
// the per-row arrays below stay in registers (indexed arrays would live in per-lane scratch).
override DH: u32 = 32u;

@compute @workgroup_size(8)
fn attn_fwd_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(subgroup_invocation_id) lane: u32) {
    let t = wg.x + wg.y * nwg.x;
    let tiles = (p.tq + 7u) / 8u;
    if (t >= (p.rows / p.tq) * tiles) { return; } // whole workgroup: uniform
    let bh = t / tiles;
    let i0 = (t % tiles) * 8u + lane;
    let r = bh * p.tq + min(i0, p.tq - 1u);
    let qb = r * p.dh;
    let kb0 = bh * p.tk * p.dh;
    let mb = (bh / p.heads) * p.tk;
    var qv: array<vec4<f32>, MAXV>;
    var acc: array<vec4<f32>, MAXV>;
    for (var c = 0u; c < DH / 4u; c++) {
        let o = qb + 4u * c;
        qv[c] = vec4<f32>(q[o], q[o + 1u], q[o + 2u], q[o + 3u]) * p.scale;
        acc[c] = vec4<f32>(0.0);
    }
    var m = NEG;
    var l = 0.0;
    for (var j = 0u; j < p.tk; j++) {
        let kb = kb0 + j * p.dh + 4u * lane;
        var s = 0.0;
        for (var c = 0u; c < DH / 32u; c++) {
            let mine = k4(kb + 32u * c);
            let b = 8u * c;
            s += dot(qv[b + 0u], subgroupBroadcast(mine, 0u))
                + dot(qv[b + 1u], subgroupBroadcast(mine, 1u))
                + dot(qv[b + 2u], subgroupBroadcast(mine, 2u))
                + dot(qv[b + 3u], subgroupBroadcast(mine, 3u))
                + dot(qv[b + 4u], subgroupBroadcast(mine, 4u))
                + dot(qv[b + 5u], subgroupBroadcast(mine, 5u))
                + dot(qv[b + 6u], subgroupBroadcast(mine, 6u))
                + dot(qv[b + 7u], subgroupBroadcast(mine, 7u));
        }
        if (HAS_MASK) { s = s + mask[mb + j]; }
        if (s > m) {
            // New maximum: rescale what was summed so far (only then, not every key).
            let a = exp(m - s);
            l = l * a;
            for (var c = 0u; c < DH / 4u; c++) { acc[c] = acc[c] * a; }
            m = s;
        }
        let e = exp(s - m);
        l = l + e;
        for (var c = 0u; c < DH / 32u; c++) {
            let mine = v4(kb + 32u * c);
            let b = 8u * c;
            acc[b + 0u] += e * subgroupBroadcast(mine, 0u);
            acc[b + 1u] += e * subgroupBroadcast(mine, 1u);
            acc[b + 2u] += e * subgroupBroadcast(mine, 2u);
            acc[b + 3u] += e * subgroupBroadcast(mine, 3u);
            acc[b + 4u] += e * subgroupBroadcast(mine, 4u);
            acc[b + 5u] += e * subgroupBroadcast(mine, 5u);
            acc[b + 6u] += e * subgroupBroadcast(mine, 6u);
            acc[b + 7u] += e * subgroupBroadcast(mine, 7u);
        }
    }
    if (i0 >= p.tq) { return; }
    // A row whose keys are all masked with −∞ has l = 0 and gives NaN, as PyTorch does.
    let inv = 1.0 / l;
    for (var c = 0u; c < DH / 4u; c++) {
        let o = qb + 4u * c;
        let y = acc[c] * inv;
        out[o] = y.x; out[o + 1u] = y.y; out[o + 2u] = y.z; out[o + 3u] = y.w;
    }
    lse[r] = m + log(l);
}
