// Batched transpose dst[b, c, r] = src[b, r, c] ([nb, R, C] → [nb, C, R]): the re-layouts the
// CPU subgroup convolution makes so that its operands have contiguous runs along the
// contraction (src/ops/conv/nhwc.rs): activations NCHW → NHWC ([B, C, H·W] → [B, H·W, C]),
// weights [Cout·Cin, kh·kw] → [kh·kw, Cout·Cin], and the weight gradient back. One invocation
// moves a 4×4 block, so its loads and stores are vec4s where the runs allow (lavapipe pays per
// load instruction as much as per float): vec4 loads when C % 4 == 0 (VIN), vec4 stores when
// R % 4 == 0 (VOUT), clamped scalar loads and guarded scalar stores otherwise.

override VIN: bool = false;
override VOUT: bool = false;

struct Params { nb: u32, r: u32, c: u32 }
@group(0) @binding(0) var<uniform> p: Params;
// Both bound as whole vec4s (pooled buffers are padded to 32 bytes).
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

// Row r (clamped) of batch `base`, columns c0..c0+4 (clamped; their values are not stored).
fn row(base: u32, r: u32, c0: u32) -> vec4<f32> {
    let o = base + min(r, p.r - 1u) * p.c;
    if (VIN) { return src[(o + c0) >> 2u]; }
    let c1 = p.c - 1u;
    let i = vec4<u32>(o) + min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(c1));
    return vec4<f32>(src[i.x >> 2u][i.x & 3u], src[i.y >> 2u][i.y & 3u],
                     src[i.z >> 2u][i.z & 3u], src[i.w >> 2u][i.w & 3u]);
}

// Column c of the block (rows r0..r0+4 of the output's row c), where it exists.
fn put(base: u32, c: u32, r0: u32, v: vec4<f32>) {
    if (c >= p.c) { return; }
    let o = base + c * p.r + r0;
    if (VOUT) {
        dst[o >> 2u] = v;
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let i = o + j;
        if (r0 + j < p.r) { dst[i >> 2u][i & 3u] = v[j]; }
    }
}

@compute @workgroup_size(64)
fn swap_last2(@builtin(global_invocation_id) gid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    let bc = (p.c + 3u) / 4u;
    let per = bc * ((p.r + 3u) / 4u);
    if (i >= p.nb * per) { return; }
    let t = i % per;
    let base = (i / per) * p.r * p.c;
    // Blocks along C vary fastest: neighbouring invocations read neighbouring runs of a row.
    let c0 = (t % bc) * 4u;
    let r0 = (t / bc) * 4u;
    let m = transpose(mat4x4<f32>(row(base, r0, c0), row(base, r0 + 1u, c0),
                                  row(base, r0 + 2u, c0), row(base, r0 + 3u, c0)));
    put(base, c0, r0, m[0]);
    put(base, c0 + 1u, r0, m[1]);
    put(base, c0 + 2u, r0, m[2]);
    put(base, c0 + 3u, r0, m[3]);
}
