// Softmax pooling (inference only): for every row n and query h,
//   u[n, h, :] = Σ_t a_t · x[n, t, :]  with  a = softmax_t(x[n, t, :] · q[n, h, :]).
// x [N, T, D], q [N, H, D] or [1, H, D] (one set of queries for every n), u [N, H, D].
// NORM: each row of x is first standardised, (x − mean) / √(var + eps) (a LayerNorm without
// its affine part, which the caller folds into q and into what follows u), so the normalised
// rows are never stored. This is single-query attention whose keys and values
// are the same rows (the ViT surrogate game's last block, where only the CLS token's output is
// read: its query, key and value projections are folded into q and into the Linear after u).
//
// One invocation per (n, h) with an online softmax over the T rows: each row is loaded once
// into registers and used for both the score and the accumulator, no barriers, no workgroup
// memory (lavapipe pays per load and per barrier; on GPUs the T·D reads of one n hit in cache).

const MAXD: u32 = 128u;  // row widths up to this fit the per-invocation registers
const NEG: f32 = -0x1.fffffep+127f;  // finite "−∞": exp(NEG − s) is 0 without inf − inf = NaN
// The row width as a pipeline constant: loops over it get fixed trip counts, so the compiler
// unrolls them and keeps q, the row and the accumulator in registers instead of scratch.
override D: u32 = 32u;
override NORM: bool = false;

struct Params { rows: u32, t: u32, h: u32, shared_q: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(64)
fn softmax_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;  // r = n·H + h
    if (r >= p.rows) { return; }
    let ub = r * D;
    var qb = ub;
    if (p.shared_q != 0u) { qb = (r % p.h) * D; }
    let xb0 = (r / p.h) * p.t * D;
    var qi: array<f32, MAXD>;
    var acc: array<f32, MAXD>;
    var row: array<f32, MAXD>;
    for (var d = 0u; d < D; d = d + 1u) {
        qi[d] = q[qb + d];
        acc[d] = 0.0;
    }
    var m = NEG;
    var l = 0.0;
    for (var j = 0u; j < p.t; j = j + 1u) {
        let xb = xb0 + j * D;
        for (var d = 0u; d < D; d = d + 1u) { row[d] = x[xb + d]; }
        if (NORM) {
            var mean = 0.0;
            for (var d = 0u; d < D; d = d + 1u) { mean = mean + row[d]; }
            mean = mean / f32(D);
            var var_ = 0.0;
            for (var d = 0u; d < D; d = d + 1u) {
                row[d] = row[d] - mean;
                var_ = var_ + row[d] * row[d];
            }
            let inv = inverseSqrt(var_ / f32(D) + p.eps);
            for (var d = 0u; d < D; d = d + 1u) { row[d] = row[d] * inv; }
        }
        var s = 0.0;
        for (var d = 0u; d < D; d = d + 1u) { s = s + qi[d] * row[d]; }
        if (s > m) {
            // New maximum: rescale what was summed so far (only then, not every row).
            let a = exp(m - s);
            l = l * a;
            for (var d = 0u; d < D; d = d + 1u) { acc[d] = acc[d] * a; }
            m = s;
        }
        let e = exp(s - m);
        l = l + e;
        for (var d = 0u; d < D; d = d + 1u) { acc[d] = acc[d] + e * row[d]; }
    }
    let inv = 1.0 / l;
    for (var d = 0u; d < D; d = d + 1u) { u[ub + d] = acc[d] * inv; }
}
