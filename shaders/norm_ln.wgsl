// LayerNorm over the last axis of x viewed as [rows, D].
// One invocation per row: rows (batch × tokens) are many and D is a few hundred, so a serial
// loop per row keeps every core busy without any barrier (lavapipe pays ~µs per barrier).
// Saved for backward: (mean, rstd) per row.

struct Params { rows: u32, d: u32, eps: f32, chunk: u32 }
@group(0) @binding(0) var<uniform> p: Params;

// ---- forward. Bindings: 1 x, 2 w, 3 b, 4 y, 5 stats [rows, 2] ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;

@compute @workgroup_size(64)
fn ln_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
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
    for (var i = 0u; i < p.d; i = i + 1u) {
        y[base + i] = (x[base + i] - mean) * rstd * w[i] + bias[i];
    }
    stats_out[2u * r] = mean;
    stats_out[2u * r + 1u] = rstd;
}

// ---- backward dx, per row. Bindings: 1 x, 2 w, 3 g, 4 stats, 5 dx ----
// With ĝ = g·w and x̂ the normalised row: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)).
@group(0) @binding(3) var<storage, read> g3: array<f32>;
@group(0) @binding(4) var<storage, read> stats4: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx5: array<f32>;

@compute @workgroup_size(64)
fn ln_bwd_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
    let base = r * p.d;
    let mean = stats4[2u * r];
    let rstd = stats4[2u * r + 1u];
    var sg = 0.0;
    var sgx = 0.0;
    for (var i = 0u; i < p.d; i = i + 1u) {
        let gh = g3[base + i] * w[i];
        sg = sg + gh;
        sgx = sgx + gh * (x[base + i] - mean) * rstd;
    }
    let n = f32(p.d);
    let a = sg / n;
    let b = sgx / n;
    for (var i = 0u; i < p.d; i = i + 1u) {
        let xh = (x[base + i] - mean) * rstd;
        dx5[base + i] = rstd * (g3[base + i] * w[i] - a - xh * b);
    }
}

// ---- backward dw, db: partial column sums over chunks of `chunk` rows ----
// One invocation per (chunk, column); the host sums the [nchunks, D] partials when there are
// several, so a long batch does not serialise on D invocations.
// Bindings: 1 x, 2 g, 3 stats, 4 dw partial, 5 db partial.
@group(0) @binding(2) var<storage, read> g2: array<f32>;
@group(0) @binding(3) var<storage, read> stats3: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw4: array<f32>;
@group(0) @binding(5) var<storage, read_write> db5: array<f32>;

@compute @workgroup_size(64)
fn ln_bwd_dwb(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * 64u;
    let nchunks = (p.rows + p.chunk - 1u) / p.chunk;
    if (idx >= nchunks * p.d) { return; }
    let ch = idx / p.d;
    let col = idx % p.d;
    let r1 = min(p.rows, (ch + 1u) * p.chunk);
    var sw = 0.0;
    var sb = 0.0;
    for (var r = ch * p.chunk; r < r1; r = r + 1u) {
        let gv = g2[r * p.d + col];
        sb = sb + gv;
        sw = sw + gv * (x[r * p.d + col] - stats3[2u * r]) * stats3[2u * r + 1u];
    }
    dw4[idx] = sw;
    db5[idx] = sb;
}
