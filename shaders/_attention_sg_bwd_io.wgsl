// The subgroup attention backwards' bindings and loads (attention_subgroup_bwd.wgsl,
// attention_subgroup16_bwd.wgsl), as attention_bwd.wgsl's attn_dq / attn_dkv: 1 q, 2 k, 3 v,
// 4 mask, 5 dout, 6 ld [rows, 2] = (lse, δ), 7 dq | dk, 8 dv.
struct Params { rows: u32, heads: u32, tq: u32, tk: u32, dh: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> ld: array<f32>;
@group(0) @binding(7) var<storage, read_write> g7: array<f32>;
@group(0) @binding(8) var<storage, read_write> g8: array<f32>;

fn mask_at(bh: u32, j: u32) -> f32 {
    if (HAS_MASK) { return mask[(bh / p.heads) * p.tk + j]; }
    return 0.0;
}
fn q4(o: u32) -> vec4<f32> { return vec4<f32>(q[o], q[o + 1u], q[o + 2u], q[o + 3u]); }
fn k4(o: u32) -> vec4<f32> { return vec4<f32>(k[o], k[o + 1u], k[o + 2u], k[o + 3u]); }
fn v4(o: u32) -> vec4<f32> { return vec4<f32>(v[o], v[o + 1u], v[o + 2u], v[o + 3u]); }
fn do4(o: u32) -> vec4<f32> { return vec4<f32>(dout[o], dout[o + 1u], dout[o + 2u], dout[o + 3u]); }
// (Two functions, not one with a switch: the dQ kernels bind no g8, and an entry point's layout
// lists every binding it references.)
fn put7(o: u32, y: vec4<f32>) { g7[o] = y.x; g7[o + 1u] = y.y; g7[o + 2u] = y.z; g7[o + 3u] = y.w; }
fn put8(o: u32, y: vec4<f32>) { g8[o] = y.x; g8[o + 1u] = y.y; g8[o + 2u] = y.z; g8[o + 3u] = y.w; }
