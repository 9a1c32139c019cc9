// requires: _fma8.wgsl
// Batched C = op(A)·op(B) for CPU adapters with 8-lane subgroups (lavapipe on AVX2).
// op(A) is M×K (A stored [K, M] when TA), op(B) is K×N (B stored [N, K] when TB), C is [M, N].
//
// Why this shape (measured with `fastshap bench probe`, ARCHITECTURE.md): llvmpipe loads every
// storage-buffer element lane by lane (a loop over the 8 lanes with an exec-mask and bounds test
// per element), ~1.7 ns per lane-float whatever the pattern or vector width, while an FMA costs
// ~0.04 ns and `subgroupBroadcast` ~0.04 ns per float. So the kernel minimises loads per lane:
// one workgroup is one 8-lane subgroup computing a 32×32 tile of C; lane l owns columns
// n0+4l..n0+4l+4 of all 32 rows. Per k-step of 4 each lane loads 4×4 values of op(B) (its own
// columns) and 4×4 values of op(A) (rows l, l+8, l+16, l+24), and receives the other lanes' A
// rows by broadcast: 32 loads feed 512 FMAs (the register-blocked kernel: 64 loads per 256).
//
// Every lane runs the same loops (broadcasts need uniform control flow): lanes past N or rows
// past M compute on clamped indices and skip their stores. Requires subgroup size 8 (the Rust
// side checks the adapter's range), K ≤ 262,144 (llvmpipe stops loops after 65,536 iterations).

override TA: bool = false;
override GROUP_M: u32 = 4u;
override TB: bool = false;
// vec4 loads where a run of 4 values is contiguous and aligned (the Rust side checks): A's rows
// when K % 4 == 0 and A is not transposed; B's rows when N % 4 == 0 (not transposed) or its
// stored rows when K % 4 == 0 (transposed, then transposed back in registers). On lavapipe a vec4
// load costs ~2.5 scalar ones, not 4 (`bench probe`).
override VA: bool = false;
override VB: bool = false;
// TA with M % 4 == 0 (the Rust side checks): op(A)'s rows are read 4 at a time as vec4 along
// A's stored rows. Then lane l owns rows 4l..4l+4 of the tile (not l, l+8, l+16, l+24), so four
// vec4 loads per k-step replace sixteen scalar ones, and accumulator 8i + s holds row 4s + i.
// Used by every linear layer's weight gradient (gᵀ·x).
override VAT: bool = false;
// C = op(A)·op(B) + bias[n] (a linear layer's bias, added as C is stored: no second pass over
// C and no separate broadcast launch). Binding 4 is always bound (op(B) when there is no bias).
override BIAS: bool = false;

struct Params { m: u32, n: u32, k: u32, sa: u32, sb: u32 }
@group(0) @binding(0) var<uniform> p: Params;
// Bound as vec4 arrays (pooled buffers are padded to 32 bytes); scalar access is x[i >> 2][i & 3].
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// op(A)[m, k] and op(B)[k, n] within one batch; callers clamp m, n, k into range.
fn ea(base: u32, m: u32, k: u32) -> f32 {
    var i = base + m * p.k + k;
    if (TA) { i = base + k * p.m + m; }
    return a[i >> 2u][i & 3u];
}
fn eb(base: u32, k: u32, n: u32) -> f32 {
    var i = base + k * p.n + n;
    if (TB) { i = base + n * p.k + k; }
    return b[i >> 2u][i & 3u];
}
// op(B)[k, n0..n0+4] (columns clamped).
fn brow(base: u32, k: u32, n0: u32) -> vec4<f32> {
    let n1 = p.n - 1u;
    if (VB && !TB) {
        // N % 4 == 0: a lane past N reads the last whole vec4 (its results are not stored).
        return b[(base + k * p.n + min(n0, p.n - 4u)) >> 2u];
    }
    return vec4<f32>(eb(base, k, min(n0, n1)), eb(base, k, min(n0 + 1u, n1)),
                     eb(base, k, min(n0 + 2u, n1)), eb(base, k, min(n0 + 3u, n1)));
}
// op(B)[k0..k0+4, n0..n0+4] as columns b_j = row k0 + j (rows past K clamped: the matching A
// values are 0).
fn bblock(base: u32, k0: u32, n0: u32) -> mat4x4<f32> {
    if (VB && TB) {
        // K % 4 == 0: four stored rows n0..n0+4 at k0..k0+4, transposed in registers.
        let n1 = p.n - 1u;
        return transpose(mat4x4<f32>(
            b[(base + min(n0, n1) * p.k + k0) >> 2u],
            b[(base + min(n0 + 1u, n1) * p.k + k0) >> 2u],
            b[(base + min(n0 + 2u, n1) * p.k + k0) >> 2u],
            b[(base + min(n0 + 3u, n1) * p.k + k0) >> 2u]));
    }
    let k1 = p.k - 1u;
    return mat4x4<f32>(brow(base, k0, n0), brow(base, min(k0 + 1u, k1), n0),
                       brow(base, min(k0 + 2u, k1), n0), brow(base, min(k0 + 3u, k1), n0));
}
// op(A)[m, k0..k0+4] for a clamped row m; values past K read as 0 (from a valid index).
fn arow(base: u32, m: u32, k0: u32) -> vec4<f32> {
    if (VA && !TA) {
        // K % 4 == 0: the 4 values exist and are aligned.
        return a[(base + m * p.k + k0) >> 2u];
    }
    let k1 = p.k - 1u;
    var v: vec4<f32>;
    for (var j = 0u; j < 4u; j++) {
        v[j] = select(0.0, ea(base, m, min(k0 + j, k1)), k0 + j < p.k);
    }
    return v;
}

// Under VAT: op(A)[ms..ms+4, k0..k0+4] as the rows' vec4s (ms a multiple of 4, clamped below M;
// values past K read as 0, from a valid index).
fn atblock(base: u32, ms: u32, k0: u32) -> mat4x4<f32> {
    let k1 = p.k - 1u;
    let z = vec4<f32>(0.0);
    return transpose(mat4x4<f32>(
        select(z, a[(base + k0 * p.m + ms) >> 2u], k0 < p.k),
        select(z, a[(base + min(k0 + 1u, k1) * p.m + ms) >> 2u], k0 + 1u < p.k),
        select(z, a[(base + min(k0 + 2u, k1) * p.m + ms) >> 2u], k0 + 2u < p.k),
        select(z, a[(base + min(k0 + 3u, k1) * p.m + ms) >> 2u], k0 + 3u < p.k)));
}

// The tile row accumulator j holds (see VAT).
fn rowmap(j: u32) -> u32 {
    if (VAT) { return 4u * (j & 7u) + (j >> 3u); }
    return j;
}

// fma8: see _fma8.wgsl (prepended by the Rust side).

// Row m of C, columns n0..n0+4, where they exist; `bv` is the bias of those columns.
fn store(cbase: u32, m: u32, n0: u32, v: vec4<f32>, bv: vec4<f32>) {
    if (m >= p.m || n0 >= p.n) { return; }
    let o = cbase + m * p.n + n0;
    var s = v;
    if (BIAS) { s = v + bv; }
    for (var j = 0u; j < 4u; j++) {
        if (n0 + j < p.n) { c[o + j] = s[j]; }
    }
}

@compute @workgroup_size(8)
fn matmul_subgroup(@builtin(workgroup_id) wg: vec3<u32>,
                   @builtin(subgroup_invocation_id) lane: u32) {
    // Tile order: GROUP_M row-tiles share each column-tile before moving on, so neighbouring
    // workgroups (run close in time) reuse both operands' stripes from cache.
    let tiles_m = (p.m + 31u) / 32u;
    let tiles_n = (p.n + 31u) / 32u;
    let per_group = GROUP_M * tiles_n;
    let g = wg.x / per_group;
    let first_m = g * GROUP_M;
    let rows_here = min(GROUP_M, tiles_m - first_m);
    let r = wg.x % per_group;
    let tm = first_m + r % rows_here;
    let tn = r / rows_here;
    let n0 = tn * 32u + lane * 4u;
    let m0 = tm * 32u;
    let abase = wg.z * p.sa;
    let bbase = wg.z * p.sb;
    let cbase = wg.z * p.m * p.n;
    let m1 = p.m - 1u;
    // This lane's A rows: l, l+8, l+16, l+24 of the tile (clamped).
    let r0 = min(m0 + lane, m1);
    let r1 = min(m0 + lane + 8u, m1);
    let r2 = min(m0 + lane + 16u, m1);
    let r3 = min(m0 + lane + 24u, m1);
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    var a8 = vec4<f32>(0.0);
    var a9 = vec4<f32>(0.0);
    var a10 = vec4<f32>(0.0);
    var a11 = vec4<f32>(0.0);
    var a12 = vec4<f32>(0.0);
    var a13 = vec4<f32>(0.0);
    var a14 = vec4<f32>(0.0);
    var a15 = vec4<f32>(0.0);
    var a16 = vec4<f32>(0.0);
    var a17 = vec4<f32>(0.0);
    var a18 = vec4<f32>(0.0);
    var a19 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0);
    var a21 = vec4<f32>(0.0);
    var a22 = vec4<f32>(0.0);
    var a23 = vec4<f32>(0.0);
    var a24 = vec4<f32>(0.0);
    var a25 = vec4<f32>(0.0);
    var a26 = vec4<f32>(0.0);
    var a27 = vec4<f32>(0.0);
    var a28 = vec4<f32>(0.0);
    var a29 = vec4<f32>(0.0);
    var a30 = vec4<f32>(0.0);
    var a31 = vec4<f32>(0.0);
    // Under VAT, this lane's first row (clamped to the last whole vec4: M % 4 == 0).
    let ms = min(m0 + 4u * lane, p.m - 4u);
    for (var k0 = 0u; k0 < p.k; k0 += 4u) {
        let bk = bblock(bbase, k0, n0);
        let b0 = bk[0];
        let b1 = bk[1];
        let b2 = bk[2];
        let b3 = bk[3];
        var ar0: vec4<f32>;
        var ar1: vec4<f32>;
        var ar2: vec4<f32>;
        var ar3: vec4<f32>;
        if (VAT) {
            let at = atblock(abase, ms, k0);
            ar0 = at[0];
            ar1 = at[1];
            ar2 = at[2];
            ar3 = at[3];
        } else {
            ar0 = arow(abase, r0, k0);
            ar1 = arow(abase, r1, k0);
            ar2 = arow(abase, r2, k0);
            ar3 = arow(abase, r3, k0);
        }
        fma8(ar0, b0, b1, b2, b3,
             &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
        fma8(ar1, b0, b1, b2, b3,
             &a8, &a9, &a10, &a11, &a12, &a13, &a14, &a15);
        fma8(ar2, b0, b1, b2, b3,
             &a16, &a17, &a18, &a19, &a20, &a21, &a22, &a23);
        fma8(ar3, b0, b1, b2, b3,
             &a24, &a25, &a26, &a27, &a28, &a29, &a30, &a31);
    }
    // This lane's 4 bias values (columns clamped; they are loaded once for all 32 rows).
    var bv = vec4<f32>(0.0);
    if (BIAS) {
        let n1 = p.n - 1u;
        bv = vec4<f32>(bias[min(n0, n1)], bias[min(n0 + 1u, n1)],
                       bias[min(n0 + 2u, n1)], bias[min(n0 + 3u, n1)]);
    }
    store(cbase, m0 + rowmap(0u), n0, a0, bv);
    store(cbase, m0 + rowmap(1u), n0, a1, bv);
    store(cbase, m0 + rowmap(2u), n0, a2, bv);
    store(cbase, m0 + rowmap(3u), n0, a3, bv);
    store(cbase, m0 + rowmap(4u), n0, a4, bv);
    store(cbase, m0 + rowmap(5u), n0, a5, bv);
    store(cbase, m0 + rowmap(6u), n0, a6, bv);
    store(cbase, m0 + rowmap(7u), n0, a7, bv);
    store(cbase, m0 + rowmap(8u), n0, a8, bv);
    store(cbase, m0 + rowmap(9u), n0, a9, bv);
    store(cbase, m0 + rowmap(10u), n0, a10, bv);
    store(cbase, m0 + rowmap(11u), n0, a11, bv);
    store(cbase, m0 + rowmap(12u), n0, a12, bv);
    store(cbase, m0 + rowmap(13u), n0, a13, bv);
    store(cbase, m0 + rowmap(14u), n0, a14, bv);
    store(cbase, m0 + rowmap(15u), n0, a15, bv);
    store(cbase, m0 + rowmap(16u), n0, a16, bv);
    store(cbase, m0 + rowmap(17u), n0, a17, bv);
    store(cbase, m0 + rowmap(18u), n0, a18, bv);
    store(cbase, m0 + rowmap(19u), n0, a19, bv);
    store(cbase, m0 + rowmap(20u), n0, a20, bv);
    store(cbase, m0 + rowmap(21u), n0, a21, bv);
    store(cbase, m0 + rowmap(22u), n0, a22, bv);
    store(cbase, m0 + rowmap(23u), n0, a23, bv);
    store(cbase, m0 + rowmap(24u), n0, a24, bv);
    store(cbase, m0 + rowmap(25u), n0, a25, bv);
    store(cbase, m0 + rowmap(26u), n0, a26, bv);
    store(cbase, m0 + rowmap(27u), n0, a27, bv);
    store(cbase, m0 + rowmap(28u), n0, a28, bv);
    store(cbase, m0 + rowmap(29u), n0, a29, bv);
    store(cbase, m0 + rowmap(30u), n0, a30, bv);
    store(cbase, m0 + rowmap(31u), n0, a31, bv);
}
