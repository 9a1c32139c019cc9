// LayerNorm forward as norm_ln_subgroup.wgsl's ln_fwd_sg, for rows whose length D is divisible
// by 4 (the host checks): x, w, b and y as vec4s, so each of a row's three passes loads D/4
// vec4s instead of D scalars (a storage load costs ~30 FMAs on lavapipe whatever its width).
// One row per lane; the sums run over the elements in the same order as ln_fwd_sg, and w, b
// are loaded once per 8 lanes and handed round by `subgroupBroadcast` as there.

struct Params { rows: u32, d: u32, eps: f32, chunk: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;

// This lane's row (clamped) and whether it exists; workgroup index folded as `gpu::grid` does.
fn row_of(wg: vec3<u32>, nwg: vec3<u32>, lane: u32) -> vec2<u32> {
    let r = (wg.x + wg.y * nwg.x) * 8u + lane;
    return vec2<u32>(min(r, p.rows - 1u), u32(r < p.rows));
}

// Row vec4 i of y from the broadcast w[i], b[i].
fn put_y4(ok: bool, base: u32, i: u32, d4: u32, mean: f32, rstd: f32, wi: vec4<f32>, bi: vec4<f32>) {
    if (ok && i < d4) { y[base + i] = (x[base + i] - vec4<f32>(mean)) * rstd * wi + bi; }
}

@compute @workgroup_size(8)
fn ln_fwd_sg4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(subgroup_invocation_id) lane: u32) {
    let rr = row_of(wg, nwg, lane);
    let r = rr.x;
    let ok = rr.y == 1u;
    let d4 = p.d / 4u;
    let base = r * d4;
    let n = f32(p.d);
    var s = 0.0;
    for (var i = 0u; i < d4; i = i + 1u) {
        let v = x[base + i];
        s = s + v.x;
        s = s + v.y;
        s = s + v.z;
        s = s + v.w;
    }
    let mean = s / n;
    // Two passes: Σ(x−mean)² does not cancel the way Σx² − n·mean² does.
    var ss = 0.0;
    for (var i = 0u; i < d4; i = i + 1u) {
        let t = x[base + i] - vec4<f32>(mean);
        ss = ss + t.x * t.x;
        ss = ss + t.y * t.y;
        ss = ss + t.z * t.z;
        ss = ss + t.w * t.w;
    }
    let rstd = inverseSqrt(ss / n + p.eps);
    let last = d4 - 1u;
    for (var i0 = 0u; i0 < d4; i0 = i0 + 8u) {
        let c = min(i0 + lane, last);
        let wl = w[c];
        let bl = bias[c];
        put_y4(ok, base, i0, d4, mean, rstd, subgroupBroadcast(wl, 0u), subgroupBroadcast(bl, 0u));
        put_y4(ok, base, i0 + 1u, d4, mean, rstd, subgroupBroadcast(wl, 1u), subgroupBroadcast(bl, 1u));
        put_y4(ok, base, i0 + 2u, d4, mean, rstd, subgroupBroadcast(wl, 2u), subgroupBroadcast(bl, 2u));
        put_y4(ok, base, i0 + 3u, d4, mean, rstd, subgroupBroadcast(wl, 3u), subgroupBroadcast(bl, 3u));
        put_y4(ok, base, i0 + 4u, d4, mean, rstd, subgroupBroadcast(wl, 4u), subgroupBroadcast(bl, 4u));
        put_y4(ok, base, i0 + 5u, d4, mean, rstd, subgroupBroadcast(wl, 5u), subgroupBroadcast(bl, 5u));
        put_y4(ok, base, i0 + 6u, d4, mean, rstd, subgroupBroadcast(wl, 6u), subgroupBroadcast(bl, 6u));
        put_y4(ok, base, i0 + 7u, d4, mean, rstd, subgroupBroadcast(wl, 7u), subgroupBroadcast(bl, 7u));
    }
    if (ok) {
        stats_out[2u * r] = mean;
        stats_out[2u * r + 1u] = rstd;
    }
}
