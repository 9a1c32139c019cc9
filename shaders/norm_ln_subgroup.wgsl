// LayerNorm over the last axis of x viewed as [rows, D], for CPU adapters with 8-lane subgroups
// (the `Subgroup` variant; norm_ln.wgsl is the register-blocked one, rows_gpu.wgsl the tiled).
// Same arithmetic, in the same order, as norm_ln.wgsl: one row per lane, serial sums.
//
// Why a variant: llvmpipe pays per lane-load, whatever the address (ARCHITECTURE.md). With one
// row per lane, the 8 lanes of a subgroup read the same w[i], b[i] (and, in the weight gradient,
// the same row's mean and rstd) at the same time: 8 loads of one value. Here each lane loads one
// of 8 consecutive values and `subgroupBroadcast` hands them round, so those loads cost 1/8.
// Forward: 5 → 3.25 loads per element; input gradient 6 → 4.25; weight gradient 4 → 2.25.
//
// Every lane runs the same loops (broadcasts need uniform control flow): lanes past the last
// row (or column) compute on a clamped index and skip their stores. Workgroup = one subgroup.

struct Params { rows: u32, d: u32, eps: f32, chunk: u32 }
@group(0) @binding(0) var<uniform> p: Params;

// ---- forward. Bindings: 1 x, 2 w, 3 b, 4 y, 5 stats [rows, 2] ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;

// This lane's row (clamped) and whether it exists; workgroup index folded as `gpu::grid` does.
fn row_of(wg: vec3<u32>, nwg: vec3<u32>, lane: u32) -> vec2<u32> {
    let r = (wg.x + wg.y * nwg.x) * 8u + lane;
    return vec2<u32>(min(r, p.rows - 1u), u32(r < p.rows));
}

// Row element i of y from the broadcast w[i], b[i].
fn put_y(ok: bool, base: u32, i: u32, mean: f32, rstd: f32, wi: f32, bi: f32) {
    if (ok && i < p.d) { y[base + i] = (x[base + i] - mean) * rstd * wi + bi; }
}

@compute @workgroup_size(8)
fn ln_fwd_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(subgroup_invocation_id) lane: u32) {
    let rr = row_of(wg, nwg, lane);
    let r = rr.x;
    let ok = rr.y == 1u;
    let base = r * p.d;
    let n = f32(p.d);
    var s = 0.0;
    for (var i = 0u; i < p.d; i = i + 1u) { s = s + x[base + i]; }
    let mean = s / n;
    // Two passes: Σ(x−mean)² does not cancel the way Σx² − n·mean² does.
    var ss = 0.0;
    for (var i = 0u; i < p.d; i = i + 1u) {
        let t = x[base + i] - mean;
        ss = ss + t * t;
    }
    let rstd = inverseSqrt(ss / n + p.eps);
    let d1 = p.d - 1u;
    for (var i0 = 0u; i0 < p.d; i0 = i0 + 8u) {
        let c = min(i0 + lane, d1);
        let wl = w[c];
        let bl = bias[c];
        put_y(ok, base, i0, mean, rstd, subgroupBroadcast(wl, 0u), subgroupBroadcast(bl, 0u));
        put_y(ok, base, i0 + 1u, mean, rstd, subgroupBroadcast(wl, 1u), subgroupBroadcast(bl, 1u));
        put_y(ok, base, i0 + 2u, mean, rstd, subgroupBroadcast(wl, 2u), subgroupBroadcast(bl, 2u));
        put_y(ok, base, i0 + 3u, mean, rstd, subgroupBroadcast(wl, 3u), subgroupBroadcast(bl, 3u));
        put_y(ok, base, i0 + 4u, mean, rstd, subgroupBroadcast(wl, 4u), subgroupBroadcast(bl, 4u));
        put_y(ok, base, i0 + 5u, mean, rstd, subgroupBroadcast(wl, 5u), subgroupBroadcast(bl, 5u));
        put_y(ok, base, i0 + 6u, mean, rstd, subgroupBroadcast(wl, 6u), subgroupBroadcast(bl, 6u));
        put_y(ok, base, i0 + 7u, mean, rstd, subgroupBroadcast(wl, 7u), subgroupBroadcast(bl, 7u));
    }
    if (ok) {
        stats_out[2u * r] = mean;
        stats_out[2u * r + 1u] = rstd;
    }
}

// ---- backward dx, per row. Bindings: 1 x, 2 w, 3 g, 4 stats, 5 dx ----
// With ĝ = g·w and x̂ the normalised row: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)).
@group(0) @binding(3) var<storage, read> g3: array<f32>;
@group(0) @binding(4) var<storage, read> stats4: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx5: array<f32>;

// Σ ĝ and Σ ĝ·x̂ gain element i (w[i] broadcast); past D nothing is added.
fn acc_dx(base: u32, i: u32, mean: f32, rstd: f32, wi: f32, s: ptr<function, vec2<f32>>) {
    if (i < p.d) {
        let gh = g3[base + i] * wi;
        (*s).x = (*s).x + gh;
        (*s).y = (*s).y + gh * (x[base + i] - mean) * rstd;
    }
}

fn put_dx(ok: bool, base: u32, i: u32, mean: f32, rstd: f32, wi: f32, a: f32, b: f32) {
    if (ok && i < p.d) {
        let xh = (x[base + i] - mean) * rstd;
        dx5[base + i] = rstd * (g3[base + i] * wi - a - xh * b);
    }
}

@compute @workgroup_size(8)
fn ln_bwd_dx_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(subgroup_invocation_id) lane: u32) {
    let rr = row_of(wg, nwg, lane);
    let r = rr.x;
    let ok = rr.y == 1u;
    let base = r * p.d;
    let mean = stats4[2u * r];
    let rstd = stats4[2u * r + 1u];
    let d1 = p.d - 1u;
    var s = vec2<f32>(0.0);
    for (var i0 = 0u; i0 < p.d; i0 = i0 + 8u) {
        let wl = w[min(i0 + lane, d1)];
        acc_dx(base, i0, mean, rstd, subgroupBroadcast(wl, 0u), &s);
        acc_dx(base, i0 + 1u, mean, rstd, subgroupBroadcast(wl, 1u), &s);
        acc_dx(base, i0 + 2u, mean, rstd, subgroupBroadcast(wl, 2u), &s);
        acc_dx(base, i0 + 3u, mean, rstd, subgroupBroadcast(wl, 3u), &s);
        acc_dx(base, i0 + 4u, mean, rstd, subgroupBroadcast(wl, 4u), &s);
        acc_dx(base, i0 + 5u, mean, rstd, subgroupBroadcast(wl, 5u), &s);
        acc_dx(base, i0 + 6u, mean, rstd, subgroupBroadcast(wl, 6u), &s);
        acc_dx(base, i0 + 7u, mean, rstd, subgroupBroadcast(wl, 7u), &s);
    }
    let n = f32(p.d);
    let a = s.x / n;
    let b = s.y / n;
    for (var i0 = 0u; i0 < p.d; i0 = i0 + 8u) {
        let wl = w[min(i0 + lane, d1)];
        put_dx(ok, base, i0, mean, rstd, subgroupBroadcast(wl, 0u), a, b);
        put_dx(ok, base, i0 + 1u, mean, rstd, subgroupBroadcast(wl, 1u), a, b);
        put_dx(ok, base, i0 + 2u, mean, rstd, subgroupBroadcast(wl, 2u), a, b);
        put_dx(ok, base, i0 + 3u, mean, rstd, subgroupBroadcast(wl, 3u), a, b);
        put_dx(ok, base, i0 + 4u, mean, rstd, subgroupBroadcast(wl, 4u), a, b);
        put_dx(ok, base, i0 + 5u, mean, rstd, subgroupBroadcast(wl, 5u), a, b);
        put_dx(ok, base, i0 + 6u, mean, rstd, subgroupBroadcast(wl, 6u), a, b);
        put_dx(ok, base, i0 + 7u, mean, rstd, subgroupBroadcast(wl, 7u), a, b);
    }
}

// ---- backward dw, db: partial column sums over chunks of `chunk` rows ----
// One lane per (chunk, column), columns padded to a multiple of 8 so that a subgroup's 8 lanes
// share one chunk and walk the same rows: lane l loads row r0 + l's (mean, rstd), broadcast to
// all. The host sums the [nchunks, D] partials when there are several.
// Bindings: 1 x, 2 g, 3 stats, 4 dw partial, 5 db partial.
@group(0) @binding(2) var<storage, read> g2: array<f32>;
@group(0) @binding(3) var<storage, read> stats3: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw4: array<f32>;
@group(0) @binding(5) var<storage, read_write> db5: array<f32>;

// Column `col` of row r gains its terms, with that row's broadcast (mean, rstd); rows past the
// chunk's end add nothing (the test is uniform across the subgroup).
fn acc_dwb(r: u32, r1: u32, col: u32, st: vec2<f32>, s: ptr<function, vec2<f32>>) {
    if (r < r1) {
        let gv = g2[r * p.d + col];
        (*s).y = (*s).y + gv;
        (*s).x = (*s).x + gv * (x[r * p.d + col] - st.x) * st.y;
    }
}

@compute @workgroup_size(8)
fn ln_bwd_dwb_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32) {
    // The chunk and first column come from the workgroup alone (uniform), so the row loop and
    // its broadcasts run under uniform control flow.
    let dpad = (p.d + 7u) / 8u * 8u;
    let first = (wg.x + wg.y * nwg.x) * 8u;
    let nchunks = (p.rows + p.chunk - 1u) / p.chunk;
    if (first >= nchunks * dpad) { return; }
    let ch = first / dpad;
    let c = first % dpad + lane;
    let col = min(c, p.d - 1u);
    let r0 = ch * p.chunk;
    let r1 = min(p.rows, r0 + p.chunk);
    var s = vec2<f32>(0.0);
    for (var q = r0; q < r1; q = q + 8u) {
        let own = min(q + lane, r1 - 1u);
        let st = vec2<f32>(stats3[2u * own], stats3[2u * own + 1u]);
        acc_dwb(q, r1, col, subgroupBroadcast(st, 0u), &s);
        acc_dwb(q + 1u, r1, col, subgroupBroadcast(st, 1u), &s);
        acc_dwb(q + 2u, r1, col, subgroupBroadcast(st, 2u), &s);
        acc_dwb(q + 3u, r1, col, subgroupBroadcast(st, 3u), &s);
        acc_dwb(q + 4u, r1, col, subgroupBroadcast(st, 4u), &s);
        acc_dwb(q + 5u, r1, col, subgroupBroadcast(st, 5u), &s);
        acc_dwb(q + 6u, r1, col, subgroupBroadcast(st, 6u), &s);
        acc_dwb(q + 7u, r1, col, subgroupBroadcast(st, 7u), &s);
    }
    if (c < p.d) {
        dw4[ch * p.d + c] = s.x;
        db5[ch * p.d + c] = s.y;
    }
}
