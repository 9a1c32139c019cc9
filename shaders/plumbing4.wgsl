// requires: _udiv.wgsl
// plumbing.wgsl's strided_copy_rows on vec4s, for copies whose runs are contiguous on both
// sides and whose every length, stride and offset is divisible by 4 (the host checks and
// passes them in vec4 units): patchify's 4-pixel rows, concat's blocks. One vec4 load and store
// per four elements instead of four scalar ones (loads are the expensive part on CPU adapters).
// Word layout as plumbing.wgsl's, in vec4s.

struct Params { w: array<vec4<u32>, 11> }
@group(0) @binding(0) var<uniform> p: Params;
fn P(i: u32) -> u32 { return p.w[i >> 2u][i & 3u]; }

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn strided_copy_rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= P(0u)) { return; }
    let rank = P(1u);
    var rem = i;
    var s = P(2u);
    var d = P(3u);
    for (var k = rank - 1u; k > 0u; k = k - 1u) {
        let q = udiv(rem, P(27u + k), P(35u + k));
        let c = rem - q * P(3u + k);
        rem = q;
        s = s + c * P(11u + k);
        d = d + c * P(19u + k);
    }
    let len = P(3u + rank);
    for (var j = 0u; j < len; j = j + 1u) {
        y[d + j] = x[s + j];
    }
}

// A copy that transposes 4 × 4 tiles: one axis of 4 runs along the source (stride 1 there) and
// another axis of 4 along the destination (patchify's pixels against its channels of an image
// and its mask). Each invocation reads the tile as four vec4s of the source and writes it as
// four vec4s of the destination. Words: [0] tiles, [1] rank of the other axes, [2], [3] the
// offsets, [4..) their shapes and strides as above, all in vec4s; [10] the source stride of the
// destination-contiguous axis, [11] the destination stride of the source-contiguous one.
@compute @workgroup_size(64)
fn strided_copy_t4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= P(0u)) { return; }
    var rem = i;
    var s = P(2u);
    var d = P(3u);
    for (var k = P(1u); k > 0u; k = k - 1u) {
        let q = udiv(rem, P(27u + k), P(35u + k));
        let c = rem - q * P(3u + k);
        rem = q;
        s = s + c * P(11u + k);
        d = d + c * P(19u + k);
    }
    let sj = P(10u);
    let di = P(11u);
    let r0 = x[s];
    let r1 = x[s + sj];
    let r2 = x[s + 2u * sj];
    let r3 = x[s + 3u * sj];
    y[d] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
    y[d + di] = vec4<f32>(r0.y, r1.y, r2.y, r3.y);
    y[d + 2u * di] = vec4<f32>(r0.z, r1.z, r2.z, r3.z);
    y[d + 3u * di] = vec4<f32>(r0.w, r1.w, r2.w, r3.w);
}
