// requires: _fma8.wgsl
// conv_subgroup.wgsl's convolution (same lanes, stride phases, TRANSPOSED reading and RELU; see
// there) on re-laid operands whose contraction runs are contiguous, so that every load is a
// vec4 as in matmul_subgroup.wgsl (src/ops/conv/nhwc.rs makes the copies; needs Cin % 4 == 0
// and Cout % 4 == 0):
// - x is [B, H, W, Cin] of this convolution (dy for TRANSPOSED);
// - wt is the forward's weight as [kh·kw, Cout_fwd, Cin_fwd]. Forward: the lane's 4 output
//   channels are 4 rows along Cin, transposed in registers; TRANSPOSED: its 4 output channels
//   (Cin_fwd) are one vec4 of a row of Cout_fwd.
// The output stays NCHW. One workgroup covers 64 pixels × 32 output channels (lane l: pixels
// l + 8q, q < 8, and channels n0 + 4l..+4): per 4 input channels of a tap a lane makes 8 vec4
// patch loads and 4 vec4 weight loads for 1,024 FMAs (conv_subgroup.wgsl: 16 + 16 scalar loads,
// each with its index arithmetic, for 512). The 64-pixel tile is the larger lever where loads
// cost per float: measured 1.2–1.5× the 32-pixel tile on a loaded machine (BENCHMARKS.md).

override TRANSPOSED: bool = false;
override RELU: bool = false;

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
    phy: u32, phx: u32, hq: u32, wq: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (x NHWC, weight [kh·kw, Cout_fwd, Cin_fwd], bias (any buffer when absent), y NCHW); x and the
// weight bound as whole vec4s.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Where 4 pixel rows of the tile read: image row offset (image · H) and the first tap's input
// row and column (of the dilated dy for TRANSPOSED).
struct Rows { hb: vec4<i32>, iy0: vec4<i32>, ix0: vec4<i32> }

fn rows(m: vec4<u32>) -> Rows {
    let qx = m % p.wq;
    let t = m / p.wq;
    let qy = t % p.hq;
    var s = 1u;
    if (TRANSPOSED) { s = p.stride; }
    let oy = vec4<u32>(p.phy) + s * qy;
    let ox = vec4<u32>(p.phx) + s * qx;
    let hb = vec4<i32>((t / p.hq) * p.h);
    if (TRANSPOSED) {
        return Rows(hb, vec4<i32>(oy) - i32(p.kh - 1u - p.pad), vec4<i32>(ox) - i32(p.kw - 1u - p.pad));
    }
    return Rows(hb, vec4<i32>(oy * p.stride) - i32(p.pad), vec4<i32>(ox * p.stride) - i32(p.pad));
}

// Float offsets of the 4 pixels' channel runs at tap (ky, kx), and which exist (else 0).
struct Runs { xi: vec4<u32>, ok: vec4<bool> }

fn at_tap(r: Rows, ky: u32, kx: u32) -> Runs {
    var iy = r.iy0 + i32(ky);
    var ix = r.ix0 + i32(kx);
    var ok = (iy >= vec4<i32>(0)) & (ix >= vec4<i32>(0));
    if (TRANSPOSED) {
        // Only rows and columns of the dilated dy that are multiples of s exist.
        let S = vec4<i32>(i32(p.stride));
        iy = select(vec4<i32>(0), iy, ok);
        ix = select(vec4<i32>(0), ix, ok);
        ok = ok & (iy % S == vec4<i32>(0)) & (ix % S == vec4<i32>(0));
        iy = iy / S;
        ix = ix / S;
    }
    ok = ok & (iy < vec4<i32>(i32(p.h))) & (ix < vec4<i32>(i32(p.w)));
    let xi = vec4<u32>(select(vec4<i32>(0), (r.hb + iy) * i32(p.w) + ix, ok)) * p.cin;
    return Runs(xi, ok);
}

// A rows: channels ci0..ci0+4 of the 4 pixels (0 where absent).
fn a(q: Runs, j: u32, ci0: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), x[(q.xi[j] + ci0) >> 2u], q.ok[j]);
}

// W[ci0..ci0+4, the lane's 4 output channels] of tap (ky, kx) as columns b_j = channel ci0 + j.
fn wblock(co: vec4<u32>, n0: u32, ci0: u32, ky: u32, kx: u32) -> mat4x4<f32> {
    if (TRANSPOSED) {
        // [kh·kw, Cout_fwd, Cin_fwd] = [taps, cin here, cout here], taps flipped.
        let t = (p.kh - 1u - ky) * p.kw + (p.kw - 1u - kx);
        let o = (t * p.cin + ci0) * p.cout + min(n0, p.cout - 4u);
        return mat4x4<f32>(wt[o >> 2u], wt[(o + p.cout) >> 2u],
                           wt[(o + 2u * p.cout) >> 2u], wt[(o + 3u * p.cout) >> 2u]);
    }
    // [kh·kw, Cout, Cin]: one row per output channel, transposed into columns.
    let i = (vec4<u32>((ky * p.kw + kx) * p.cout) + co) * p.cin + vec4<u32>(ci0);
    return transpose(mat4x4<f32>(wt[i.x >> 2u], wt[i.y >> 2u], wt[i.z >> 2u], wt[i.w >> 2u]));
}

// Row r of the tile (pixel m0 + r), the lane's channels n0..n0+4 (all or none exist).
fn store(m0: u32, r: u32, n0: u32, v: vec4<f32>, bv: vec4<f32>) {
    let m = m0 + r;
    if (m >= p.b * p.hq * p.wq || n0 >= p.cout) { return; }
    // Scalar divisions: integer division runs lane by lane.
    let qx = m % p.wq;
    let t = m / p.wq;
    var st = 1u;
    if (TRANSPOSED) { st = p.stride; }
    let plane = p.ho * p.wo;
    let o = ((t / p.hq) * p.cout + n0) * plane + (p.phy + st * (t % p.hq)) * p.wo + p.phx + st * qx;
    var y = v + bv;
    if (RELU) { y = max(y, vec4<f32>(0.0)); }
    out[o] = y.x;
    out[o + plane] = y.y;
    out[o + 2u * plane] = y.z;
    out[o + 3u * plane] = y.w;
}

@compute @workgroup_size(8)
fn conv_nhwc_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(subgroup_invocation_id) lane: u32) {
    let tm = 64u;
    let tile = wg.x + wg.y * nwg.x;
    let m_total = p.b * p.hq * p.wq;
    let tiles_m = (m_total + tm - 1u) / tm;
    if (tile >= tiles_m * ((p.cout + 31u) / 32u)) { return; } // whole workgroup: uniform
    // Pixel tiles vary fastest: neighbouring workgroups read the same weights.
    let m0 = (tile % tiles_m) * tm;
    let n0 = (tile / tiles_m) * 32u + lane * 4u;
    let co = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.cout - 1u));
    // This lane's A rows: pixels m0 + lane + 8q (clamped).
    let last = vec4<u32>(m_total - 1u);
    let lo = rows(min(vec4<u32>(m0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), last));
    let hi = rows(min(vec4<u32>(m0 + lane) + vec4<u32>(32u, 40u, 48u, 56u), last));
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
    var a8 = vec4<f32>(0.0); var a9 = vec4<f32>(0.0); var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0);
    var a12 = vec4<f32>(0.0); var a13 = vec4<f32>(0.0); var a14 = vec4<f32>(0.0); var a15 = vec4<f32>(0.0);
    var a16 = vec4<f32>(0.0); var a17 = vec4<f32>(0.0); var a18 = vec4<f32>(0.0); var a19 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0); var a23 = vec4<f32>(0.0);
    var a24 = vec4<f32>(0.0); var a25 = vec4<f32>(0.0); var a26 = vec4<f32>(0.0); var a27 = vec4<f32>(0.0);
    var a28 = vec4<f32>(0.0); var a29 = vec4<f32>(0.0); var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0);
    var a32 = vec4<f32>(0.0); var a33 = vec4<f32>(0.0); var a34 = vec4<f32>(0.0); var a35 = vec4<f32>(0.0);
    var a36 = vec4<f32>(0.0); var a37 = vec4<f32>(0.0); var a38 = vec4<f32>(0.0); var a39 = vec4<f32>(0.0);
    var a40 = vec4<f32>(0.0); var a41 = vec4<f32>(0.0); var a42 = vec4<f32>(0.0); var a43 = vec4<f32>(0.0);
    var a44 = vec4<f32>(0.0); var a45 = vec4<f32>(0.0); var a46 = vec4<f32>(0.0); var a47 = vec4<f32>(0.0);
    var a48 = vec4<f32>(0.0); var a49 = vec4<f32>(0.0); var a50 = vec4<f32>(0.0); var a51 = vec4<f32>(0.0);
    var a52 = vec4<f32>(0.0); var a53 = vec4<f32>(0.0); var a54 = vec4<f32>(0.0); var a55 = vec4<f32>(0.0);
    var a56 = vec4<f32>(0.0); var a57 = vec4<f32>(0.0); var a58 = vec4<f32>(0.0); var a59 = vec4<f32>(0.0);
    var a60 = vec4<f32>(0.0); var a61 = vec4<f32>(0.0); var a62 = vec4<f32>(0.0); var a63 = vec4<f32>(0.0);
    // Taps: all (forward), or this phase's every s-th from the first that lands on a dy row
    // (TRANSPOSED: ky ≡ kh − 1 − pad − phy (mod s)).
    var ky0 = 0u;
    var kx0 = 0u;
    var kstep = 1u;
    if (TRANSPOSED) {
        kstep = p.stride;
        ky0 = (p.kh - 1u - p.pad + p.stride * p.kh - p.phy) % p.stride;
        kx0 = (p.kw - 1u - p.pad + p.stride * p.kw - p.phx) % p.stride;
    }
    for (var ky = ky0; ky < p.kh; ky += kstep) {
        for (var kx = kx0; kx < p.kw; kx += kstep) {
            let ql = at_tap(lo, ky, kx);
            let qh = at_tap(hi, ky, kx);
            for (var ci0 = 0u; ci0 < p.cin; ci0 += 4u) {
                let bk = wblock(co, n0, ci0, ky, kx);
                let b0 = bk[0];
                let b1 = bk[1];
                let b2 = bk[2];
                let b3 = bk[3];
                fma8(a(ql, 0u, ci0), b0, b1, b2, b3, &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
                fma8(a(ql, 1u, ci0), b0, b1, b2, b3, &a8, &a9, &a10, &a11, &a12, &a13, &a14, &a15);
                fma8(a(ql, 2u, ci0), b0, b1, b2, b3, &a16, &a17, &a18, &a19, &a20, &a21, &a22, &a23);
                fma8(a(ql, 3u, ci0), b0, b1, b2, b3, &a24, &a25, &a26, &a27, &a28, &a29, &a30, &a31);
                fma8(a(qh, 0u, ci0), b0, b1, b2, b3, &a32, &a33, &a34, &a35, &a36, &a37, &a38, &a39);
                fma8(a(qh, 1u, ci0), b0, b1, b2, b3, &a40, &a41, &a42, &a43, &a44, &a45, &a46, &a47);
                fma8(a(qh, 2u, ci0), b0, b1, b2, b3, &a48, &a49, &a50, &a51, &a52, &a53, &a54, &a55);
                fma8(a(qh, 3u, ci0), b0, b1, b2, b3, &a56, &a57, &a58, &a59, &a60, &a61, &a62, &a63);
            }
        }
    }
    var bv = vec4<f32>(0.0);
    if (p.has_bias != 0u) {
        bv = vec4<f32>(bias[co.x], bias[co.y], bias[co.z], bias[co.w]);
    }
    store(m0, 0u, n0, a0, bv); store(m0, 1u, n0, a1, bv); store(m0, 2u, n0, a2, bv); store(m0, 3u, n0, a3, bv);
    store(m0, 4u, n0, a4, bv); store(m0, 5u, n0, a5, bv); store(m0, 6u, n0, a6, bv); store(m0, 7u, n0, a7, bv);
    store(m0, 8u, n0, a8, bv); store(m0, 9u, n0, a9, bv); store(m0, 10u, n0, a10, bv); store(m0, 11u, n0, a11, bv);
    store(m0, 12u, n0, a12, bv); store(m0, 13u, n0, a13, bv); store(m0, 14u, n0, a14, bv); store(m0, 15u, n0, a15, bv);
    store(m0, 16u, n0, a16, bv); store(m0, 17u, n0, a17, bv); store(m0, 18u, n0, a18, bv); store(m0, 19u, n0, a19, bv);
    store(m0, 20u, n0, a20, bv); store(m0, 21u, n0, a21, bv); store(m0, 22u, n0, a22, bv); store(m0, 23u, n0, a23, bv);
    store(m0, 24u, n0, a24, bv); store(m0, 25u, n0, a25, bv); store(m0, 26u, n0, a26, bv); store(m0, 27u, n0, a27, bv);
    store(m0, 28u, n0, a28, bv); store(m0, 29u, n0, a29, bv); store(m0, 30u, n0, a30, bv); store(m0, 31u, n0, a31, bv);
    store(m0, 32u, n0, a32, bv); store(m0, 33u, n0, a33, bv); store(m0, 34u, n0, a34, bv); store(m0, 35u, n0, a35, bv);
    store(m0, 36u, n0, a36, bv); store(m0, 37u, n0, a37, bv); store(m0, 38u, n0, a38, bv); store(m0, 39u, n0, a39, bv);
    store(m0, 40u, n0, a40, bv); store(m0, 41u, n0, a41, bv); store(m0, 42u, n0, a42, bv); store(m0, 43u, n0, a43, bv);
    store(m0, 44u, n0, a44, bv); store(m0, 45u, n0, a45, bv); store(m0, 46u, n0, a46, bv); store(m0, 47u, n0, a47, bv);
    store(m0, 48u, n0, a48, bv); store(m0, 49u, n0, a49, bv); store(m0, 50u, n0, a50, bv); store(m0, 51u, n0, a51, bv);
    store(m0, 52u, n0, a52, bv); store(m0, 53u, n0, a53, bv); store(m0, 54u, n0, a54, bv); store(m0, 55u, n0, a55, bv);
    store(m0, 56u, n0, a56, bv); store(m0, 57u, n0, a57, bv); store(m0, 58u, n0, a58, bv); store(m0, 59u, n0, a59, bv);
    store(m0, 60u, n0, a60, bv); store(m0, 61u, n0, a61, bv); store(m0, 62u, n0, a62, bv); store(m0, 63u, n0, a63, bv);
}
