// requires: _fma8.wgsl
// conv_subgroup_wgrad.wgsl's weight gradient (same lanes and split-K; see there) with
// every load a vec4 run along the contraction (the pixels), as in matmul_subgroup.wgsl:
// - dy stays NCHW: 4 consecutive pixels of one channel are contiguous (the Rust side checks
//   Ho·Wo % 4 == 0 and makes chunks multiples of 4, so a 4-pixel step never leaves an image);
// - x is NHWC ([B, H, W, Cin], Cin % 4 == 0) and the columns are ordered (ky, kx, ci): a lane's
//   4 columns are 4 channels of one tap, one vec4 per pixel;
// - the output is partial[split, co, (ky, kx, ci)] ([Cout, kh, kw, Cin] per split), which the
//   Rust side sums over splits and re-lays to [Cout, Cin, kh, kw] (conv_layout.wgsl).
// One workgroup covers 64 output channels (lane l: channels m0 + l + 8q, q < 8) × 32 columns:
// per 4 pixels a lane makes 8 vec4 dy loads and 4 vec4 x loads for 1,024 FMAs (the NCHW
// kernel: 16 + 16 scalar ones for 512, and 4 integer divisions per pixel: here the pixel
// position is stepped).

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
    chunk: u32, nsplit: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (dy, x NHWC, partial dw [nsplit, Cout·kh·kw·Cin]); dy and x bound as whole vec4s.
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// A pixel's position, stepped one pixel at a time (all lanes alike) instead of divided out.
struct Pos { bb: u32, oy: u32, ox: u32 }

fn next(q: Pos) -> Pos {
    var r = q;
    r.ox += 1u;
    if (r.ox == p.wo) { r.ox = 0u; r.oy += 1u; }
    if (r.oy == p.ho) { r.oy = 0u; r.bb += 1u; }
    return r;
}

// x at pixel q's patch for tap (ky, kx), channels ci0..ci0+4; 0 in the padding.
fn xrow(q: Pos, ky: u32, kx: u32, ci0: u32) -> vec4<f32> {
    let iy = i32(q.oy * p.stride + ky) - i32(p.pad);
    let ix = i32(q.ox * p.stride + kx) - i32(p.pad);
    let ok = iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
    let i = select(0u, ((q.bb * p.h + u32(iy)) * p.w + u32(ix)) * p.cin + ci0, ok);
    return select(vec4<f32>(0.0), x[i >> 2u], ok);
}

// Row r of the tile (channel m0 + r), the lane's columns n0..n0+4 (all or none exist).
fn store(obase: u32, m0: u32, r: u32, n0: u32, v: vec4<f32>) {
    let ksz = p.cin * p.kh * p.kw;
    let co = m0 + r;
    if (co >= p.cout || n0 >= ksz) { return; }
    let o = obase + co * ksz + n0;
    out[o] = v.x;
    out[o + 1u] = v.y;
    out[o + 2u] = v.z;
    out[o + 3u] = v.w;
}

@compute @workgroup_size(8)
fn conv_wgrad_sg_nhwc(@builtin(workgroup_id) wg: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(subgroup_invocation_id) lane: u32) {
    let tile = wg.x + wg.y * nwg.x;
    let ksz = p.cin * p.kh * p.kw;
    let tm = 64u;
    let tiles_m = (p.cout + tm - 1u) / tm;
    let tiles = tiles_m * ((ksz + 31u) / 32u);
    if (tile >= tiles * p.nsplit) { return; } // whole workgroup: uniform
    let split = tile / tiles;
    let t = tile % tiles;
    let m0 = (t % tiles_m) * tm;
    let n0 = (t / tiles_m) * 32u + lane * 4u;
    // The lane's 4 columns (clamped to the last whole vec4): channels ci0..ci0+4 of one tap.
    let n = min(n0, ksz - 4u);
    let tap = n / p.cin;
    let ci0 = n % p.cin;
    let ky = tap / p.kw;
    let kx = tap % p.kw;
    // This lane's A rows: channels m0 + lane + 8q (clamped).
    let last = vec4<u32>(p.cout - 1u);
    let co = min(vec4<u32>(m0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), last);
    let co_hi = min(vec4<u32>(m0 + lane) + vec4<u32>(32u, 40u, 48u, 56u), last);
    let plane = p.ho * p.wo;
    let start = split * p.chunk;
    let end = min(start + p.chunk, p.b * plane);
    let pix0 = start % plane;
    var q = Pos(start / plane, pix0 / p.wo, pix0 % p.wo);
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
    for (var m = start; m < end; m += 4u) {
        // dy of pixels m..m+4 (one image: Ho·Wo % 4 == 0) for channel co_j: d_j[i] = dy[m+i, co_j].
        let pix = vec4<u32>(q.bb * p.cout * plane + q.oy * p.wo + q.ox);
        let d = co * plane + pix;
        let d0 = dy[d.x >> 2u];
        let d1 = dy[d.y >> 2u];
        let d2 = dy[d.z >> 2u];
        let d3 = dy[d.w >> 2u];
        let b0 = xrow(q, ky, kx, ci0);
        q = next(q);
        let b1 = xrow(q, ky, kx, ci0);
        q = next(q);
        let b2 = xrow(q, ky, kx, ci0);
        q = next(q);
        let b3 = xrow(q, ky, kx, ci0);
        q = next(q);
        fma8(d0, b0, b1, b2, b3, &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
        fma8(d1, b0, b1, b2, b3, &a8, &a9, &a10, &a11, &a12, &a13, &a14, &a15);
        fma8(d2, b0, b1, b2, b3, &a16, &a17, &a18, &a19, &a20, &a21, &a22, &a23);
        fma8(d3, b0, b1, b2, b3, &a24, &a25, &a26, &a27, &a28, &a29, &a30, &a31);
        let e = co_hi * plane + pix;
        fma8(dy[e.x >> 2u], b0, b1, b2, b3, &a32, &a33, &a34, &a35, &a36, &a37, &a38, &a39);
        fma8(dy[e.y >> 2u], b0, b1, b2, b3, &a40, &a41, &a42, &a43, &a44, &a45, &a46, &a47);
        fma8(dy[e.z >> 2u], b0, b1, b2, b3, &a48, &a49, &a50, &a51, &a52, &a53, &a54, &a55);
        fma8(dy[e.w >> 2u], b0, b1, b2, b3, &a56, &a57, &a58, &a59, &a60, &a61, &a62, &a63);
    }
    let ob = split * p.cout * ksz;
    store(ob, m0, 0u, n0, a0); store(ob, m0, 1u, n0, a1); store(ob, m0, 2u, n0, a2); store(ob, m0, 3u, n0, a3);
    store(ob, m0, 4u, n0, a4); store(ob, m0, 5u, n0, a5); store(ob, m0, 6u, n0, a6); store(ob, m0, 7u, n0, a7);
    store(ob, m0, 8u, n0, a8); store(ob, m0, 9u, n0, a9); store(ob, m0, 10u, n0, a10); store(ob, m0, 11u, n0, a11);
    store(ob, m0, 12u, n0, a12); store(ob, m0, 13u, n0, a13); store(ob, m0, 14u, n0, a14); store(ob, m0, 15u, n0, a15);
    store(ob, m0, 16u, n0, a16); store(ob, m0, 17u, n0, a17); store(ob, m0, 18u, n0, a18); store(ob, m0, 19u, n0, a19);
    store(ob, m0, 20u, n0, a20); store(ob, m0, 21u, n0, a21); store(ob, m0, 22u, n0, a22); store(ob, m0, 23u, n0, a23);
    store(ob, m0, 24u, n0, a24); store(ob, m0, 25u, n0, a25); store(ob, m0, 26u, n0, a26); store(ob, m0, 27u, n0, a27);
    store(ob, m0, 28u, n0, a28); store(ob, m0, 29u, n0, a29); store(ob, m0, 30u, n0, a30); store(ob, m0, 31u, n0, a31);
    store(ob, m0, 32u, n0, a32); store(ob, m0, 33u, n0, a33); store(ob, m0, 34u, n0, a34); store(ob, m0, 35u, n0, a35);
    store(ob, m0, 36u, n0, a36); store(ob, m0, 37u, n0, a37); store(ob, m0, 38u, n0, a38); store(ob, m0, 39u, n0, a39);
    store(ob, m0, 40u, n0, a40); store(ob, m0, 41u, n0, a41); store(ob, m0, 42u, n0, a42); store(ob, m0, 43u, n0, a43);
    store(ob, m0, 44u, n0, a44); store(ob, m0, 45u, n0, a45); store(ob, m0, 46u, n0, a46); store(ob, m0, 47u, n0, a47);
    store(ob, m0, 48u, n0, a48); store(ob, m0, 49u, n0, a49); store(ob, m0, 50u, n0, a50); store(ob, m0, 51u, n0, a51);
    store(ob, m0, 52u, n0, a52); store(ob, m0, 53u, n0, a53); store(ob, m0, 54u, n0, a54); store(ob, m0, 55u, n0, a55);
    store(ob, m0, 56u, n0, a56); store(ob, m0, 57u, n0, a57); store(ob, m0, 58u, n0, a58); store(ob, m0, 59u, n0, a59);
    store(ob, m0, 60u, n0, a60); store(ob, m0, 61u, n0, a61); store(ob, m0, 62u, n0, a62); store(ob, m0, 63u, n0, a63);
}
