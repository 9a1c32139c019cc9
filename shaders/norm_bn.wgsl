// BatchNorm2d over x [B, C, H, W]: per-channel statistics over B·H·W, then an elementwise
// normalise-and-affine pass; the backward is one per-channel reduction (Σg, Σg·x̂) and one
// elementwise pass for dx.
//
// Per-channel reductions: one workgroup of 256 per channel, strided partial sums, then a
// shared-memory tree (8 barriers per reduction). An earlier barrier-free variant (one
// invocation looping over the whole channel) was both slower on lavapipe (a tiny ResNet trained
// at 50–60 img/s against 76–98) and wrong there: llvmpipe stops a loop after 65,536 iterations,
// so channels of more than 65,536 values were silently cut short. Each invocation here loops
// B·H·W/256 times.
// Sums are two-level (per batch image, then across images) to keep f32 error down on long axes.

struct Params { b: u32, c: u32, hw: u32, momentum: f32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;

// ---- statistics (training): mean, biased var; running stats updated in place ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> var_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> run_var: array<f32>;

// Writes the batch statistics of channel `c` and moves the running stats towards them
// (PyTorch: the running variance takes the unbiased estimate, n/(n−1)·var).
fn write_stats(c: u32, mean: f32, var_b: f32) {
    let n = f32(p.b * p.hw);
    mean_out[c] = mean;
    var_out[c] = var_b;
    let m = p.momentum;
    run_mean[c] = (1.0 - m) * run_mean[c] + m * mean;
    run_var[c] = (1.0 - m) * run_var[c] + m * var_b * n / max(n - 1.0, 1.0);
}


const WG: u32 = 256u;
var<workgroup> red0: array<f32, WG>;
var<workgroup> red1: array<f32, WG>;

// Sums (a, b) over the workgroup; every invocation gets the totals.
fn wg_sum2(lid: u32, a: f32, b: f32) -> vec2<f32> {
    red0[lid] = a;
    red1[lid] = b;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red0[lid] = red0[lid] + red0[lid + s];
            red1[lid] = red1[lid] + red1[lid + s];
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(red0[0], red1[0]);
    workgroupBarrier(); // the next call overwrites red0/red1
    return r;
}

// The lanes' walk over one channel's B·HW values: lane `lid` takes image rows b0, b0 + step,
// ... and within each the pixels i0, i0 + per, ... With per = min(HW, WG) lanes per image and
// WG / per images side by side, small planes (ResNet's 8×8 and 4×4: 64 and 16 values) keep
// every lane busy instead of 16 of 256, with one division per lane rather than per value.
struct Walk { b0: u32, step: u32, i0: u32, per: u32 }
fn walk(lid: u32) -> Walk {
    let per = min(p.hw, WG);
    let step = WG / per;
    // Lanes past step·per (when per does not divide WG) start past the batch and do nothing.
    return Walk(select(lid / per, p.b, lid >= step * per), step, lid % per, per);
}

@compute @workgroup_size(256)
fn bn_stats_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.x + wid.y * nwg.x; // one workgroup per channel (uniform, so the guard is safe)
    if (c >= p.c) { return; }
    let n = f32(p.b * p.hw);
    let wk = walk(lid);
    var s = 0.0;
    for (var b = wk.b0; b < p.b; b = b + wk.step) {
        let base = (b * p.c + c) * p.hw;
        for (var i = wk.i0; i < p.hw; i = i + wk.per) { s = s + x[base + i]; }
    }
    let mean = wg_sum2(lid, s, 0.0).x / n;
    var ss = 0.0;
    for (var b = wk.b0; b < p.b; b = b + wk.step) {
        let base = (b * p.c + c) * p.hw;
        for (var i = wk.i0; i < p.hw; i = i + wk.per) {
            let d = x[base + i] - mean;
            ss = ss + d * d;
        }
    }
    let var_b = wg_sum2(lid, ss, 0.0).x / n;
    if (lid == 0u) { write_stats(c, mean, var_b); }
}

// ---- forward apply: y = (x − mean)·rsqrt(var + eps)·w + b ----
@group(0) @binding(2) var<storage, read> mean_in: array<f32>;
@group(0) @binding(3) var<storage, read> var_in: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

override RELU: bool = false;

@compute @workgroup_size(256)
fn bn_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.b * p.c * p.hw) { return; }
    let c = (i / p.hw) % p.c;
    let inv = inverseSqrt(var_in[c] + p.eps);
    let v = (x[i] - mean_in[c]) * inv * w[c] + bias[c];
    // batch_norm2d_relu: the following ReLU in the same pass.
    y[i] = select(v, max(v, 0.0), RELU);
}

// ---- backward reduction: dw[c] = Σ g·x̂, db[c] = Σ g ----
// Bindings: 1 x, 2 g, 3 mean, 4 var, 5 dw, 6 db.
@group(0) @binding(2) var<storage, read> g2: array<f32>;
@group(0) @binding(3) var<storage, read> mean3: array<f32>;
@group(0) @binding(4) var<storage, read> var4: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw5: array<f32>;
@group(0) @binding(6) var<storage, read_write> db6: array<f32>;


@compute @workgroup_size(256)
fn bn_bwd_reduce_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) { return; }
    let m = mean3[c];
    let inv = inverseSqrt(var4[c] + p.eps);
    var sg = 0.0;
    var sgx = 0.0;
    let wk = walk(lid);
    for (var b = wk.b0; b < p.b; b = b + wk.step) {
        let base = (b * p.c + c) * p.hw;
        for (var i = wk.i0; i < p.hw; i = i + wk.per) {
            let gv = g2[base + i];
            sg = sg + gv;
            sgx = sgx + gv * (x[base + i] - m);
        }
    }
    let t = wg_sum2(lid, sg, sgx);
    if (lid == 0u) {
        dw5[c] = t.y * inv;
        db6[c] = t.x;
    }
}

// ---- backward dx ----
// Training: the batch mean and variance depend on x, so
//   dx = w·inv/N · (N·g − Σg − x̂·Σ(g·x̂));
// eval: the running stats are constants, dx = g·w·inv.
// Bindings: 1 x, 2 g, 3 mean, 4 var, 5 w, 6 dw (= Σg·x̂), 7 db (= Σg), 8 dx.
override TRAIN: bool = true;
@group(0) @binding(5) var<storage, read> w5: array<f32>;
@group(0) @binding(6) var<storage, read> sgx6: array<f32>;
@group(0) @binding(7) var<storage, read> sg7: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx8: array<f32>;

@compute @workgroup_size(256)
fn bn_bwd_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.b * p.c * p.hw) { return; }
    let c = (i / p.hw) % p.c;
    let inv = inverseSqrt(var4[c] + p.eps);
    var gv = g2[i];
    if (TRAIN) {
        let n = f32(p.b * p.hw);
        let xh = (x[i] - mean3[c]) * inv;
        gv = gv - sg7[c] / n - xh * sgx6[c] / n;
    }
    dx8[i] = gv * w5[c] * inv;
}
