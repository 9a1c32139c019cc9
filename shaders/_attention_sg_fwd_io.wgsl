// The subgroup attention forwards' bindings and loads (attention_subgroup.wgsl,
// attention_subgroup16.wgsl): the per-row forward's (attention_fwd.wgsl) bindings.
struct Params { rows: u32, heads: u32, tq: u32, tk: u32, dh: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;  // any buffer when !HAS_MASK
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

fn q4(o: u32) -> vec4<f32> { return vec4<f32>(q[o], q[o + 1u], q[o + 2u], q[o + 3u]); }
fn k4(o: u32) -> vec4<f32> { return vec4<f32>(k[o], k[o + 1u], k[o + 2u], k[o + 3u]); }
fn v4(o: u32) -> vec4<f32> { return vec4<f32>(v[o], v[o + 1u], v[o + 2u], v[o + 3u]); }
