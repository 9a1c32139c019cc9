// Gather along an axis and its adjoint, scatter-add. Tensors are viewed as (outer, n, inner);
// the index tensor holds f32-encoded integers, read at `o * idx_stride + k` (idx_stride 0: one
// index list shared by every outer slice, as index_select; idx_stride k: one list per slice, as
// the per-batch row gather of MAE).
//
// Indices outside [0, n) gather 0 and scatter nowhere (a GPU kernel cannot raise PyTorch's error;
// reading out of bounds would be worse). Scatter-add is atomic-free: each output element walks the
// whole index list and sums the entries that point at it, so repeated indices are exact and the
// result is deterministic, at O(k) work per output element (k is a token count here).

struct Params { outer: u32, n: u32, inner: u32, k: u32, idx_stride: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// y (outer, k, inner) = x (outer, n, inner) at the indices.
@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.outer * p.k * p.inner) { return; }
    let o = i / (p.k * p.inner);
    let r = i % (p.k * p.inner);
    let kk = r / p.inner;
    let ii = r % p.inner;
    let j = i32(idx[o * p.idx_stride + kk]);
    var v = 0.0;
    if (j >= 0 && u32(j) < p.n) { v = x[(o * p.n + u32(j)) * p.inner + ii]; }
    y[i] = v;
}

// y (outer, n, inner) = Σ over k with idx[k] == j of x (outer, k, inner).
@compute @workgroup_size(256)
fn scatter_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.outer * p.n * p.inner) { return; }
    let o = i / (p.n * p.inner);
    let r = i % (p.n * p.inner);
    let j = i32(r / p.inner);
    let ii = r % p.inner;
    var acc = 0.0;
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        if (i32(idx[o * p.idx_stride + kk]) == j) { acc = acc + x[(o * p.k + kk) * p.inner + ii]; }
    }
    y[i] = acc;
}
