// FastSHAP player masking. images (b, c, h, w); mask (b·m, players) with players row-major over
// the (h/s, w/s) superpixel grid; output (b·m, c+1, h, w): image row/m times the mask value of
// the pixel's superpixel, then the mask itself upsampled to pixels as the last channel.
// The mask is multiplied in (0/1 masks zero the hidden pixels; fractional masks scale them).

struct Params { rows: u32, m: u32, c: u32, h: u32, w: u32, s: u32, gw: u32, players: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn mask_at(row: u32, py: u32, px: u32) -> f32 {
    return mask[row * p.players + (py / p.s) * p.gw + px / p.s];
}

// One invocation per output element.
@compute @workgroup_size(256)
fn mask_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let hw = p.h * p.w;
    if (i >= p.rows * (p.c + 1u) * hw) { return; }
    let row = i / ((p.c + 1u) * hw);
    let r = i % ((p.c + 1u) * hw);
    let ch = r / hw;
    let pix = r % hw;
    let m = mask_at(row, pix / p.w, pix % p.w);
    if (ch == p.c) {
        y[i] = m;
    } else {
        y[i] = m * x[((row / p.m) * p.c + ch) * hw + pix];
    }
}

// x: output gradient (b·m, c+1, h, w); y: image gradient (b, c, h, w). Each image element sums
// over its m masked copies (no atomics; the mask channel carries no image gradient).
@compute @workgroup_size(256)
fn mask_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let hw = p.h * p.w;
    let nb = p.rows / p.m;
    if (i >= nb * p.c * hw) { return; }
    let b = i / (p.c * hw);
    let r = i % (p.c * hw);
    let ch = r / hw;
    let pix = r % hw;
    let py = pix / p.w;
    let px = pix % p.w;
    var acc = 0.0;
    for (var k = 0u; k < p.m; k = k + 1u) {
        let row = b * p.m + k;
        acc = acc + mask_at(row, py, px) * x[(row * (p.c + 1u) + ch) * hw + pix];
    }
    y[i] = acc;
}
