// 2-D convolution (NCHW input, [Cout, Cin, kh, kw] weights, square stride and zero padding) as
// implicit GEMMs. Every invocation owns a 4×4 register block of its output and gathers its
// operands straight from global memory: no workgroup memory, no workgroupBarrier (lavapipe pays
// ~µs per barrier), and no two invocations ever write the same element.
//
//   conv_fwd:        y[b,co,oy,ox]  M = B·Ho·Wo pixels × N = Cout,  K = Cin·kh·kw
//   (the two backward GEMMs live in conv_bwd.wgsl)
//
// Out-of-range block members (past the last pixel or channel) compute on clamped indices and skip
// their writes, so the loops stay branch-free. Padding reads are masked: the index is replaced by
// 0 before the load so no read leaves the buffer.

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (x, weight, bias (bound to any buffer when absent, see has_bias), y)
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bmat: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn conv_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG;
    let m_total = p.b * p.ho * p.wo;
    let mblocks = (m_total + 3u) / 4u;
    let cblocks = (p.cout + 3u) / 4u;
    if (idx >= mblocks * cblocks) { return; }
    // Pixel blocks vary fastest: neighbouring invocations read the same weights.
    let m0 = (idx % mblocks) * 4u;
    let co0 = (idx / mblocks) * 4u;
    let hw = p.h * p.w;
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;

    let m = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(m_total - 1u));
    let ox = m % p.wo;
    let t = m / p.wo;
    let oy = t % p.ho;
    let bb = t / p.ho;
    let iy0 = vec4<i32>(oy * p.stride) - i32(p.pad);
    let ix0 = vec4<i32>(ox * p.stride) - i32(p.pad);
    let xbase = vec4<i32>(bb * p.cin * hw);
    let co = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.cout - 1u));
    let wbase = co * ksz;
    let H = i32(p.h);
    let W = i32(p.w);

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    // Taps outside, channels inside: the padding mask and gather offsets are computed once per
    // tap, and the channel loop only adds Cin-plane strides (a masked index stays 0 + ci·H·W,
    // inside the buffer, and its value is discarded by the select).
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let iy = iy0 + i32(ky);
        let row_ok = (iy >= vec4<i32>(0)) & (iy < vec4<i32>(H));
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let ix = ix0 + i32(kx);
            let ok = row_ok & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(W));
            var xi = vec4<u32>(select(vec4<i32>(0), xbase + iy * W + ix, ok));
            var wi = wbase + ky * p.kw + kx;
            for (var ci = 0u; ci < p.cin; ci = ci + 1u) {
                let xv = select(vec4<f32>(0.0), vec4<f32>(a[xi.x], a[xi.y], a[xi.z], a[xi.w]), ok);
                acc0 = acc0 + xv * bmat[wi.x];
                acc1 = acc1 + xv * bmat[wi.y];
                acc2 = acc2 + xv * bmat[wi.z];
                acc3 = acc3 + xv * bmat[wi.w];
                xi = xi + hw;
                wi = wi + kk;
            }
        }
    }

    var bv = vec4<f32>(0.0);
    if (p.has_bias != 0u) {
        bv = vec4<f32>(bias[co.x], bias[co.y], bias[co.z], bias[co.w]);
    }
    let plane = p.ho * p.wo;
    let obase = bb * p.cout * plane + oy * p.wo + ox;
    let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (co0 + c >= p.cout) { break; }
        let o = obase + (co0 + c) * plane;
        let v = accs[c] + bv[c];
        for (var j = 0u; j < 4u; j = j + 1u) {
            if (m0 + j < m_total) { out[o[j]] = v[j]; }
        }
    }
}
