// Batched C = op(A)·op(B) for CPU adapters (lavapipe): register-blocked, no workgroupBarrier.
// op(A) is M×K (A stored [K, M] when TA), op(B) is K×N (B stored [N, K] when TB), C is [M, N].
//
// Each invocation computes an 8×8 block of C as four 4×4 blocks, from 4×4 blocks of op(A) and
// op(B) per k-step kept in mat4x4 registers; lavapipe runs invocations as SIMD lanes, so transposing a 4×4 block in
// registers costs nothing and every layout gets the same inner loop. Where a tensor's contiguous
// axis is a multiple of 4 (VA/VB/VC) rows are loaded and stored as vec4s, ~4x faster than
// scalar gathers here. Block shapes tried (A·B, 512³ / 1024³ GFLOP/s on a loaded 2-core machine,
// workgroup 8×8): 4×4: 5.0 / 4.1; 4×8: 6.1 / 5.2; 8×8: 12.6 / 11.9 (kept); 8×16: 6.2 / 5.6.
// Per invocation the loads (gathers across SIMD lanes) dominate; 8×8 halves them per FMA
// relative to 4×4, and 8×16 loses more to spilling its 128 accumulators than it saves.
//
// Buffers are bound as vec4 arrays (pooled buffers are padded to 32 bytes); scalar access is
// `x[i >> 2][i & 3]`, a plain scalar load. Rows/columns past M/N are clamped on load (their
// results are never stored); the k tail past the last multiple of 4 is zero-filled.

override TA: bool = false;
override TB: bool = false;
override VA: bool = false; // A's contiguous axis (K, or M when TA) is a multiple of 4
override VB: bool = false; // B's contiguous axis (N, or K when TB) is a multiple of 4
override VC: bool = false; // N is a multiple of 4

struct Params { m: u32, n: u32, k: u32, sa: u32, sb: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// Flat index of op(A)[m, k] and op(B)[k, n] within one batch.
fn ia(m: u32, k: u32) -> u32 {
    if (TA) { return k * p.m + m; }
    return m * p.k + k;
}
fn ib(k: u32, n: u32) -> u32 {
    if (TB) { return n * p.k + k; }
    return k * p.n + n;
}
fn ea(i: u32) -> f32 { return a[i >> 2u][i & 3u]; }
fn eb(i: u32) -> f32 { return b[i >> 2u][i & 3u]; }

// Column i = op(A)[m0 + i, k0 .. k0+4] (rows clamped to M-1). No k guard: k0 + 3 < K.
fn load_a(base: u32, m0: u32, k0: u32) -> mat4x4<f32> {
    let m1 = p.m - 1u;
    if (VA && TA) {
        // M % 4 == 0: a block starting past M - 4 is clamped to the last whole one.
        let s = p.m >> 2u;
        let r = (base + k0 * p.m + min(m0, p.m - 4u)) >> 2u;
        return transpose(mat4x4<f32>(a[r], a[r + s], a[r + 2u * s], a[r + 3u * s]));
    }
    if (VA) {
        return mat4x4<f32>(
            a[(base + min(m0, m1) * p.k + k0) >> 2u],
            a[(base + min(m0 + 1u, m1) * p.k + k0) >> 2u],
            a[(base + min(m0 + 2u, m1) * p.k + k0) >> 2u],
            a[(base + min(m0 + 3u, m1) * p.k + k0) >> 2u]);
    }
    var t: mat4x4<f32>;
    for (var i = 0u; i < 4u; i++) {
        let m = min(m0 + i, m1);
        t[i] = vec4<f32>(ea(base + ia(m, k0)), ea(base + ia(m, k0 + 1u)),
                         ea(base + ia(m, k0 + 2u)), ea(base + ia(m, k0 + 3u)));
    }
    return t;
}

// Column j = op(B)[k0 + j, n0 .. n0+4] (columns clamped to N-1). No k guard: k0 + 3 < K.
fn load_b(base: u32, n0: u32, k0: u32) -> mat4x4<f32> {
    let n1 = p.n - 1u;
    if (VB && !TB) {
        // N % 4 == 0: a block starting past N - 4 is clamped to the last whole one.
        let s = p.n >> 2u;
        let r = (base + k0 * p.n + min(n0, p.n - 4u)) >> 2u;
        return mat4x4<f32>(b[r], b[r + s], b[r + 2u * s], b[r + 3u * s]);
    }
    if (VB) {
        return transpose(mat4x4<f32>(
            b[(base + min(n0, n1) * p.k + k0) >> 2u],
            b[(base + min(n0 + 1u, n1) * p.k + k0) >> 2u],
            b[(base + min(n0 + 2u, n1) * p.k + k0) >> 2u],
            b[(base + min(n0 + 3u, n1) * p.k + k0) >> 2u]));
    }
    var t: mat4x4<f32>;
    for (var j = 0u; j < 4u; j++) {
        let k = k0 + j;
        t[j] = vec4<f32>(eb(base + ib(k, min(n0, n1))), eb(base + ib(k, min(n0 + 1u, n1))),
                         eb(base + ib(k, min(n0 + 2u, n1))), eb(base + ib(k, min(n0 + 3u, n1))));
    }
    return t;
}

// The last partial k-step: values with k >= K read as 0 (from a clamped, valid index, so an
// Inf elsewhere in the tensor cannot turn 0·x into NaN).
fn load_a_tail(base: u32, m0: u32, k0: u32) -> mat4x4<f32> {
    var t: mat4x4<f32>;
    for (var i = 0u; i < 4u; i++) {
        let m = min(m0 + i, p.m - 1u);
        for (var j = 0u; j < 4u; j++) {
            let k = k0 + j;
            t[i][j] = select(0.0, ea(base + ia(m, min(k, p.k - 1u))), k < p.k);
        }
    }
    return t;
}
fn load_b_tail(base: u32, n0: u32, k0: u32) -> mat4x4<f32> {
    var t: mat4x4<f32>;
    for (var j = 0u; j < 4u; j++) {
        let k = k0 + j;
        for (var i = 0u; i < 4u; i++) {
            let n = min(n0 + i, p.n - 1u);
            t[j][i] = select(0.0, eb(base + ib(min(k, p.k - 1u), n)), k < p.k);
        }
    }
    return t;
}

// Row m of C, columns n0 .. n0+4, where they exist.
fn store(cbase: u32, m: u32, n0: u32, v: vec4<f32>) {
    if (m >= p.m || n0 >= p.n) { return; }
    let o = cbase + m * p.n + n0;
    if (VC) {
        c[o >> 2u] = v;
    } else {
        for (var j = 0u; j < 4u; j++) {
            if (n0 + j < p.n) { c[(o + j) >> 2u][(o + j) & 3u] = v[j]; }
        }
    }
}

// One invocation = an 8×8 block of C as four 4×4 register blocks (acc[row half][column half]);
// each k-step loads two 4×4 blocks of op(A) and two of op(B) and does four block products.
@compute @workgroup_size(8, 8)
fn matmul_cpu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 8u;
    let m0 = gid.y * 8u;
    if (m0 >= p.m || n0 >= p.n) { return; }
    let abase = gid.z * p.sa;
    let bbase = gid.z * p.sb;
    let cbase = gid.z * p.m * p.n;
    // acc00[i] = C[m0 + i, n0 .. n0+4]; acc01: columns n0+4..; acc10/acc11: rows m0+4...
    var acc00 = mat4x4<f32>();
    var acc01 = mat4x4<f32>();
    var acc10 = mat4x4<f32>();
    var acc11 = mat4x4<f32>();
    let k4 = p.k & ~3u;
    for (var k0 = 0u; k0 < k4; k0 += 4u) {
        let a0 = load_a(abase, m0, k0);
        let a1 = load_a(abase, m0 + 4u, k0);
        let b0 = load_b(bbase, n0, k0);
        let b1 = load_b(bbase, n0 + 4u, k0);
        acc00 += b0 * a0;
        acc01 += b1 * a0;
        acc10 += b0 * a1;
        acc11 += b1 * a1;
    }
    if (k4 < p.k) {
        let a0 = load_a_tail(abase, m0, k4);
        let a1 = load_a_tail(abase, m0 + 4u, k4);
        let b0 = load_b_tail(bbase, n0, k4);
        let b1 = load_b_tail(bbase, n0 + 4u, k4);
        acc00 += b0 * a0;
        acc01 += b1 * a0;
        acc10 += b0 * a1;
        acc11 += b1 * a1;
    }
    for (var i = 0u; i < 4u; i++) {
        store(cbase, m0 + i, n0, acc00[i]);
        store(cbase, m0 + i, n0 + 4u, acc01[i]);
        store(cbase, m0 + 4u + i, n0, acc10[i]);
        store(cbase, m0 + 4u + i, n0 + 4u, acc11[i]);
    }
}
