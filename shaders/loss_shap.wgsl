// FastSHAP's masked sums: out[r, k] = Σ_p S[r, p] · φ[r / M, p, k] for masks S [B·M, P] and
// attributions φ [B, P, K] (a batched (M×P)·(P×K) product, too small per image for a tiled
// matmul), and its adjoint w.r.t. φ: dφ[b, p, k] = Σ_m S[b·M + m, p] · g[b·M + m, k].
// One output element per invocation, no barriers (cheap on lavapipe as on GPUs).

struct Params { n: u32, m: u32, p: u32, k: u32 }
@group(0) @binding(0) var<uniform> prm: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn masked_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= prm.n) { return; }
    let r = i / prm.k;
    let k = i % prm.k;
    let phi0 = (r / prm.m) * prm.p * prm.k + k;
    var acc = 0.0;
    for (var q = 0u; q < prm.p; q = q + 1u) {
        acc = acc + s[r * prm.p + q] * src[phi0 + q * prm.k];
    }
    dst[i] = acc;
}

@compute @workgroup_size(256)
fn masked_sum_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= prm.n) { return; }
    let k = i % prm.k;
    let q = (i / prm.k) % prm.p;
    let b = i / (prm.k * prm.p);
    var acc = 0.0;
    for (var j = 0u; j < prm.m; j = j + 1u) {
        let r = b * prm.m + j;
        acc = acc + s[r * prm.p + q] * src[r * prm.k + k];
    }
    dst[i] = acc;
}
