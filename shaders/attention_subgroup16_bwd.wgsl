// requires: _attention_sg_bwd_io.wgsl, _attention_pair16.wgsl
// Backward of attention_subgroup16.wgsl (head dim 16): attention_subgroup_bwd.wgsl's dQ and
// dK/dV kernels with two rows of the other side per step — lanes 0–3 load a quarter of row j,
// lanes 4–7 of row j + 1 (an absent second row of an odd count is row j again, weighted 0) —
// and subgroupBroadcast handing every lane both. Same math, outputs and bindings.

override HAS_MASK: bool = false;
override DH: u32 = 16u;  // always 16 here

// Σ_d g_d·y_d term by term in the order of attn_delta's δ (sequential over d): when the two
// are equal (one key: P = 1) they must cancel exactly, as in the per-row kernel.
fn dot_seq(g0: vec4<f32>, g1: vec4<f32>, g2: vec4<f32>, g3: vec4<f32>,
           y0: vec4<f32>, y1: vec4<f32>, y2: vec4<f32>, y3: vec4<f32>) -> f32 {
    var s = 0.0;
    s = s + g0.x * y0.x; s = s + g0.y * y0.y; s = s + g0.z * y0.z; s = s + g0.w * y0.w;
    s = s + g1.x * y1.x; s = s + g1.y * y1.y; s = s + g1.z * y1.z; s = s + g1.w * y1.w;
    s = s + g2.x * y2.x; s = s + g2.y * y2.y; s = s + g2.z * y2.z; s = s + g2.w * y2.w;
    s = s + g3.x * y3.x; s = s + g3.y * y3.y; s = s + g3.z * y3.z; s = s + g3.w * y3.w;
    return s;
}

// dQ_i = scale·Σ_j P_ij (dO_i·V_j − δ_i) K_j for 8 query rows i; K_j and V_j are shared.
@compute @workgroup_size(8)
fn attn16_dq_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(subgroup_invocation_id) lane: u32) {
    let t = wg.x + wg.y * nwg.x;
    let tiles = (p.tq + 7u) / 8u;
    if (t >= (p.rows / p.tq) * tiles) { return; } // whole workgroup: uniform
    let bh = t / tiles;
    let i0 = (t % tiles) * 8u + lane;
    let r = bh * p.tq + min(i0, p.tq - 1u);
    let qb = r * DH;
    let kb0 = bh * p.tk * DH;
    let lse = ld[2u * r];
    let delta = ld[2u * r + 1u];
    let q0 = q4(qb) * p.scale;
    let q1 = q4(qb + 4u) * p.scale;
    let q2 = q4(qb + 8u) * p.scale;
    let q3 = q4(qb + 12u) * p.scale;
    let g0 = do4(qb);
    let g1 = do4(qb + 4u);
    let g2 = do4(qb + 8u);
    let g3 = do4(qb + 12u);
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    for (var j = 0u; j < p.tk; j += 2u) {
        let two = j + 1u < p.tk;
        let j1 = select(j, j + 1u, two);
        let o = pair_offset(kb0, j, j1, lane);
        let kk = share(k4(o));
        let vv = share(v4(o));
        let s0 = dot4(q0, q1, q2, q3, kk.a0, kk.a1, kk.a2, kk.a3) + mask_at(bh, j);
        let s1 = dot4(q0, q1, q2, q3, kk.b0, kk.b1, kk.b2, kk.b3) + mask_at(bh, j1);
        let dp0 = dot_seq(g0, g1, g2, g3, vv.a0, vv.a1, vv.a2, vv.a3);
        let dp1 = dot_seq(g0, g1, g2, g3, vv.b0, vv.b1, vv.b2, vv.b3);
        let ds0 = exp(s0 - lse) * (dp0 - delta);
        let ds1 = select(0.0, exp(s1 - lse) * (dp1 - delta), two);
        a0 += ds0 * kk.a0 + ds1 * kk.b0;
        a1 += ds0 * kk.a1 + ds1 * kk.b1;
        a2 += ds0 * kk.a2 + ds1 * kk.b2;
        a3 += ds0 * kk.a3 + ds1 * kk.b3;
    }
    if (i0 >= p.tq) { return; }
    put7(qb, a0 * p.scale);
    put7(qb + 4u, a1 * p.scale);
    put7(qb + 8u, a2 * p.scale);
    put7(qb + 12u, a3 * p.scale);
}

// dK_j = scale·Σ_i dS_ij Q_i and dV_j = Σ_i P_ij dO_i for 8 key rows j; Q_i, dO_i are shared.
@compute @workgroup_size(8)
fn attn16_dkv_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32) {
    let t = wg.x + wg.y * nwg.x;
    let tiles = (p.tk + 7u) / 8u;
    if (t >= (p.rows / p.tq) * tiles) { return; } // whole workgroup: uniform
    let bh = t / tiles;
    let j0 = (t % tiles) * 8u + lane;
    let j = min(j0, p.tk - 1u);
    let kb = (bh * p.tk + j) * DH;
    let qrow0 = bh * p.tq;
    let mj = mask_at(bh, j);
    let k0 = k4(kb) * p.scale;
    let k1 = k4(kb + 4u) * p.scale;
    let k2 = k4(kb + 8u) * p.scale;
    let k3 = k4(kb + 12u) * p.scale;
    let v0 = v4(kb);
    let v1 = v4(kb + 4u);
    let v2 = v4(kb + 8u);
    let v3 = v4(kb + 12u);
    var dk0 = vec4<f32>(0.0); var dk1 = vec4<f32>(0.0); var dk2 = vec4<f32>(0.0); var dk3 = vec4<f32>(0.0);
    var dv0 = vec4<f32>(0.0); var dv1 = vec4<f32>(0.0); var dv2 = vec4<f32>(0.0); var dv3 = vec4<f32>(0.0);
    for (var i = 0u; i < p.tq; i += 2u) {
        let two = i + 1u < p.tq;
        let i1 = select(i, i + 1u, two);
        let o = pair_offset(qrow0 * DH, i, i1, lane);
        let mq = share(q4(o));
        let mg = share(do4(o));
        let r0 = qrow0 + i;
        let r1 = qrow0 + i1;
        let s0 = dot4(k0, k1, k2, k3, mq.a0, mq.a1, mq.a2, mq.a3) + mj;
        let s1 = dot4(k0, k1, k2, k3, mq.b0, mq.b1, mq.b2, mq.b3) + mj;
        let dp0 = dot_seq(v0, v1, v2, v3, mg.a0, mg.a1, mg.a2, mg.a3);
        let dp1 = dot_seq(v0, v1, v2, v3, mg.b0, mg.b1, mg.b2, mg.b3);
        let pr0 = exp(s0 - ld[2u * r0]);
        let ds0 = pr0 * (dp0 - ld[2u * r0 + 1u]);
        let pr1 = select(0.0, exp(s1 - ld[2u * r1]), two);
        let ds1 = select(0.0, pr1 * (dp1 - ld[2u * r1 + 1u]), two);
        dk0 += ds0 * mq.a0 + ds1 * mq.b0;
        dk1 += ds0 * mq.a1 + ds1 * mq.b1;
        dk2 += ds0 * mq.a2 + ds1 * mq.b2;
        dk3 += ds0 * mq.a3 + ds1 * mq.b3;
        dv0 += pr0 * mg.a0 + pr1 * mg.b0;
        dv1 += pr0 * mg.a1 + pr1 * mg.b1;
        dv2 += pr0 * mg.a2 + pr1 * mg.b2;
        dv3 += pr0 * mg.a3 + pr1 * mg.b3;
    }
    if (j0 >= p.tk) { return; }
    put7(kb, dk0 * p.scale);
    put7(kb + 4u, dk1 * p.scale);
    put7(kb + 8u, dk2 * p.scale);
    put7(kb + 12u, dk3 * p.scale);
    put8(kb, dv0);
    put8(kb + 4u, dv1);
    put8(kb + 8u, dv2);
    put8(kb + 12u, dv3);
}
