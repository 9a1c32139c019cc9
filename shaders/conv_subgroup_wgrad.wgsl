// requires: _fma8.wgsl
// Weight gradient of conv2d for CPU adapters with 8-lane subgroups (conventions as
// conv_bwd.wgsl::conv_bwd_weight): dW[co, k] = Σ_pixels dy[pixel, co] · X[pixel's patch, k],
// k = (ci, ky, kx), summed over one chunk of pixels per split into partial[split, co·K + k]
// (the Rust side sums the splits). One workgroup = one subgroup = 32 output channels × 32
// patch columns; lane l owns columns n0+4l..+4 and loads dy for channels l, l+8, l+16, l+24,
// which fma8 (_fma8.wgsl) broadcasts to all lanes: per 4 pixels 16 + 16 loads feed 512 FMAs.

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
    chunk: u32, nsplit: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (dy, x, partial dw [nsplit, Cout·Cin·kh·kw])
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// dy at pixel `m` (all lanes share it) for the lane's 4 channels `co`; 0 past the chunk.
fn dyrow(m: u32, valid: bool, co: vec4<u32>) -> vec4<f32> {
    let plane = p.ho * p.wo;
    let mm = select(0u, m, valid);
    let bb = mm / plane;
    let pix = mm % plane;
    let base = bb * p.cout * plane + pix;
    return select(vec4<f32>(0.0),
                  vec4<f32>(dy[base + co.x * plane], dy[base + co.y * plane],
                            dy[base + co.z * plane], dy[base + co.w * plane]), valid);
}

// X at the patch of pixel `m` for the lane's 4 columns (ci, ky, kx); 0 in the padding.
fn xrow(m: u32, valid: bool, ci: vec4<u32>, ky: vec4<u32>, kx: vec4<u32>) -> vec4<f32> {
    let plane = p.ho * p.wo;
    let mm = select(0u, m, valid);
    let bb = mm / plane;
    let pix = mm % plane;
    let oy = pix / p.wo;
    let ox = pix % p.wo;
    let iy = vec4<i32>(vec4<u32>(oy * p.stride) + ky) - i32(p.pad);
    let ix = vec4<i32>(vec4<u32>(ox * p.stride) + kx) - i32(p.pad);
    let ok = vec4<bool>(valid) & (iy >= vec4<i32>(0)) & (iy < vec4<i32>(i32(p.h)))
        & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(i32(p.w)));
    let base = vec4<i32>((bb * p.cin + ci) * p.h * p.w);
    let i = vec4<u32>(select(vec4<i32>(0), base + iy * i32(p.w) + ix, ok));
    return select(vec4<f32>(0.0), vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]), ok);
}

// Row r of the tile (channel m0 + r), the lane's columns n0..n0+4, where they exist.
fn store(obase: u32, m0: u32, r: u32, n0: u32, v: vec4<f32>) {
    let ksz = p.cin * p.kh * p.kw;
    let co = m0 + r;
    if (co >= p.cout || n0 >= ksz) { return; }
    for (var j = 0u; j < 4u; j++) {
        if (n0 + j < ksz) { out[obase + co * ksz + n0 + j] = v[j]; }
    }
}

@compute @workgroup_size(8)
fn conv_wgrad_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32) {
    let tile = wg.x + wg.y * nwg.x;
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;
    let tiles_m = (p.cout + 31u) / 32u;
    let tiles = tiles_m * ((ksz + 31u) / 32u);
    if (tile >= tiles * p.nsplit) { return; } // whole workgroup: uniform
    let split = tile / tiles;
    let t = tile % tiles;
    let m0 = (t % tiles_m) * 32u;
    let n0 = (t / tiles_m) * 32u + lane * 4u;
    let n = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(ksz - 1u));
    let ci = n / kk;
    let ky = (n % kk) / p.kw;
    let kx = n % p.kw;
    // This lane's A rows: channels m0 + lane + 8q (clamped).
    let co = min(vec4<u32>(m0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), vec4<u32>(p.cout - 1u));
    let m_total = p.b * p.ho * p.wo;
    let start = split * p.chunk;
    let end = min(start + p.chunk, m_total);
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
    var a8 = vec4<f32>(0.0); var a9 = vec4<f32>(0.0); var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0);
    var a12 = vec4<f32>(0.0); var a13 = vec4<f32>(0.0); var a14 = vec4<f32>(0.0); var a15 = vec4<f32>(0.0);
    var a16 = vec4<f32>(0.0); var a17 = vec4<f32>(0.0); var a18 = vec4<f32>(0.0); var a19 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0); var a23 = vec4<f32>(0.0);
    var a24 = vec4<f32>(0.0); var a25 = vec4<f32>(0.0); var a26 = vec4<f32>(0.0); var a27 = vec4<f32>(0.0);
    var a28 = vec4<f32>(0.0); var a29 = vec4<f32>(0.0); var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0);
    for (var m = start; m < end; m += 4u) {
        let v1 = m + 1u < end;
        let v2 = m + 2u < end;
        let v3 = m + 3u < end;
        // dy of 4 pixels for the lane's channels, as rows of A: d_q[j] = dy[pixel m+j, co_q].
        let p0 = dyrow(m, true, co);
        let p1 = dyrow(m + 1u, v1, co);
        let p2 = dyrow(m + 2u, v2, co);
        let p3 = dyrow(m + 3u, v3, co);
        let b0 = xrow(m, true, ci, ky, kx);
        let b1 = xrow(m + 1u, v1, ci, ky, kx);
        let b2 = xrow(m + 2u, v2, ci, ky, kx);
        let b3 = xrow(m + 3u, v3, ci, ky, kx);
        fma8(vec4<f32>(p0.x, p1.x, p2.x, p3.x), b0, b1, b2, b3, &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
        fma8(vec4<f32>(p0.y, p1.y, p2.y, p3.y), b0, b1, b2, b3, &a8, &a9, &a10, &a11, &a12, &a13, &a14, &a15);
        fma8(vec4<f32>(p0.z, p1.z, p2.z, p3.z), b0, b1, b2, b3, &a16, &a17, &a18, &a19, &a20, &a21, &a22, &a23);
        fma8(vec4<f32>(p0.w, p1.w, p2.w, p3.w), b0, b1, b2, b3, &a24, &a25, &a26, &a27, &a28, &a29, &a30, &a31);
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
}
