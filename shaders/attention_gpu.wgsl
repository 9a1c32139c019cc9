// Fused attention for real GPUs (`KernelClass::Gpu`), FlashAttention-style tiling: same
// semantics, bindings, parameters and saved state (lse per query row; (lse, δ) pairs from
// attention_bwd.wgsl's attn_delta) as the barrier-free kernels in attention_fwd.wgsl and
// attention_bwd.wgsl, whose comments give the formulas.
//
// One workgroup per (batch·head, block of 64 rows): one invocation per row keeps that row's
// vectors in registers, and the other side's rows stream through workgroup memory in blocks of
// BKV = min(64, 1536 / DH) rows, staged cooperatively (one global read per block instead of one
// per invocation) and read back as broadcasts (every invocation reads the same address, so no
// bank conflicts). The forward keeps a running max and sum and rescales its accumulator once per
// block (FlashAttention-2), with the block's scores held in a private array. K and V tiles take
// 2·1536 floats = 12 KiB of the 16 KiB of workgroup memory WebGPU guarantees.
//
// Rows past the end (the last block of a sequence) still stage and reach every barrier; they
// only skip their stores.

const MAXD: u32 = 128u;
const TILE: u32 = 1536u;    // floats per staged operand
const BQ: u32 = 64u;        // rows per workgroup (= invocations)
const NEG: f32 = -0x1.fffffep+127f;  // finite "−∞", as in attention_fwd.wgsl
override HAS_MASK: bool = false;
override DH: u32 = 32u;

struct Params { rows: u32, heads: u32, tq: u32, tk: u32, dh: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;  // any buffer when !HAS_MASK
// attn_gpu_fwd: 5 out, 6 lse. attn_gpu_dq: 5 dout, 6 ld [rows, 2], 7 dq. attn_gpu_dkv: 5 dout,
// 6 ld, 7 dk, 8 dv. Each entry point uses only the names of its own meaning.
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> ld: array<f32>;
@group(0) @binding(7) var<storage, read_write> g7: array<f32>;
@group(0) @binding(8) var<storage, read_write> g8: array<f32>;

var<workgroup> t1: array<f32, TILE>;  // K (forward, dQ) or Q (dK/dV) block
var<workgroup> t2: array<f32, TILE>;  // V (forward, dQ) or dO (dK/dV) block
var<workgroup> side: array<vec2<f32>, 64>;  // per staged row: (mask, 0) or (lse, δ)

fn bkv() -> u32 { return min(64u, TILE / DH); }

// Workgroup → (bh, first row of the block); `rows_per_bh` rows per batch·head. Uniform.
fn block(wid: vec3<u32>, nwg: vec3<u32>, rows_per_bh: u32) -> vec2<u32> {
    let nb = (rows_per_bh + BQ - 1u) / BQ;
    let blk = wid.x + wid.y * nwg.x;
    return vec2<u32>(blk / nb, (blk % nb) * BQ);
}

// Stages rows j0.. (at most bkv, `n` valid) of two [BH, T, DH] operands at row offset `base`
// (in rows) into t1, t2; the rows past n are zero.
fn stage_kv(base: u32, j0: u32, n: u32, lid: u32) {
    let cnt = bkv() * DH;
    for (var e = lid; e < cnt; e += BQ) {
        let j = e / DH;
        var a = 0.0;
        var c = 0.0;
        if (j0 + j < n) {
            let g = (base + j0) * p.dh + e;
            a = k[g];
            c = v[g];
        }
        t1[e] = a;
        t2[e] = c;
    }
}

@compute @workgroup_size(64)
fn attn_gpu_fwd(@builtin(local_invocation_index) lid: u32,
                @builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = block(wid, nwg, p.tq);
    let bh = blk.x;
    if (bh * p.tq >= p.rows) { return; }  // uniform: past the last block
    let i = blk.y + lid;
    let live = i < p.tq;
    let r = bh * p.tq + min(i, p.tq - 1u);
    let qb = r * p.dh;
    let mb = (bh / p.heads) * p.tk;
    let nk = bkv();
    var qi: array<f32, MAXD>;
    var acc: array<f32, MAXD>;
    for (var d = 0u; d < DH; d++) {
        qi[d] = q[qb + d] * p.scale;
        acc[d] = 0.0;
    }
    var m = NEG;
    var l = 0.0;
    var sc: array<f32, 64>;
    for (var j0 = 0u; j0 < p.tk; j0 += nk) {
        stage_kv(bh * p.tk, j0, p.tk, lid);
        if (lid < nk) {
            var mv = 0.0;
            if (HAS_MASK && j0 + lid < p.tk) { mv = mask[mb + j0 + lid]; }
            side[lid] = vec2<f32>(mv, 0.0);
        }
        workgroupBarrier();
        let n = min(nk, p.tk - j0);
        var bm = m;
        for (var j = 0u; j < n; j++) {
            var s = 0.0;
            for (var d = 0u; d < DH; d++) { s += qi[d] * t1[j * DH + d]; }
            if (HAS_MASK) { s += side[j].x; }
            sc[j] = s;
            bm = max(bm, s);
        }
        // One rescale per block; exp(NEG − bm) is 0 on the first block (l and acc are 0).
        let a = exp(m - bm);
        l *= a;
        for (var d = 0u; d < DH; d++) { acc[d] *= a; }
        m = bm;
        for (var j = 0u; j < n; j++) {
            let e = exp(sc[j] - m);
            l += e;
            for (var d = 0u; d < DH; d++) { acc[d] += e * t2[j * DH + d]; }
        }
        workgroupBarrier();
    }
    if (live) {
        // All keys masked with −∞: l = 0 and the row is NaN, as in attention_fwd.wgsl.
        let inv = 1.0 / l;
        for (var d = 0u; d < DH; d++) { out[qb + d] = acc[d] * inv; }
        lse_out[r] = m + log(l);
    }
}

// dQ_i = scale·Σ_j P_ij (dO_i·V_j − δ_i) K_j: the forward's loop with K and V blocks staged.
@compute @workgroup_size(64)
fn attn_gpu_dq(@builtin(local_invocation_index) lid: u32,
               @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = block(wid, nwg, p.tq);
    let bh = blk.x;
    if (bh * p.tq >= p.rows) { return; }
    let i = blk.y + lid;
    let live = i < p.tq;
    let r = bh * p.tq + min(i, p.tq - 1u);
    let qb = r * p.dh;
    let mb = (bh / p.heads) * p.tk;
    let lse = ld[2u * r];
    let delta = ld[2u * r + 1u];
    let nk = bkv();
    var qi: array<f32, MAXD>;
    var gi: array<f32, MAXD>;
    var acc: array<f32, MAXD>;
    for (var d = 0u; d < DH; d++) {
        qi[d] = q[qb + d] * p.scale;
        gi[d] = dout[qb + d];
        acc[d] = 0.0;
    }
    for (var j0 = 0u; j0 < p.tk; j0 += nk) {
        stage_kv(bh * p.tk, j0, p.tk, lid);
        if (lid < nk) {
            var mv = 0.0;
            if (HAS_MASK && j0 + lid < p.tk) { mv = mask[mb + j0 + lid]; }
            side[lid] = vec2<f32>(mv, 0.0);
        }
        workgroupBarrier();
        let n = min(nk, p.tk - j0);
        for (var j = 0u; j < n; j++) {
            var s = 0.0;
            var dp = 0.0;
            for (var d = 0u; d < DH; d++) {
                s += qi[d] * t1[j * DH + d];
                dp += gi[d] * t2[j * DH + d];
            }
            s += side[j].x;  // same order of operations as the forward
            let ds = exp(s - lse) * (dp - delta);
            for (var d = 0u; d < DH; d++) { acc[d] += ds * t1[j * DH + d]; }
        }
        workgroupBarrier();
    }
    if (live) {
        for (var d = 0u; d < DH; d++) { g7[qb + d] = acc[d] * p.scale; }
    }
}

// dK_j = scale·Σ_i dS_ij Q_i, dV_j = Σ_i P_ij dO_i: one invocation per key row, Q and dO blocks
// (and their (lse, δ)) staged.
@compute @workgroup_size(64)
fn attn_gpu_dkv(@builtin(local_invocation_index) lid: u32,
                @builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = block(wid, nwg, p.tk);
    let bh = blk.x;
    if (bh * p.tq >= p.rows) { return; }
    let jr = blk.y + lid;
    let live = jr < p.tk;
    let r = bh * p.tk + min(jr, p.tk - 1u);
    let kb = r * p.dh;
    var mj = 0.0;
    if (HAS_MASK) { mj = mask[(bh / p.heads) * p.tk + min(jr, p.tk - 1u)]; }
    let nq = bkv();
    var kj: array<f32, MAXD>;
    var vj: array<f32, MAXD>;
    var dk: array<f32, MAXD>;
    var dv: array<f32, MAXD>;
    for (var d = 0u; d < DH; d++) {
        kj[d] = k[kb + d] * p.scale;
        vj[d] = v[kb + d];
        dk[d] = 0.0;
        dv[d] = 0.0;
    }
    let qrow0 = bh * p.tq;
    for (var i0 = 0u; i0 < p.tq; i0 += nq) {
        let cnt = nq * DH;
        for (var e = lid; e < cnt; e += BQ) {
            var a = 0.0;
            var c = 0.0;
            if (i0 + e / DH < p.tq) {
                let g = (qrow0 + i0) * p.dh + e;
                a = q[g];
                c = dout[g];
            }
            t1[e] = a;
            t2[e] = c;
        }
        if (lid < nq) {
            let qr = qrow0 + min(i0 + lid, p.tq - 1u);
            side[lid] = vec2<f32>(ld[2u * qr], ld[2u * qr + 1u]);
        }
        workgroupBarrier();
        let n = min(nq, p.tq - i0);
        for (var i = 0u; i < n; i++) {
            var s = 0.0;
            var dp = 0.0;
            for (var d = 0u; d < DH; d++) {
                s += t1[i * DH + d] * kj[d];
                dp += t2[i * DH + d] * vj[d];
            }
            s += mj;
            let lsd = side[i];
            let pr = exp(s - lsd.x);
            let ds = pr * (dp - lsd.y);
            for (var d = 0u; d < DH; d++) {
                dk[d] += ds * t1[i * DH + d];
                dv[d] += pr * t2[i * DH + d];
            }
        }
        workgroupBarrier();
    }
    if (live) {
        for (var d = 0u; d < DH; d++) {
            g7[kb + d] = dk[d] * p.scale;
            g8[kb + d] = dv[d];
        }
    }
}
