// conv2d forward for real GPUs (`KernelClass::Gpu`): an implicit GEMM with shared-memory tiles.
// Same semantics as conv.wgsl (NCHW x, weight [Cout, Cin, kh, kw], square stride, zero padding,
// optional bias); the GEMM is M = B·Ho·Wo pixels × N = Cout, K = Cin·kh·kw.
//
// A workgroup of 16×16 invocations owns a 64-pixel × 64-channel output tile; each invocation a
// 4×4 register block (pixels 4·tx.., channels 4·ty..). K advances in slices of BK = 16: the
// input patch is gathered while staging (no im2col buffer), the weights are loaded along their
// contiguous k axis, both into workgroup memory, then every invocation does 16 rank-1 updates
// from two vec4 reads of the tiles.
//
// Tile layouts (vec4 elements, so the inner loop is two 16-byte reads):
//   As[k·16 + m/4][m%4]  pixels; staged with m fastest, so writes are consecutive words.
//   Bs[k·17 + n/4][n%4]  channels; staged with k fastest (coalesced weight reads), so
//                        consecutive invocations write to different k rows: the 17th vec4 of
//                        padding per row spreads them over the banks (a 64-word row would put
//                        all 16 on one bank).
// Out-of-range pixels, channels and k load as 0 and are never stored. 8.5 KiB of workgroup
// memory (WebGPU guarantees 16 KiB).

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (x, weight, bias (any buffer when has_bias = 0: never read), y)
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// The kernel size as pipeline constants: the patch gather divides k by them for every staged
// value, and a division by a constant compiles to a multiply and shift instead of a slow
// integer division (there are 16 per invocation per k slice, next to 256 FMAs).
override KH: u32 = 3u;
override KW: u32 = 3u;

const BK: u32 = 16u;
const BS_ROW: u32 = 17u; // vec4s per padded Bs row

var<workgroup> As: array<vec4<f32>, 256>; // 16 k × 16 vec4
var<workgroup> Bs: array<vec4<f32>, 272>; // 16 k × 17 vec4

// Grid: x, y = 64-pixel tiles (folded past 65,535 like ops::grid), z = 64-channel tiles.
@compute @workgroup_size(16, 16)
fn conv_gpu_fwd(@builtin(local_invocation_id) lid: vec3<u32>,
                @builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
    let m_total = p.b * p.ho * p.wo;
    let mtile = wid.x + wid.y * nwg.x;
    // Uniform per workgroup (built from workgroup ids and parameters only), so returning here
    // cannot split a workgroup at the barriers below.
    if (mtile * 64u >= m_total) { return; }
    let mt = mtile * 64u;
    let nt = wid.z * 64u;
    let t = lid.y * 16u + lid.x;
    let plane = p.ho * p.wo;
    let hw = p.h * p.w;
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;
    let H = i32(p.h);
    let W = i32(p.w);

    // Staging A: this invocation always gathers pixel mm (decoded once) at k rows ka0 + 4e.
    let mm = t % 64u;
    let ka0 = t / 64u;
    let gm = mt + mm;
    let m_ok = gm < m_total;
    let gmc = min(gm, m_total - 1u);
    let ox = gmc % p.wo;
    let oy = (gmc / p.wo) % p.ho;
    let xb = (gmc / plane) * p.cin * hw;
    let iy0 = i32(oy * p.stride) - i32(p.pad);
    let ix0 = i32(ox * p.stride) - i32(p.pad);
    // Staging B: weight column k0 + kb of channels nb0 + 16e.
    let kb = t % 16u;
    let nb0 = t / 16u;

    var acc: array<vec4<f32>, 4>; // acc[i][j]: channel nt + 4ty + i, pixel mt + 4tx + j
    for (var k0 = 0u; k0 < ksz; k0 += BK) {
        for (var e = 0u; e < 4u; e++) {
            let ka = ka0 + 4u * e;
            let k = k0 + ka;
            var va = 0.0;
            if (m_ok && k < ksz) {
                let ci = k / (KH * KW);
                let r = k % (KH * KW);
                let iy = iy0 + i32(r / KW);
                let ix = ix0 + i32(r % KW);
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                    va = x[xb + ci * hw + u32(iy * W + ix)];
                }
            }
            As[ka * 16u + mm / 4u][mm % 4u] = va;

            let nn = nb0 + 16u * e;
            let n = nt + nn;
            let kw_ = k0 + kb;
            var vb = 0.0;
            if (n < p.cout && kw_ < ksz) { vb = wt[n * ksz + kw_]; }
            Bs[kb * BS_ROW + nn / 4u][nn % 4u] = vb;
        }
        workgroupBarrier();
        for (var q = 0u; q < BK; q++) {
            let a = As[q * 16u + lid.x];
            let b = Bs[q * BS_ROW + lid.y];
            acc[0] += b.x * a;
            acc[1] += b.y * a;
            acc[2] += b.z * a;
            acc[3] += b.w * a;
        }
        workgroupBarrier();
    }

    for (var j = 0u; j < 4u; j++) {
        let m = mt + 4u * lid.x + j;
        if (m >= m_total) { break; }
        let pix = m % plane;
        let ob = (m / plane) * p.cout * plane + pix;
        for (var i = 0u; i < 4u; i++) {
            let co = nt + 4u * lid.y + i;
            if (co >= p.cout) { break; }
            var v = acc[i][j];
            if (p.has_bias != 0u) { v += bias[co]; }
            y[ob + co * plane] = v;
        }
    }
}
