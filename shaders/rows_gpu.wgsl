// Row kernels for real GPUs (`KernelClass::Gpu`): one workgroup of 64 invocations per row of
// the last axis instead of one invocation per row (softmax.wgsl, norm_ln.wgsl, reduce.wgsl).
// Invocations stride through the row (neighbours read neighbouring words: coalesced), then
// combine their partials with a tree in workgroup memory (6 barrier steps). The row loops take
// ⌈n/64⌉ steps, so llvmpipe's 65,536-iteration limit allows rows of 4M values.
//
// Subgroup operations would save the tree's barriers, but GPUs differ in subgroup width and not
// every adapter has them; the workgroup tree needs nothing optional (a subgroup variant with this
// as its fallback is left for when a GPU can measure the difference).
//
// Rows come from a grid folded past 65,535 workgroups (`ops::grid` with one invocation per
// group): row = wid.x + wid.y·nwg.x, uniform per workgroup, so the early return cannot split a
// workgroup at a barrier.

const WG: u32 = 64u;
override LOG: bool = false;

struct Params { rows: u32, n: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> red: array<vec2<f32>, WG>;

// Sum of `v` over the workgroup, returned to every invocation.
fn wg_sum(v: vec2<f32>, lid: u32) -> vec2<f32> {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { red[lid] += red[lid + s]; }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier(); // before `red` is reused
    return r;
}

// Max over the workgroup (first component only).
fn wg_max(v: f32, lid: u32) -> f32 {
    red[lid] = vec2<f32>(v, 0.0);
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { red[lid].x = max(red[lid].x, red[lid + s].x); }
        workgroupBarrier();
    }
    let r = red[0].x;
    workgroupBarrier();
    return r;
}

fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }

// ---- softmax / log-softmax. Bindings: 1 x, 2 y ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn softmax_gpu(@builtin(local_invocation_index) lid: u32,
               @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_of(wid, nwg);
    if (r >= p.rows) { return; }
    let base = r * p.n;
    var m = -0x1.fffffep+127f;
    for (var k = lid; k < p.n; k += WG) { m = max(m, x[base + k]); }
    m = wg_max(m, lid);
    var s = 0.0;
    for (var k = lid; k < p.n; k += WG) { s += exp(x[base + k] - m); }
    s = wg_sum(vec2<f32>(s, 0.0), lid).x;
    if (LOG) {
        let ls = log(s) + m;
        for (var k = lid; k < p.n; k += WG) { y[base + k] = x[base + k] - ls; }
    } else {
        let inv = 1.0 / s;
        for (var k = lid; k < p.n; k += WG) { y[base + k] = exp(x[base + k] - m) * inv; }
    }
}

// ---- sum over the last axis. Bindings: 1 x, 2 y [rows] ----
@compute @workgroup_size(WG)
fn sum_rows_gpu(@builtin(local_invocation_index) lid: u32,
                @builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_of(wid, nwg);
    if (r >= p.rows) { return; }
    var s = 0.0;
    for (var k = lid; k < p.n; k += WG) { s += x[r * p.n + k]; }
    s = wg_sum(vec2<f32>(s, 0.0), lid).x;
    if (lid == 0u) { y[r] = s; }
}

// ---- LayerNorm forward. Bindings: 1 x, 2 w, 3 b, 4 y, 5 stats [rows, 2] (mean, rstd) ----
// Two reductions (mean, then Σ(x−mean)², which does not cancel like Σx² − n·mean²), as
// norm_ln.wgsl does.
@group(0) @binding(2) var<storage, read> ln_w: array<f32>;
@group(0) @binding(3) var<storage, read> ln_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> ln_y: array<f32>;
@group(0) @binding(5) var<storage, read_write> ln_stats: array<f32>;

@compute @workgroup_size(WG)
fn ln_gpu_fwd(@builtin(local_invocation_index) lid: u32,
              @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_of(wid, nwg);
    if (r >= p.rows) { return; }
    let base = r * p.n;
    let n = f32(p.n);
    var s = 0.0;
    for (var k = lid; k < p.n; k += WG) { s += x[base + k]; }
    let mean = wg_sum(vec2<f32>(s, 0.0), lid).x / n;
    var ss = 0.0;
    for (var k = lid; k < p.n; k += WG) {
        let t = x[base + k] - mean;
        ss += t * t;
    }
    let rstd = inverseSqrt(wg_sum(vec2<f32>(ss, 0.0), lid).x / n + p.eps);
    for (var k = lid; k < p.n; k += WG) {
        ln_y[base + k] = (x[base + k] - mean) * rstd * ln_w[k] + ln_b[k];
    }
    if (lid == 0u) {
        ln_stats[2u * r] = mean;
        ln_stats[2u * r + 1u] = rstd;
    }
}

// ---- LayerNorm dx. Bindings: 1 x, 2 w, 3 g, 4 stats, 5 dx ----
// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·w; both means from one vec2 reduction.
@group(0) @binding(3) var<storage, read> ln_g: array<f32>;
@group(0) @binding(4) var<storage, read> ln_stats_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> ln_dx: array<f32>;

@compute @workgroup_size(WG)
fn ln_gpu_bwd_dx(@builtin(local_invocation_index) lid: u32,
                 @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_of(wid, nwg);
    if (r >= p.rows) { return; }
    let base = r * p.n;
    let mean = ln_stats_in[2u * r];
    let rstd = ln_stats_in[2u * r + 1u];
    var acc = vec2<f32>(0.0);
    for (var k = lid; k < p.n; k += WG) {
        let gh = ln_g[base + k] * ln_w[k];
        acc += vec2<f32>(gh, gh * (x[base + k] - mean) * rstd);
    }
    let ab = wg_sum(acc, lid) / f32(p.n);
    for (var k = lid; k < p.n; k += WG) {
        let xh = (x[base + k] - mean) * rstd;
        ln_dx[base + k] = rstd * (ln_g[base + k] * ln_w[k] - ab.x - xh * ab.y);
    }
}
