// requires: _attention_sg_bwd_io.wgsl
// Backward of the fused attention for CPU adapters with 8-lane subgroups: the same math and outputs as
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

// dQ_i = scale·Σ_j P_ij (dO_i·V_j − δ_i) K_j for 8 query rows i; K_j and V_j are shared.
@compute @workgroup_size(8)
fn attn_dq_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(subgroup_invocation_id) lane: u32) {
    let t = wg.x + wg.y * nwg.x;
    let tiles = (p.tq + 7u) / 8u;
    if (t >= (p.rows / p.tq) * tiles) { return; } // whole workgroup: uniform
    let bh = t / tiles;
    let i0 = (t % tiles) * 8u + lane;
    let r = bh * p.tq + min(i0, p.tq - 1u);
    let qb = r * p.dh;
    let kb0 = bh * p.tk * p.dh;
    let lse = ld[2u * r];
    let delta = ld[2u * r + 1u];
    var qv: array<vec4<f32>, MAXV>;
    var gv: array<vec4<f32>, MAXV>;
    var acc: array<vec4<f32>, MAXV>;
    for (var c = 0u; c < DH / 4u; c++) {
        qv[c] = q4(qb + 4u * c) * p.scale;
        gv[c] = do4(qb + 4u * c);
        acc[c] = vec4<f32>(0.0);
    }
    for (var j = 0u; j < p.tk; j++) {
        let kb = kb0 + j * p.dh + 4u * lane;
        var s = 0.0;
        var dp = 0.0;
        var mk: array<vec4<f32>, 4>;
        for (var c = 0u; c < DH / 32u; c++) {
            mk[c] = k4(kb + 32u * c);
            let mv = v4(kb + 32u * c);
            let b = 8u * c;
            s += dot(qv[b + 0u], subgroupBroadcast(mk[c], 0u))
                + dot(qv[b + 1u], subgroupBroadcast(mk[c], 1u))
                + dot(qv[b + 2u], subgroupBroadcast(mk[c], 2u))
                + dot(qv[b + 3u], subgroupBroadcast(mk[c], 3u))
                + dot(qv[b + 4u], subgroupBroadcast(mk[c], 4u))
                + dot(qv[b + 5u], subgroupBroadcast(mk[c], 5u))
                + dot(qv[b + 6u], subgroupBroadcast(mk[c], 6u))
                + dot(qv[b + 7u], subgroupBroadcast(mk[c], 7u));
            // dp term by term in the order of attn_delta's δ (sequential over d): when
            // the two are equal (one key: P = 1) they must cancel exactly, as in the per-row kernel.
                { let x = subgroupBroadcast(mv, 0u); let g = gv[b + 0u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 1u); let g = gv[b + 1u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 2u); let g = gv[b + 2u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 3u); let g = gv[b + 3u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 4u); let g = gv[b + 4u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 5u); let g = gv[b + 5u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 6u); let g = gv[b + 6u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mv, 7u); let g = gv[b + 7u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
        }
        s = s + mask_at(bh, j);  // same order of operations as the forward
        let ds = exp(s - lse) * (dp - delta);
        for (var c = 0u; c < DH / 32u; c++) {
            let b = 8u * c;
            acc[b + 0u] += ds * subgroupBroadcast(mk[c], 0u);
            acc[b + 1u] += ds * subgroupBroadcast(mk[c], 1u);
            acc[b + 2u] += ds * subgroupBroadcast(mk[c], 2u);
            acc[b + 3u] += ds * subgroupBroadcast(mk[c], 3u);
            acc[b + 4u] += ds * subgroupBroadcast(mk[c], 4u);
            acc[b + 5u] += ds * subgroupBroadcast(mk[c], 5u);
            acc[b + 6u] += ds * subgroupBroadcast(mk[c], 6u);
            acc[b + 7u] += ds * subgroupBroadcast(mk[c], 7u);
        }
    }
    if (i0 >= p.tq) { return; }
    for (var c = 0u; c < DH / 4u; c++) { put7(qb + 4u * c, acc[c] * p.scale); }
}

// dK_j = scale·Σ_i dS_ij Q_i and dV_j = Σ_i P_ij dO_i for 8 key rows j; Q_i, dO_i are shared.
@compute @workgroup_size(8)
fn attn_dkv_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(subgroup_invocation_id) lane: u32) {
    let t = wg.x + wg.y * nwg.x;
    let tiles = (p.tk + 7u) / 8u;
    if (t >= (p.rows / p.tq) * tiles) { return; } // whole workgroup: uniform
    let bh = t / tiles;
    let j0 = (t % tiles) * 8u + lane;
    let j = min(j0, p.tk - 1u);
    let kb = (bh * p.tk + j) * p.dh;
    let qrow0 = bh * p.tq;
    let mj = mask_at(bh, j);
    var kv: array<vec4<f32>, MAXV>;
    var vv: array<vec4<f32>, MAXV>;
    var dk: array<vec4<f32>, MAXV>;
    var dv: array<vec4<f32>, MAXV>;
    for (var c = 0u; c < DH / 4u; c++) {
        kv[c] = k4(kb + 4u * c) * p.scale;
        vv[c] = v4(kb + 4u * c);
        dk[c] = vec4<f32>(0.0);
        dv[c] = vec4<f32>(0.0);
    }
    for (var i = 0u; i < p.tq; i++) {
        let qr = qrow0 + i;
        let qb = qr * p.dh + 4u * lane;
        var s = 0.0;
        var dp = 0.0;
        var mq: array<vec4<f32>, 4>;
        var mg: array<vec4<f32>, 4>;
        for (var c = 0u; c < DH / 32u; c++) {
            mq[c] = q4(qb + 32u * c);
            mg[c] = do4(qb + 32u * c);
            let b = 8u * c;
            s += dot(kv[b + 0u], subgroupBroadcast(mq[c], 0u))
                + dot(kv[b + 1u], subgroupBroadcast(mq[c], 1u))
                + dot(kv[b + 2u], subgroupBroadcast(mq[c], 2u))
                + dot(kv[b + 3u], subgroupBroadcast(mq[c], 3u))
                + dot(kv[b + 4u], subgroupBroadcast(mq[c], 4u))
                + dot(kv[b + 5u], subgroupBroadcast(mq[c], 5u))
                + dot(kv[b + 6u], subgroupBroadcast(mq[c], 6u))
                + dot(kv[b + 7u], subgroupBroadcast(mq[c], 7u));
            // dp term by term in the order of attn_delta's δ (sequential over d): when
            // the two are equal (one key: P = 1) they must cancel exactly, as in the per-row kernel.
                { let x = subgroupBroadcast(mg[c], 0u); let g = vv[b + 0u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 1u); let g = vv[b + 1u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 2u); let g = vv[b + 2u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 3u); let g = vv[b + 3u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 4u); let g = vv[b + 4u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 5u); let g = vv[b + 5u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 6u); let g = vv[b + 6u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
                { let x = subgroupBroadcast(mg[c], 7u); let g = vv[b + 7u];
                  dp = dp + g.x * x.x; dp = dp + g.y * x.y; dp = dp + g.z * x.z; dp = dp + g.w * x.w; }
        }
        s = s + mj;
        let pr = exp(s - ld[2u * qr]);
        let ds = pr * (dp - ld[2u * qr + 1u]);
        for (var c = 0u; c < DH / 32u; c++) {
            let b = 8u * c;
            dk[b + 0u] += ds * subgroupBroadcast(mq[c], 0u);
            dk[b + 1u] += ds * subgroupBroadcast(mq[c], 1u);
            dk[b + 2u] += ds * subgroupBroadcast(mq[c], 2u);
            dk[b + 3u] += ds * subgroupBroadcast(mq[c], 3u);
            dk[b + 4u] += ds * subgroupBroadcast(mq[c], 4u);
            dk[b + 5u] += ds * subgroupBroadcast(mq[c], 5u);
            dk[b + 6u] += ds * subgroupBroadcast(mq[c], 6u);
            dk[b + 7u] += ds * subgroupBroadcast(mq[c], 7u);
            dv[b + 0u] += pr * subgroupBroadcast(mg[c], 0u);
            dv[b + 1u] += pr * subgroupBroadcast(mg[c], 1u);
            dv[b + 2u] += pr * subgroupBroadcast(mg[c], 2u);
            dv[b + 3u] += pr * subgroupBroadcast(mg[c], 3u);
            dv[b + 4u] += pr * subgroupBroadcast(mg[c], 4u);
            dv[b + 5u] += pr * subgroupBroadcast(mg[c], 5u);
            dv[b + 6u] += pr * subgroupBroadcast(mg[c], 6u);
            dv[b + 7u] += pr * subgroupBroadcast(mg[c], 7u);
        }
    }
    if (j0 >= p.tk) { return; }
    for (var c = 0u; c < DH / 4u; c++) {
        put7(kb + 4u * c, dk[c] * p.scale);
        put8(kb + 4u * c, dv[c]);
    }
}
