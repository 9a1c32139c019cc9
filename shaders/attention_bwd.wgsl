// Fused attention, backward. The probabilities are recomputed from the saved log-sum-exp,
// P_ij = exp(s_ij − lse_i); with δ_i = Σ_d dO_id·O_id:
//   dS_ij = P_ij·(dO_i·V_j − δ_i),  dQ_i = scale·Σ_j dS_ij K_j,
//   dK_j = scale·Σ_i dS_ij Q_i,     dV_j = Σ_i P_ij dO_i.
// Three kernels, each owning its outputs (no atomics): `attn_delta` per query row packs
// (lse, δ) into one [rows, 2] buffer (keeps the others within 8 storage bindings), `attn_dq`
// loops over keys per query row, `attn_dkv` loops over queries per key row. One invocation per
// row and no barriers, for the same reasons as the forward (see attention_fwd.wgsl).

const MAXD: u32 = 128u;
override HAS_MASK: bool = false;
// The head dim as a pipeline constant: loops over it get fixed trip counts, so the compiler
// unrolls them and keeps the per-row accumulators in registers instead of indexed scratch.
override DH: u32 = 32u;

struct Params { rows: u32, heads: u32, tq: u32, tk: u32, dh: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;

// ---- δ. Bindings: 1 out, 2 dout, 3 lse, 4 ld [rows, 2] ----
@group(0) @binding(1) var<storage, read> o1: array<f32>;
@group(0) @binding(2) var<storage, read> do2: array<f32>;
@group(0) @binding(3) var<storage, read> lse3: array<f32>;
@group(0) @binding(4) var<storage, read_write> ld4: array<f32>;

@compute @workgroup_size(64)
fn attn_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
    var s = 0.0;
    for (var d = 0u; d < DH; d = d + 1u) { s = s + o1[r * p.dh + d] * do2[r * p.dh + d]; }
    ld4[2u * r] = lse3[r];
    ld4[2u * r + 1u] = s;
}

// ---- dQ and dK/dV. Bindings: 1 q, 2 k, 3 v, 4 mask, 5 dout, 6 ld, 7 dq | dk, 8 dv ----
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> ld: array<f32>;
@group(0) @binding(7) var<storage, read_write> g7: array<f32>;
@group(0) @binding(8) var<storage, read_write> g8: array<f32>;

fn mask_at(bh: u32, j: u32) -> f32 {
    if (HAS_MASK) { return mask[(bh / p.heads) * p.tk + j]; }
    return 0.0;
}

@compute @workgroup_size(64)
fn attn_dq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
    let bh = r / p.tq;
    let qb = r * p.dh;
    let kb0 = bh * p.tk * p.dh;
    let lse = ld[2u * r];
    let delta = ld[2u * r + 1u];
    var qi: array<f32, MAXD>;
    var gi: array<f32, MAXD>;
    var acc: array<f32, MAXD>;
    for (var d = 0u; d < DH; d = d + 1u) {
        qi[d] = q[qb + d] * p.scale;
        gi[d] = dout[qb + d];
        acc[d] = 0.0;
    }
    for (var j = 0u; j < p.tk; j = j + 1u) {
        let kb = kb0 + j * p.dh;
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < DH; d = d + 1u) {
            s = s + qi[d] * k[kb + d];
            dp = dp + gi[d] * v[kb + d];
        }
        s = s + mask_at(bh, j);  // same order of operations as the forward
        let ds = exp(s - lse) * (dp - delta);
        for (var d = 0u; d < DH; d = d + 1u) { acc[d] = acc[d] + ds * k[kb + d]; }
    }
    for (var d = 0u; d < DH; d = d + 1u) { g7[qb + d] = acc[d] * p.scale; }
}

@compute @workgroup_size(64)
fn attn_dkv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;  // key row: bh·Tk + j
    if (r >= (p.rows / p.tq) * p.tk) { return; }
    let bh = r / p.tk;
    let j = r % p.tk;
    let kb = r * p.dh;
    let qrow0 = bh * p.tq;
    let mj = mask_at(bh, j);
    var kj: array<f32, MAXD>;
    var vj: array<f32, MAXD>;
    var dk: array<f32, MAXD>;
    var dv: array<f32, MAXD>;
    for (var d = 0u; d < DH; d = d + 1u) {
        kj[d] = k[kb + d] * p.scale;
        vj[d] = v[kb + d];
        dk[d] = 0.0;
        dv[d] = 0.0;
    }
    for (var i = 0u; i < p.tq; i = i + 1u) {
        let qr = qrow0 + i;
        let qb = qr * p.dh;
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < DH; d = d + 1u) {
            s = s + q[qb + d] * kj[d];
            dp = dp + dout[qb + d] * vj[d];
        }
        s = s + mj;
        let pr = exp(s - ld[2u * qr]);
        let ds = pr * (dp - ld[2u * qr + 1u]);
        for (var d = 0u; d < DH; d = d + 1u) {
            dk[d] = dk[d] + ds * q[qb + d];
            dv[d] = dv[d] + pr * dout[qb + d];
        }
    }
    for (var d = 0u; d < DH; d = d + 1u) {
        g7[kb + d] = dk[d] * p.scale;
        g8[kb + d] = dv[d];
    }
}
