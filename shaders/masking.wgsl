// FastSHAP player masking. images (b, c, h, w); mask (b·m, players) with players row-major over
// the (h/s, w/s) superpixel grid; output (b·m, c+1, h, w): image row/m times the mask value of
// the pixel's superpixel, then the mask itself upsampled to pixels as the last channel.
// The mask is multiplied in (0/1 masks zero the hidden pixels; fractional masks scale them).

// The shape as pipeline constants: the index arithmetic below divides by them, and divisions by
// a runtime value run one lane at a time on CPU adapters (no vector integer division), which
// kept this kernel at ~0.2 GB/s; by constants the compiler turns them into shifts and
// multiplies. One pipeline per (M, C, H, W, s): a handful per run.
override M: u32 = 1u;
override C: u32 = 3u;
override H: u32 = 32u;
override W: u32 = 32u;
override S: u32 = 4u;
override HW: u32 = H * W;
override GW: u32 = W / S;
override PLAYERS: u32 = (H / S) * (W / S);

// Only the row count varies per call; the shape is in the constants above.
struct Params { rows: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn mask_at(row: u32, py: u32, px: u32) -> f32 {
    return mask[row * PLAYERS + (py / S) * GW + px / S];
}

// One invocation per output element.
@compute @workgroup_size(256)
fn mask_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.rows * (C + 1u) * HW) { return; }
    let row = i / ((C + 1u) * HW);
    let r = i % ((C + 1u) * HW);
    let ch = r / HW;
    let pix = r % HW;
    let m = mask_at(row, pix / W, pix % W);
    if (ch == C) {
        y[i] = m;
    } else {
        y[i] = m * x[((row / M) * C + ch) * HW + pix];
    }
}

// x: output gradient (b·m, c+1, h, w); y: image gradient (b, c, h, w). Each image element sums
// over its m masked copies (no atomics; the mask channel carries no image gradient).
@compute @workgroup_size(256)
fn mask_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let nb = p.rows / M;
    if (i >= nb * C * HW) { return; }
    let b = i / (C * HW);
    let r = i % (C * HW);
    let ch = r / HW;
    let pix = r % HW;
    let py = pix / W;
    let px = pix % W;
    var acc = 0.0;
    for (var k = 0u; k < M; k = k + 1u) {
        let row = b * M + k;
        acc = acc + mask_at(row, py, px) * x[(row * (C + 1u) + ch) * HW + pix];
    }
    y[i] = acc;
}
