// requires: _udiv.wgsl
// Strided copy: the one kernel behind permute, narrow, concat, pad/crop and patchify. For every
// coordinate c of an iteration shape (rank <= 6), y[dst_off + c·dst_strides] = x[src_off + c·src_strides].
// One element per invocation; distinct coordinates map to distinct destinations (callers pass
// injective destination strides), so no two invocations write the same element.
// `strided_copy_rows` does the same with one invocation per run of the last axis (the iteration
// shape's last size and strides are words [3 + rank], [11 + rank], [19 + rank]): the coordinate
// arithmetic happens once per run, not once per element. There `n` counts runs, and the
// shape's last size is the run's length. Coordinates are split off with `udiv` (multiply and
// shift: `%` and `/` by a runtime size would run one lane at a time on CPU adapters).
// Word layout: [0] n, [1] rank, [2] src_off, [3] dst_off, [4..10) shape, [12..18) src strides,
// [20..26) dst strides, [28..34) each axis's magic multiplier, [36..42) its packed shifts
// (src/ops/divisor.rs).

struct Params { w: array<vec4<u32>, 11> }
@group(0) @binding(0) var<uniform> p: Params;
fn P(i: u32) -> u32 { return p.w[i >> 2u][i & 3u]; }

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn strided_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
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
    y[d] = x[s];
}

@compute @workgroup_size(64)
fn strided_copy_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= P(0u)) { return; }
    let rank = P(1u);
    var rem = i;
    var s = P(2u);
    var d = P(3u);
    // Every axis but the last, innermost first.
    for (var k = rank - 1u; k > 0u; k = k - 1u) {
        let q = udiv(rem, P(27u + k), P(35u + k));
        let c = rem - q * P(3u + k);
        rem = q;
        s = s + c * P(11u + k);
        d = d + c * P(19u + k);
    }
    let len = P(3u + rank);
    let ss = P(11u + rank);
    let ds = P(19u + rank);
    for (var j = 0u; j < len; j = j + 1u) {
        y[d] = x[s];
        s = s + ss;
        d = d + ds;
    }
}
