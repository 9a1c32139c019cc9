// requires: _fma8.wgsl
// 2-D convolution for CPU adapters with 8-lane subgroups (conventions as conv.wgsl): the
// implicit GEMM Y[pixel, co] = Σ_{ci,ky,kx} X[pixel's patch] · W[co, ci, ky, kx] with the
// load-sharing scheme of matmul_subgroup.wgsl (why: ARCHITECTURE.md, "Facts about lavapipe").
// One workgroup = one subgroup = 32 pixels × 32 output channels; lane l owns channels
// n0+4l..+4 and loads the patch values of pixels l, l+8, l+16, l+24, which fma8 (_fma8.wgsl)
// broadcasts to all lanes. Per 4 input channels of a tap a lane loads 16 patch values and 16
// weights for 512 FMAs (conv.wgsl: 8 loads per 16 FMAs).
//
// TRANSPOSED: the input gradient dx of a convolution is a convolution of dy, dilated by the
// forward's stride s, with the weights flipped and their channel axes swapped and padding
// k − 1 − pad. The kernel reads the forward's weight tensor that way (no flipped copy) and the
// dilated dy in place: tap position y = oy − (kh − 1 − pad) + ky of dx row oy reads dy row y/s
// when y ≥ 0 and s divides it, else 0. Params then describe that convolution: cin/h/w are dy's
// channels and size, cout/ho/wo dx's, stride/pad the forward's. With s > 1 one launch covers one
// stride phase (phy, phx) of dx — rows phy, phy + s, ... (hq of them), columns likewise — where
// only every s-th tap lands on a dy row: the tap loops start at that phase's first valid tap and
// step by s, so no load is spent on the zeros between dy's rows. (The forward: phase 0, step 1,
// hq × wq = ho × wo.)

override TRANSPOSED: bool = false;
// RELU: the stored value is max(conv + bias, 0) (inference with BatchNorm folded into the
// weights and bias, `ops::conv::conv2d_bias_relu`): no separate pass over the output.
override RELU: bool = false;

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
    phy: u32, phx: u32, hq: u32, wq: u32,
}

// The output position of pixel index m (over [B, hq, wq]): (image, row, column).
fn pixel(m: vec4<u32>) -> array<vec4<u32>, 3> {
    let qx = m % p.wq;
    let t = m / p.wq;
    let qy = t % p.hq;
    var s = 1u;
    if (TRANSPOSED) { s = p.stride; }
    return array<vec4<u32>, 3>(t / p.hq, vec4<u32>(p.phy) + s * qy, vec4<u32>(p.phx) + s * qx);
}

@group(0) @binding(0) var<uniform> p: Params;
// (x, weight, bias (bound to any buffer when absent, see has_bias), y)
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// W[co, ci, ky, kx] of this convolution.
fn weight(co: u32, ci: u32, ky: u32, kx: u32) -> f32 {
    if (TRANSPOSED) {
        // The forward's weight is [cin_here, cout_here, kh, kw] = [Cout_fwd, Cin_fwd, kh, kw].
        return wt[((ci * p.cout + co) * p.kh + (p.kh - 1u - ky)) * p.kw + (p.kw - 1u - kx)];
    }
    return wt[((co * p.cin + ci) * p.kh + ky) * p.kw + kx];
}

// X at patch index `xi` (channel 0 of the tap, or 0 when `ok` is false) for channels
// ci0..ci0+4; channels past Cin read as 0 (from a valid index).
fn xcol(xi: u32, ok: bool, ci0: u32) -> vec4<f32> {
    let hw = p.h * p.w;
    let c1 = p.cin - 1u;
    var v: vec4<f32>;
    for (var j = 0u; j < 4u; j++) {
        let c = ci0 + j;
        v[j] = select(0.0, x[xi + min(c, c1) * hw], ok && c < p.cin);
    }
    return v;
}

// The lane's 4 output channels for input channel `ci` (clamped) of tap (ky, kx).
fn wrow(co: vec4<u32>, ci: u32, ky: u32, kx: u32) -> vec4<f32> {
    let c = min(ci, p.cin - 1u);
    return vec4<f32>(weight(co.x, c, ky, kx), weight(co.y, c, ky, kx),
                     weight(co.z, c, ky, kx), weight(co.w, c, ky, kx));
}

// Row r of the tile (pixel m0 + r), the lane's channels n0..n0+4, where they exist.
fn store(m0: u32, r: u32, n0: u32, v: vec4<f32>, bv: vec4<f32>) {
    let m = m0 + r;
    if (m >= p.b * p.hq * p.wq || n0 >= p.cout) { return; }
    // The scalar form of pixel(): integer division runs lane by lane, so not 4 of them here.
    let qx = m % p.wq;
    let t = m / p.wq;
    var st = 1u;
    if (TRANSPOSED) { st = p.stride; }
    let bb = t / p.hq;
    let oy = p.phy + st * (t % p.hq);
    let ox = p.phx + st * qx;
    let plane = p.ho * p.wo;
    for (var j = 0u; j < 4u; j++) {
        var y = v[j] + bv[j];
        if (RELU) { y = max(y, 0.0); }
        if (n0 + j < p.cout) { out[(bb * p.cout + n0 + j) * plane + oy * p.wo + ox] = y; }
    }
}

@compute @workgroup_size(8)
fn conv_fwd_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(subgroup_invocation_id) lane: u32) {
    let tile = wg.x + wg.y * nwg.x;
    let m_total = p.b * p.hq * p.wq;
    let tiles_m = (m_total + 31u) / 32u;
    if (tile >= tiles_m * ((p.cout + 31u) / 32u)) { return; } // whole workgroup: uniform
    // Pixel tiles vary fastest: neighbouring workgroups read the same weights.
    let m0 = (tile % tiles_m) * 32u;
    let n0 = (tile / tiles_m) * 32u + lane * 4u;
    let co = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.cout - 1u));
    // This lane's A rows: pixels m0 + lane + 8q (clamped).
    let m = min(vec4<u32>(m0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), vec4<u32>(m_total - 1u));
    let px = pixel(m);
    let bb = px[0];
    let oy = px[1];
    let ox = px[2];
    var iy0 = vec4<i32>(oy * p.stride) - i32(p.pad);
    var ix0 = vec4<i32>(ox * p.stride) - i32(p.pad);
    if (TRANSPOSED) {
        iy0 = vec4<i32>(oy) - i32(p.kh - 1u - p.pad);
        ix0 = vec4<i32>(ox) - i32(p.kw - 1u - p.pad);
    }
    let xbase = vec4<i32>(bb * p.cin * p.h * p.w);
    let H = i32(p.h);
    let W = i32(p.w);
    let S = vec4<i32>(i32(p.stride));
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
    var a8 = vec4<f32>(0.0); var a9 = vec4<f32>(0.0); var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0);
    var a12 = vec4<f32>(0.0); var a13 = vec4<f32>(0.0); var a14 = vec4<f32>(0.0); var a15 = vec4<f32>(0.0);
    var a16 = vec4<f32>(0.0); var a17 = vec4<f32>(0.0); var a18 = vec4<f32>(0.0); var a19 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0); var a23 = vec4<f32>(0.0);
    var a24 = vec4<f32>(0.0); var a25 = vec4<f32>(0.0); var a26 = vec4<f32>(0.0); var a27 = vec4<f32>(0.0);
    var a28 = vec4<f32>(0.0); var a29 = vec4<f32>(0.0); var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0);
    // Taps: all (forward), or this phase's every s-th from the first that lands on a dy row
    // (transposed: ky ≡ kh − 1 − pad − phy (mod s)).
    var ky0 = 0u;
    var kx0 = 0u;
    var kstep = 1u;
    if (TRANSPOSED) {
        kstep = p.stride;
        ky0 = (p.kh - 1u - p.pad + p.stride * p.kh - p.phy) % p.stride;
        kx0 = (p.kw - 1u - p.pad + p.stride * p.kw - p.phx) % p.stride;
    }
    for (var ky = ky0; ky < p.kh; ky += kstep) {
        var iy = iy0 + i32(ky);
        var row_ok = iy >= vec4<i32>(0);
        if (TRANSPOSED) {
            // Only rows of the dilated dy that are multiples of s exist.
            let y = select(vec4<i32>(0), iy, row_ok);
            row_ok = row_ok & (y % S == vec4<i32>(0));
            iy = y / S;
        }
        row_ok = row_ok & (iy < vec4<i32>(H));
        for (var kx = kx0; kx < p.kw; kx += kstep) {
            var ix = ix0 + i32(kx);
            var col_ok = ix >= vec4<i32>(0);
            if (TRANSPOSED) {
                let x = select(vec4<i32>(0), ix, col_ok);
                col_ok = col_ok & (x % S == vec4<i32>(0));
                ix = x / S;
            }
            let ok = row_ok & col_ok & (ix < vec4<i32>(W));
            let xi = vec4<u32>(select(vec4<i32>(0), xbase + iy * W + ix, ok));
            for (var ci0 = 0u; ci0 < p.cin; ci0 += 4u) {
                let b0 = wrow(co, ci0, ky, kx);
                let b1 = wrow(co, ci0 + 1u, ky, kx);
                let b2 = wrow(co, ci0 + 2u, ky, kx);
                let b3 = wrow(co, ci0 + 3u, ky, kx);
                fma8(xcol(xi.x, ok.x, ci0), b0, b1, b2, b3, &a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7);
                fma8(xcol(xi.y, ok.y, ci0), b0, b1, b2, b3, &a8, &a9, &a10, &a11, &a12, &a13, &a14, &a15);
                fma8(xcol(xi.z, ok.z, ci0), b0, b1, b2, b3, &a16, &a17, &a18, &a19, &a20, &a21, &a22, &a23);
                fma8(xcol(xi.w, ok.w, ci0), b0, b1, b2, b3, &a24, &a25, &a26, &a27, &a28, &a29, &a30, &a31);
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
}
