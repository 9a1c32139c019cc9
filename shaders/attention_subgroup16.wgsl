// requires: _attention_sg_fwd_io.wgsl, _attention_pair16.wgsl
// attention_subgroup.wgsl for head dim 16 (a ViT of width 64 with 4 heads, 32 with 2): the same
// math and outputs, 8 query rows of one (batch, head) per 8-lane subgroup, but a 16-wide row is
// half of the 32 floats the 8 lanes load at once, so each step takes two keys: lanes 0–3 load
// dims 4·(lane % 4) .. +4 of key j, lanes 4–7 of key j + 1, and subgroupBroadcast hands every
// lane both rows. Per two keys a lane makes 2 vec4 loads (K, V) where the per-row kernel
// (attention_fwd.wgsl, which ran these head dims before) makes 64 scalar ones. An odd key count
// leaves the last step's second key absent: it is read from key j again and weighs 0. Rows
// past the end compute on a clamped row and skip their writes (broadcasts need uniform control).

const NEG: f32 = -0x1.fffffep+127f;  // finite "−∞": exp(NEG − s) is 0 without inf − inf = NaN
override HAS_MASK: bool = false;
override DH: u32 = 16u;  // always 16 here (the launch passes every attention kernel's constants)

fn put(o: u32, y: vec4<f32>) { out[o] = y.x; out[o + 1u] = y.y; out[o + 2u] = y.z; out[o + 3u] = y.w; }

@compute @workgroup_size(8)
fn attn16_fwd_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32) {
    let t = wg.x + wg.y * nwg.x;
    let tiles = (p.tq + 7u) / 8u;
    if (t >= (p.rows / p.tq) * tiles) { return; } // whole workgroup: uniform
    let bh = t / tiles;
    let i0 = (t % tiles) * 8u + lane;
    let r = bh * p.tq + min(i0, p.tq - 1u);
    let qb = r * DH;
    let kb0 = bh * p.tk * DH;
    let mb = (bh / p.heads) * p.tk;
    let q0 = q4(qb) * p.scale;
    let q1 = q4(qb + 4u) * p.scale;
    let q2 = q4(qb + 8u) * p.scale;
    let q3 = q4(qb + 12u) * p.scale;
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    var m = NEG;
    var l = 0.0;
    for (var j = 0u; j < p.tk; j += 2u) {
        let two = j + 1u < p.tk;
        let j1 = select(j, j + 1u, two);
        let o = pair_offset(kb0, j, j1, lane);
        let kk = share(k4(o));
        var s0 = dot4(q0, q1, q2, q3, kk.a0, kk.a1, kk.a2, kk.a3);
        var s1 = dot4(q0, q1, q2, q3, kk.b0, kk.b1, kk.b2, kk.b3);
        if (HAS_MASK) {
            s0 = s0 + mask[mb + j];
            s1 = s1 + mask[mb + j1];
        }
        let top = select(s0, max(s0, s1), two);
        if (top > m) {
            // New maximum: rescale what was summed so far (only then, not every step).
            let a = exp(m - top);
            l = l * a;
            a0 = a0 * a; a1 = a1 * a; a2 = a2 * a; a3 = a3 * a;
            m = top;
        }
        let e0 = exp(s0 - m);
        let e1 = select(0.0, exp(s1 - m), two);
        l = l + e0 + e1;
        let vv = share(v4(o));
        a0 += e0 * vv.a0 + e1 * vv.b0;
        a1 += e0 * vv.a1 + e1 * vv.b1;
        a2 += e0 * vv.a2 + e1 * vv.b2;
        a3 += e0 * vv.a3 + e1 * vv.b3;
    }
    if (i0 >= p.tq) { return; }
    // A row whose keys are all masked with −∞ has l = 0 and gives NaN, as PyTorch does.
    let inv = 1.0 / l;
    put(qb, a0 * inv);
    put(qb + 4u, a1 * inv);
    put(qb + 8u, a2 * inv);
    put(qb + 12u, a3 * inv);
    lse[r] = m + log(l);
}
