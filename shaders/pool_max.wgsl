// 2-D max pooling with −inf padding (PyTorch's `max_pool2d`). The forward also writes the argmax
// (flat index y·W + x inside the input plane, as f32: exact below 2^24) that the backward routes
// the gradient to. The backward gathers per input element over the windows that contain it and
// adds the gradient of each window whose argmax is this element: one writer per element.

struct Params {
    planes: u32, h: u32, w: u32, ho: u32,
    wo: u32, k: u32, stride: u32, pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
// max_fwd: (x, y, argmax).  max_bwd: (dy, argmax, dx).
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg_out: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn max_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.planes * p.ho * p.wo) { return; }
    let ox = i % p.wo;
    let oy = (i / p.wo) % p.ho;
    let base = (i / (p.wo * p.ho)) * p.h * p.w;
    let y0 = i32(oy * p.stride) - i32(p.pad);
    let x0 = i32(ox * p.stride) - i32(p.pad);
    // pad <= k/2 (checked on the host), so every window holds at least one real element.
    var best = -0x1.fffffep+127f;
    var arg = 0xffffffffu;
    for (var y = max(y0, 0); y < min(y0 + i32(p.k), i32(p.h)); y = y + 1) {
        for (var x = max(x0, 0); x < min(x0 + i32(p.k), i32(p.w)); x = x + 1) {
            let j = u32(y) * p.w + u32(x);
            let v = src[base + j];
            // First maximum wins ties; a NaN propagates (as PyTorch).
            if (arg == 0xffffffffu || v > best || v != v) {
                best = v;
                arg = j;
                if (v != v) { break; }
            }
        }
        if (best != best) { break; }
    }
    y_out[i] = best;
    arg_out[i] = f32(arg);
}

@group(0) @binding(2) var<storage, read> arg_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn max_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.planes * p.h * p.w) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let j = f32(iy * p.w + ix);
    let base = (i / (p.w * p.h)) * p.ho * p.wo;
    let s = i32(p.stride);
    let ty = i32(iy + p.pad) - i32(p.k) + 1;
    let tx = i32(ix + p.pad) - i32(p.k) + 1;
    let oy0 = select(0, (ty + s - 1) / s, ty > 0);
    let ox0 = select(0, (tx + s - 1) / s, tx > 0);
    let oy1 = min(i32(p.ho) - 1, i32(iy + p.pad) / s);
    let ox1 = min(i32(p.wo) - 1, i32(ix + p.pad) / s);
    var acc = 0.0;
    for (var oy = oy0; oy <= oy1; oy = oy + 1) {
        for (var ox = ox0; ox <= ox1; ox = ox + 1) {
            let o = base + u32(oy) * p.wo + u32(ox);
            if (arg_in[o] == j) { acc = acc + src[o]; }
        }
    }
    dx[i] = acc;
}
