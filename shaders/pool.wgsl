// 2-D average pooling (fixed window, count_include_pad = True) and adaptive average pooling
// (PyTorch's start/end windows), forward and backward, over NCHW planes. One invocation per
// output element; the backward gathers per input element over the windows that contain it, so
// every element has exactly one writer and no atomics or barriers are needed.

struct Params {
    planes: u32, h: u32, w: u32, ho: u32,
    wo: u32, k: u32, stride: u32, pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG: u32 = 64u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Range of output positions whose window [o·s − pad, o·s − pad + k) contains input position i.
fn covering(i: u32, n_out: u32) -> vec2<i32> {
    let t = i32(i + p.pad) - i32(p.k) + 1;
    let s = i32(p.stride);
    let lo = select(0, (t + s - 1) / s, t > 0);
    let hi = min(i32(n_out) - 1, i32(i + p.pad) / s);
    return vec2<i32>(lo, hi);
}

@compute @workgroup_size(WG)
fn avg_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.planes * p.ho * p.wo) { return; }
    let ox = i % p.wo;
    let oy = (i / p.wo) % p.ho;
    let base = (i / (p.wo * p.ho)) * p.h * p.w;
    let y0 = i32(oy * p.stride) - i32(p.pad);
    let x0 = i32(ox * p.stride) - i32(p.pad);
    var acc = 0.0;
    for (var y = max(y0, 0); y < min(y0 + i32(p.k), i32(p.h)); y = y + 1) {
        for (var x = max(x0, 0); x < min(x0 + i32(p.k), i32(p.w)); x = x + 1) {
            acc = acc + src[base + u32(y) * p.w + u32(x)];
        }
    }
    // count_include_pad: padded zeros count, so the divisor is always k² (the window never
    // reaches past the padding because Ho = floor((H + 2p − k)/s) + 1).
    dst[i] = acc / f32(p.k * p.k);
}

@compute @workgroup_size(WG)
fn avg_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.planes * p.h * p.w) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let base = (i / (p.w * p.h)) * p.ho * p.wo;
    let ry = covering(iy, p.ho);
    let rx = covering(ix, p.wo);
    var acc = 0.0;
    for (var oy = ry.x; oy <= ry.y; oy = oy + 1) {
        for (var ox = rx.x; ox <= rx.y; ox = ox + 1) {
            acc = acc + src[base + u32(oy) * p.wo + u32(ox)];
        }
    }
    dst[i] = acc / f32(p.k * p.k);
}

// Adaptive windows: output o of n_out over n_in covers [floor(o·n_in/n_out), ceil((o+1)·n_in/n_out)).
fn astart(o: u32, n_in: u32, n_out: u32) -> u32 {
    return (o * n_in) / n_out;
}
fn aend(o: u32, n_in: u32, n_out: u32) -> u32 {
    return ((o + 1u) * n_in + n_out - 1u) / n_out;
}

@compute @workgroup_size(WG)
fn adaptive_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.planes * p.ho * p.wo) { return; }
    let ox = i % p.wo;
    let oy = (i / p.wo) % p.ho;
    let base = (i / (p.wo * p.ho)) * p.h * p.w;
    let y0 = astart(oy, p.h, p.ho);
    let y1 = aend(oy, p.h, p.ho);
    let x0 = astart(ox, p.w, p.wo);
    let x1 = aend(ox, p.w, p.wo);
    var acc = 0.0;
    for (var y = y0; y < y1; y = y + 1u) {
        for (var x = x0; x < x1; x = x + 1u) {
            acc = acc + src[base + y * p.w + x];
        }
    }
    dst[i] = acc / f32((y1 - y0) * (x1 - x0));
}

@compute @workgroup_size(WG)
fn adaptive_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.planes * p.h * p.w) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let base = (i / (p.w * p.h)) * p.ho * p.wo;
    // start(o) <= i  <=>  o <= ceil((i+1)·n_out/n_in) − 1;  end(o) > i  <=>  o >= floor(i·n_out/n_in).
    let oy0 = (iy * p.ho) / p.h;
    let oy1 = min(p.ho, ((iy + 1u) * p.ho + p.h - 1u) / p.h);
    let ox0 = (ix * p.wo) / p.w;
    let ox1 = min(p.wo, ((ix + 1u) * p.wo + p.w - 1u) / p.w);
    var acc = 0.0;
    for (var oy = oy0; oy < oy1; oy = oy + 1u) {
        let ny = aend(oy, p.h, p.ho) - astart(oy, p.h, p.ho);
        for (var ox = ox0; ox < ox1; ox = ox + 1u) {
            let nx = aend(ox, p.w, p.wo) - astart(ox, p.w, p.wo);
            acc = acc + src[base + oy * p.wo + ox] / f32(ny * nx);
        }
    }
    dst[i] = acc;
}
