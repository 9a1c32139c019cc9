// Softmax / log-softmax over the last axis, one row per invocation, max-subtracted for
// stability: three passes over the row (max, sum of exp, write).

override LOG: bool = false;

struct Params { rows: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
    let base = r * p.n;
    var m = x[base];
    for (var k = 1u; k < p.n; k = k + 1u) { m = max(m, x[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < p.n; k = k + 1u) { s = s + exp(x[base + k] - m); }
    if (LOG) {
        let ls = log(s) + m;
        for (var k = 0u; k < p.n; k = k + 1u) { y[base + k] = x[base + k] - ls; }
    } else {
        let inv = 1.0 / s;
        for (var k = 0u; k < p.n; k = k + 1u) { y[base + k] = exp(x[base + k] - m) * inv; }
    }
}
