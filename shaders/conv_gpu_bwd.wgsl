// conv2d backward for real GPUs (`KernelClass::Gpu`): both gradients as implicit GEMMs with the
// tile scheme of conv_gpu.wgsl (64×64 output tile per 16×16 workgroup, 4×4 register blocks,
// BK = 16 slices staged in workgroup memory as vec4 rows, the rows written k-fastest padded to
// 17 vec4s). One writer per output element, no atomics.
//
//   conv_gpu_bwd_input:  dx of one stride phase (py, px) = (iy mod s, ix mod s):
//                        M = B·⌈(H−py)/s⌉·⌈(W−px)/s⌉ pixels × N = Cin,
//                        K = nky·nkx taps that land on an output row/column × Cout
//   conv_gpu_bwd_weight: partial dw of one pixel chunk: M = Cout × N = Cin·kh·kw,
//                        K = the chunk's pixels (split-K; the partials are summed afterwards)
//
// Why phases: dx[iy] gathers dy[(iy + pad − ky)/s] only for ky ≡ iy + pad (mod s). Tiling the
// pixels of one phase together gives every pixel of the tile the same valid taps
// ky = ky0 + s·a (ky0 = (py + pad) mod s) and output rows oy = iy' + (py + pad − ky0)/s − a
// for iy = py + s·iy': no wasted (zero) taps and no per-element divisibility tests.

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
    // conv_gpu_bwd_weight only: pixels per split (a multiple of 16), number of splits.
    chunk: u32, nsplit: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// conv_gpu_bwd_input: (dy, weight, dx). conv_gpu_bwd_weight: (dy, x, partial [nsplit, |w|]).
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const BK: u32 = 16u;
const ROW: u32 = 17u; // vec4s per padded tile row

var<workgroup> As: array<vec4<f32>, 272>;
var<workgroup> Bs: array<vec4<f32>, 272>;

// Grid: x, y = 64-pixel tiles of the largest phase (folded like ops::grid),
// z = 64-channel tile + ntiles·phase, phase = py·s + px.
@compute @workgroup_size(16, 16)
fn conv_gpu_bwd_input(@builtin(local_invocation_id) lid: vec3<u32>,
                      @builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = p.stride;
    let ntiles = (p.cin + 63u) / 64u;
    let phase = wid.z / ntiles;
    let nt = (wid.z % ntiles) * 64u;
    let py = phase / s;
    let px = phase % s;
    // Pixels of this phase per column / row (0 when the phase lies past the image).
    let nyp = select(0u, (p.h - py + s - 1u) / s, py < p.h);
    let nxp = select(0u, (p.w - px + s - 1u) / s, px < p.w);
    let m_total = p.b * nyp * nxp;
    let mt = (wid.x + wid.y * nwg.x) * 64u;
    // Uniform per workgroup (ids and parameters only): safe before the barriers.
    if (mt >= m_total) { return; }
    let ky0 = (py + p.pad) % s;
    let kx0 = (px + p.pad) % s;
    let nky = select(0u, (p.kh - ky0 + s - 1u) / s, ky0 < p.kh);
    let nkx = select(0u, (p.kw - kx0 + s - 1u) / s, kx0 < p.kw);
    let taps = nky * nkx; // 0 when no tap reaches this phase: dx is 0 there
    let t = lid.y * 16u + lid.x;
    let plane = p.ho * p.wo;
    let hw = p.h * p.w;
    let kk = p.kh * p.kw;
    let HO = i32(p.ho);
    let WO = i32(p.wo);

    // Staging A (dy): pixel mm of the tile, decoded once; k rows ka0 + 4e.
    let mm = t % 64u;
    let ka0 = t / 64u;
    let gm = mt + mm;
    let m_ok = gm < m_total;
    let gmc = min(gm, m_total - 1u);
    let oxb = i32(gmc % nxp + (px + p.pad - kx0) / s);
    let oyb = i32((gmc / nxp) % nyp + (py + p.pad - ky0) / s);
    let gb = (gmc / (nxp * nyp)) * p.cout * plane;
    // Staging B (weights): output channel c0 + kb of input channels nb0 + 16e.
    let kb = t % 16u;
    let nb0 = t / 16u;

    // K = taps × Cout, taps outside: the tap's output pixel, its bounds test and the weight
    // offset are worked out once per tap, and the Cout slices inside need no division.
    var acc: array<vec4<f32>, 4>; // acc[i][j]: channel nt + 4ty + i, pixel mt + 4tx + j
    for (var tap = 0u; tap < taps; tap++) {
        let ta = tap / nkx;
        let tc = tap % nkx;
        let oy = oyb - i32(ta);
        let ox = oxb - i32(tc);
        let ok = m_ok && oy >= 0 && oy < HO && ox >= 0 && ox < WO;
        let aoff = gb + u32(select(0, oy * WO + ox, ok));
        let woff = (ky0 + s * ta) * p.kw + kx0 + s * tc;
        for (var c0 = 0u; c0 < p.cout; c0 += BK) {
            for (var e = 0u; e < 4u; e++) {
                let ka = ka0 + 4u * e;
                let co = c0 + ka;
                var va = 0.0;
                if (ok && co < p.cout) { va = dy[aoff + co * plane]; }
                As[ka * ROW + mm / 4u][mm % 4u] = va;

                let nn = nb0 + 16u * e;
                let ci = nt + nn;
                let cb = c0 + kb;
                var vb = 0.0;
                if (ci < p.cin && cb < p.cout) { vb = src[(cb * p.cin + ci) * kk + woff]; }
                Bs[kb * ROW + nn / 4u][nn % 4u] = vb;
            }
            workgroupBarrier();
            for (var q = 0u; q < BK; q++) {
                let a = As[q * ROW + lid.x];
                let b = Bs[q * ROW + lid.y];
                acc[0] += b.x * a;
                acc[1] += b.y * a;
                acc[2] += b.z * a;
                acc[3] += b.w * a;
            }
            workgroupBarrier();
        }
    }

    for (var j = 0u; j < 4u; j++) {
        let m = mt + 4u * lid.x + j;
        if (m >= m_total) { break; }
        let ix = px + s * (m % nxp);
        let iy = py + s * ((m / nxp) % nyp);
        let ob = (m / (nxp * nyp)) * p.cin * hw + iy * p.w + ix;
        for (var i = 0u; i < 4u; i++) {
            let ci = nt + 4u * lid.y + i;
            if (ci >= p.cin) { break; }
            out[ob + ci * hw] = acc[i][j];
        }
    }
}

// Grid: x = 64-wide k tiles (k = (ci, ky, kx)), y = 64-channel tiles of Cout, z = split.
@compute @workgroup_size(16, 16)
fn conv_gpu_bwd_weight(@builtin(local_invocation_id) lid: vec3<u32>,
                       @builtin(workgroup_id) wid: vec3<u32>) {
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;
    let nt = wid.x * 64u; // k tile
    let ct = wid.y * 64u; // Cout tile
    let split = wid.z;
    let t = lid.y * 16u + lid.x;
    let plane = p.ho * p.wo;
    let hw = p.h * p.w;
    let m_total = p.b * plane;
    let m_start = split * p.chunk;
    let m_end = min(m_total, m_start + p.chunk);
    let H = i32(p.h);
    let W = i32(p.w);

    // Both operands are staged pixel-fastest (kp = t % 16) so neighbouring invocations read
    // neighbouring dy and x addresses; each invocation keeps its 4 rows (Cout channels ct + r,
    // patch columns nt + r, r = nb0 + 16e) for the whole kernel, so their decode happens once.
    let kp = t % 16u;
    let nb0 = t / 16u;
    var xoff: array<u32, 4>;
    var dky: array<i32, 4>;
    var dkx: array<i32, 4>;
    for (var e = 0u; e < 4u; e++) {
        let k = min(nt + nb0 + 16u * e, ksz - 1u);
        xoff[e] = (k / kk) * hw;
        dky[e] = i32((k % kk) / p.kw) - i32(p.pad);
        dkx[e] = i32(k % p.kw) - i32(p.pad);
    }

    var acc: array<vec4<f32>, 4>; // acc[i][j]: Cout channel ct + 4ty + i, k column nt + 4tx + j
    for (var m0 = m_start; m0 < m_end; m0 += BK) {
        let m = m0 + kp;
        let m_ok = m < m_end;
        let mc = min(m, m_total - 1u);
        let ox = mc % p.wo;
        let oy = (mc / p.wo) % p.ho;
        let bb = mc / plane;
        let gb = bb * p.cout * plane + oy * p.wo + ox;
        let xb = bb * p.cin * hw;
        let iyb = i32(oy * p.stride);
        let ixb = i32(ox * p.stride);
        for (var e = 0u; e < 4u; e++) {
            let r = nb0 + 16u * e;
            let co = ct + r;
            var va = 0.0;
            if (m_ok && co < p.cout) { va = dy[gb + co * plane]; }
            As[kp * ROW + r / 4u][r % 4u] = va;

            let iy = iyb + dky[e];
            let ix = ixb + dkx[e];
            var vb = 0.0;
            if (m_ok && nt + r < ksz && iy >= 0 && iy < H && ix >= 0 && ix < W) {
                vb = src[xb + xoff[e] + u32(iy * W + ix)];
            }
            Bs[kp * ROW + r / 4u][r % 4u] = vb;
        }
        workgroupBarrier();
        for (var q = 0u; q < BK; q++) {
            let a = As[q * ROW + lid.y];
            let b = Bs[q * ROW + lid.x];
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
        workgroupBarrier();
    }

    let nw = p.cout * ksz;
    for (var i = 0u; i < 4u; i++) {
        let co = ct + 4u * lid.y + i;
        if (co >= p.cout) { break; }
        for (var j = 0u; j < 4u; j++) {
            let k = nt + 4u * lid.x + j;
            if (k >= ksz) { break; }
            out[split * nw + co * ksz + k] = acc[i][j];
        }
    }
}
