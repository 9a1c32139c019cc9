// Shared by the 8-lane subgroup kernels (matmul_subgroup.wgsl, conv_subgroup.wgsl): the rows of
// a 32-row tile are spread over the lanes (lane s holds rows 8q + s of operand A, 4 contraction
// values as a vec4), the columns are the lane's own 4 (vec4s b0..b3, one per contraction value).
// fma8 broadcasts lane s's A values to every lane and adds the 8 rows' products:
// c_s += Σ_j av_s[j]·b_j. The accumulators are separate variables, not an array: llvmpipe keeps
// an indexed array in per-lane scratch memory, where every access costs like a load.
fn fma8(av: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>,
        c0: ptr<function, vec4<f32>>, c1: ptr<function, vec4<f32>>,
        c2: ptr<function, vec4<f32>>, c3: ptr<function, vec4<f32>>,
        c4: ptr<function, vec4<f32>>, c5: ptr<function, vec4<f32>>,
        c6: ptr<function, vec4<f32>>, c7: ptr<function, vec4<f32>>) {
    var x: vec4<f32>;
    x = subgroupBroadcast(av, 0u); *c0 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 1u); *c1 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 2u); *c2 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 3u); *c3 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 4u); *c4 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 5u); *c5 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 6u); *c6 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
    x = subgroupBroadcast(av, 7u); *c7 += x.x * b0 + x.y * b1 + x.z * b2 + x.w * b3;
}
