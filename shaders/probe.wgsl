// Cost-model probes for CPU adapters (`fastshap bench probe`, src/bench/probe.rs): each entry
// point repeats one kind of access ITERS times per invocation so its cost per lane can be read
// off a GPU timestamp. Every result feeds `out` so the compiler cannot drop the work.
//
// The buffer `x` holds N = 2^20 floats (4 MiB: past the L2 of these machines, inside L3);
// indices are masked with N - 1 so every access is in range.

override ITERS: u32 = 1024u;
const N: u32 = 1048576u;
const WG: u32 = 64u;

struct Params { w: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> tile: array<f32, 1024>;

// Every entry point uses every binding once (the pipeline layout comes from the entry point),
// outside its timed loop.
fn touch() -> f32 { return f32(p.w[0].x) * 0.0 + x[0] * 0.0 + x4[0].x * 0.0; }

// 8 independent vec4 FMA chains per iteration (32 FMAs per lane, no memory).
@compute @workgroup_size(WG)
fn fma_chain(@builtin(global_invocation_id) gid: vec3<u32>) {
    var a0 = vec4<f32>(f32(gid.x)); var a1 = a0 + 1.0; var a2 = a0 + 2.0; var a3 = a0 + 3.0;
    var a4 = a0 + 4.0; var a5 = a0 + 5.0; var a6 = a0 + 6.0; var a7 = a0 + 7.0;
    let m = vec4<f32>(0.999); let c = vec4<f32>(0.001);
    for (var i = 0u; i < ITERS; i++) {
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    }
    let s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    out[gid.x] = s.x + s.y + s.z + s.w + touch();
}

// The loop alone: one integer add per iteration.
@compute @workgroup_size(WG)
fn empty_loop(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = gid.x;
    for (var i = 0u; i < ITERS; i++) { s = s * 1664525u + i; }
    out[gid.x] = f32(s) + touch();
}

// Scalar storage loads, neighbouring lanes at neighbouring addresses (4 per iteration).
@compute @workgroup_size(WG)
fn load_contiguous(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = 0.0;
    var j = gid.x * 4u;
    for (var i = 0u; i < ITERS; i++) {
        s += x[j & (N - 1u)] + x[(j + 1u) & (N - 1u)] + x[(j + 2u) & (N - 1u)] + x[(j + 3u) & (N - 1u)];
        j += 4096u;
    }
    out[gid.x] = s + touch();
}

// Scalar storage loads at an address every lane shares (depends only on the loop counter).
@compute @workgroup_size(WG)
fn load_uniform(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = 0.0;
    for (var i = 0u; i < ITERS; i++) {
        let j = i * 4096u;
        s += x[j & (N - 1u)] + x[(j + 1u) & (N - 1u)] + x[(j + 2u) & (N - 1u)] + x[(j + 3u) & (N - 1u)];
    }
    out[gid.x] = s + f32(gid.x) + touch();
}

// Scalar storage loads at scattered addresses (a multiplicative hash per lane and iteration).
@compute @workgroup_size(WG)
fn load_scattered(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = 0.0;
    var j = gid.x * 2654435761u;
    for (var i = 0u; i < ITERS; i++) {
        s += x[j & (N - 1u)] + x[(j >> 7u) & (N - 1u)] + x[(j >> 3u) & (N - 1u)] + x[(j >> 11u) & (N - 1u)];
        j = j * 1664525u + 1013904223u;
    }
    out[gid.x] = s + touch();
}

// vec4 storage loads, contiguous across lanes (4 floats each, one per iteration).
@compute @workgroup_size(WG)
fn load_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = vec4<f32>(0.0);
    var j = gid.x;
    for (var i = 0u; i < ITERS; i++) {
        s += x4[j & (N / 4u - 1u)];
        j += 1024u;
    }
    out[gid.x] = s.x + s.y + s.z + s.w + touch();
}

// Workgroup-memory loads (4 per iteration), after one barrier-guarded fill.
@compute @workgroup_size(WG)
fn load_workgroup(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    for (var k = li; k < 1024u; k += WG) { tile[k] = x[k]; }
    workgroupBarrier();
    var s = 0.0;
    var j = li * 4u;
    for (var i = 0u; i < ITERS; i++) {
        s += tile[j & 1023u] + tile[(j + 1u) & 1023u] + tile[(j + 2u) & 1023u] + tile[(j + 3u) & 1023u];
        j += 260u;
    }
    out[gid.x] = s + touch();
}

// Uniform-buffer loads (4 per iteration) at an address every lane shares.
@compute @workgroup_size(WG)
fn ubo_uniform(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = 0u;
    for (var i = 0u; i < ITERS; i++) {
        s += p.w[i & 15u].x + p.w[(i + 3u) & 15u].y + p.w[(i + 5u) & 15u].z + p.w[(i + 7u) & 15u].w;
    }
    out[gid.x] = f32(s + gid.x) + touch();
}

// Uniform-buffer loads (4 per iteration) at a different address per lane.
@compute @workgroup_size(WG)
fn ubo_lane(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = 0u;
    for (var i = 0u; i < ITERS; i++) {
        let j = gid.x + i;
        s += p.w[j & 15u].x + p.w[(j + 3u) & 15u].y + p.w[(j + 5u) & 15u].z + p.w[(j + 7u) & 15u].w;
    }
    out[gid.x] = f32(s) + touch();
}

// One workgroupBarrier per iteration (plus a trivial add).
@compute @workgroup_size(WG)
fn barrier(@builtin(global_invocation_id) gid: vec3<u32>) {
    var s = gid.x;
    for (var i = 0u; i < ITERS; i++) {
        workgroupBarrier();
        s += i;
    }
    out[gid.x] = f32(s) + touch();
}

// Nothing: the per-dispatch cost.
@compute @workgroup_size(WG)
fn nothing(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x == 0xffffffffu) { out[0] = touch(); }
}
