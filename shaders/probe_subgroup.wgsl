// Subgroup probe (needs the SUBGROUP feature): 4 broadcasts of a register value from fixed lanes
// per iteration — how a lane can get a value another lane loaded without touching memory.
// (naga 30 takes subgroup built-ins without `enable subgroups;`, which it does not parse yet.)

override ITERS: u32 = 1024u;
const WG: u32 = 64u;

struct Params { w: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn broadcast(@builtin(global_invocation_id) gid: vec3<u32>) {
    var v = vec4<f32>(f32(gid.x));
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < ITERS; i++) {
        s += subgroupBroadcast(v, 0u) + subgroupBroadcast(v, 1u) + subgroupBroadcast(v, 2u) + subgroupBroadcast(v, 3u);
        v = v * 0.999;
    }
    out[gid.x] = s.x + s.y + s.z + s.w + f32(p.w[0].x) * 0.0;
}
