// 2x upsampling of the last two axes, (planes, h, w) -> (planes, 2h, 2w), and the backward
// passes. Backward kernels are gathers: each input element sums the output gradients that it
// contributed to, so no two invocations write the same element and no atomics are needed.
//
// Bilinear follows PyTorch's nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False):
// per axis, src = max(0, (dst + 0.5) / 2 - 0.5); i0 = floor(src); i1 = min(i0 + 1, n - 1);
// weights (1 - (src - i0), src - i0). With ALIGN (align_corners=True, as the FastSHAP UNet):
// src = dst * (n - 1) / (2n - 1). Nearest: src = floor(dst / 2).

override ALIGN: bool = false;

struct Params { planes: u32, h: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// The two taps of output index dst along an axis of n inputs: (i0, l1), the lower input and
// the weight of the upper one (the lower gets 1 - l1).
//
// The fraction l1 is computed exactly in integers, never as src - floor(src) of an f32 src:
// with ALIGN, src = dst·(n−1)/(2n−1) rounded to f32 carries an absolute error of up to half an
// ulp of src (1.9e-6 near 32), which the subtraction keeps while removing the integer part, so
// every weight was off by ~1e-6 absolute, not relative. A gradient that cancels to ~1% of the
// largest (the test's floor for cancelled sums) then erred by ~1e-4 relative (the flaky seed
// 1796187976043609941: 1.06e-4). From the remainder, l1 = r/(2n−1) is one correctly rounded
// division: relative error 6e-8. Without ALIGN, src = (2·dst − 1)/4 is a quarter, exact in f32.
fn taps(dst: u32, n: u32) -> vec2<f32> {
    if (ALIGN) {
        if (n == 1u) { return vec2<f32>(0.0, 0.0); }
        let num = dst * (n - 1u);
        let den = 2u * n - 1u;
        return vec2<f32>(f32(num / den), f32(num % den) / f32(den));
    }
    let s = max(0.0, (f32(dst) + 0.5) * 0.5 - 0.5);
    let i0 = floor(s);
    return vec2<f32>(i0, s - i0);
}

// Output indices along one axis that can read input i: 2i-1 ..= 2i+2 without ALIGN; with it the
// inverse map stretches by (2n-1)/(n-1), so scan that (weight() is 0 outside the true window).
fn window(i: u32, n: u32) -> vec2<u32> {
    if (ALIGN) {
        let r = f32(2u * n - 1u) / f32(max(n, 2u) - 1u);
        let lo = u32(max(0.0, floor((f32(i) - 1.0) * r)));
        let hi = min(2u * n - 1u, u32(ceil((f32(i) + 1.0) * r)));
        return vec2<u32>(lo, hi);
    }
    return vec2<u32>(max(2u * i, 1u) - 1u, min(2u * i + 2u, 2u * n - 1u));
}

// Weight of input index i (of n) in output index dst along one axis.
fn weight(dst: u32, i: u32, n: u32) -> f32 {
    let t = taps(dst, n);
    let i0 = u32(t.x);
    let i1 = min(i0 + 1u, n - 1u);
    let l1 = t.y;
    // At the far edge i0 == i1 and both weights land on the same input.
    return select(0.0, 1.0 - l1, i0 == i) + select(0.0, l1, i1 == i);
}

@compute @workgroup_size(256)
fn nearest_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let ow = 2u * p.w;
    let per = 4u * p.h * p.w;
    if (i >= p.planes * per) { return; }
    let pl = i / per;
    let r = i % per;
    let oy = r / ow;
    let ox = r % ow;
    y[i] = x[(pl * p.h + oy / 2u) * p.w + ox / 2u];
}

// x: output gradient (planes, 2h, 2w); y: input gradient (planes, h, w).
@compute @workgroup_size(256)
fn nearest_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.planes * p.h * p.w) { return; }
    let pl = i / (p.h * p.w);
    let r = i % (p.h * p.w);
    let iy = r / p.w;
    let ix = r % p.w;
    let ow = 2u * p.w;
    let b = (pl * 2u * p.h + 2u * iy) * ow + 2u * ix;
    y[i] = x[b] + x[b + 1u] + x[b + ow] + x[b + ow + 1u];
}

@compute @workgroup_size(256)
fn bilinear_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let ow = 2u * p.w;
    let per = 4u * p.h * p.w;
    if (i >= p.planes * per) { return; }
    let pl = i / per;
    let r = i % per;
    let ty = taps(r / ow, p.h);
    let tx = taps(r % ow, p.w);
    let y0 = u32(ty.x);
    let x0 = u32(tx.x);
    let y1 = min(y0 + 1u, p.h - 1u);
    let x1 = min(x0 + 1u, p.w - 1u);
    let ly = ty.y;
    let lx = tx.y;
    let b = pl * p.h * p.w;
    let top = (1.0 - lx) * x[b + y0 * p.w + x0] + lx * x[b + y0 * p.w + x1];
    let bot = (1.0 - lx) * x[b + y1 * p.w + x0] + lx * x[b + y1 * p.w + x1];
    y[i] = (1.0 - ly) * top + ly * bot;
}

// x: output gradient (planes, 2h, 2w); y: input gradient (planes, h, w). Each axis scans only
// the outputs that can read input i (see window).
@compute @workgroup_size(256)
fn bilinear_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.planes * p.h * p.w) { return; }
    let pl = i / (p.h * p.w);
    let r = i % (p.h * p.w);
    let iy = r / p.w;
    let ix = r % p.w;
    let ow = 2u * p.w;
    let b = pl * 4u * p.h * p.w;
    let wy = window(iy, p.h);
    let wx = window(ix, p.w);
    let dy0 = wy.x;
    let dy1 = wy.y;
    let dx0 = wx.x;
    let dx1 = wx.y;
    var acc = 0.0;
    for (var dy = dy0; dy <= dy1; dy = dy + 1u) {
        let wy = weight(dy, iy, p.h);
        if (wy == 0.0) { continue; }
        for (var dx = dx0; dx <= dx1; dx = dx + 1u) {
            acc = acc + wy * weight(dx, ix, p.w) * x[b + dy * ow + dx];
        }
    }
    y[i] = acc;
}
