// Backward of conv2d (see conv.wgsl for the conventions): both gradients as barrier-free implicit
// GEMMs with 4×4 register blocks, one writer per output element.
//
//   conv_bwd_input:  dx[b,ci,iy,ix] M = B·H·W pixels × N = Cin,  K = Cout·kh·kw
//   conv_bwd_weight: dw[co,k]       M = Cout × N = Cin·kh·kw,    K = B·Ho·Wo, split in chunks

struct Params {
    b: u32, cin: u32, h: u32, w: u32,
    cout: u32, ho: u32, wo: u32, kh: u32,
    kw: u32, stride: u32, pad: u32, has_bias: u32,
    // conv_bwd_weight only: reduction pixels per split, number of splits.
    chunk: u32, nsplit: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// conv_bwd_input: (dy, weight, dx). conv_bwd_weight: (dy, x, partial dw [nsplit, Cout·Cin·kh·kw]).
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bmat: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;

// Masked gathers of four values at `idx` where `ok` (the index is zeroed first: no stray reads).
fn gather(idx: vec4<i32>, ok: vec4<bool>) -> vec4<f32> {
    let i = vec4<u32>(select(vec4<i32>(0), idx, ok));
    return select(vec4<f32>(0.0), vec4<f32>(a[i.x], a[i.y], a[i.z], a[i.w]), ok);
}

fn gather_b(idx: vec4<i32>, ok: vec4<bool>) -> vec4<f32> {
    let i = vec4<u32>(select(vec4<i32>(0), idx, ok));
    return select(vec4<f32>(0.0), vec4<f32>(bmat[i.x], bmat[i.y], bmat[i.z], bmat[i.w]), ok);
}

// dx[b,ci,iy,ix] = Σ_{co,ky,kx} dy[b,co,oy,ox]·w[co,ci,ky,kx] over oy·s − pad + ky = iy (same for x):
// the transposed convolution, gathered per input pixel so every dx element has one writer.
@compute @workgroup_size(WG)
fn conv_bwd_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG;
    let hw = p.h * p.w;
    let m_total = p.b * hw;
    let mblocks = (m_total + 3u) / 4u;
    let cblocks = (p.cin + 3u) / 4u;
    if (idx >= mblocks * cblocks) { return; }
    let m0 = (idx % mblocks) * 4u;
    let ci0 = (idx / mblocks) * 4u;
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;
    let plane = p.ho * p.wo;

    let m = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(m_total - 1u));
    let ix = m % p.w;
    let t = m / p.w;
    let iy = t % p.h;
    let bb = t / p.h;
    let ty0 = vec4<i32>(iy + p.pad);
    let tx0 = vec4<i32>(ix + p.pad);
    let gbase = vec4<i32>(bb * p.cout * plane);
    let ci = min(vec4<u32>(ci0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.cin - 1u));
    let wci = ci * kk;
    let S = i32(p.stride);
    let HO = i32(p.ho);
    let WO = i32(p.wo);

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var co = 0u; co < p.cout; co = co + 1u) {
        let gc = gbase + i32(co * plane);
        let wc = co * ksz;
        for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
            let ty = ty0 - i32(ky);
            let oy = ty / S;
            let row_ok = (ty >= vec4<i32>(0)) & (oy * S == ty) & (oy < vec4<i32>(HO));
            let gr = gc + oy * WO;
            for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
                let tx = tx0 - i32(kx);
                let ox = tx / S;
                let ok = row_ok & (tx >= vec4<i32>(0)) & (ox * S == tx) & (ox < vec4<i32>(WO));
                if (!any(ok)) { continue; }
                let gv = gather(gr + ox, ok);
                let wi = wci + (wc + ky * p.kw + kx);
                acc0 = acc0 + gv * bmat[wi.x];
                acc1 = acc1 + gv * bmat[wi.y];
                acc2 = acc2 + gv * bmat[wi.z];
                acc3 = acc3 + gv * bmat[wi.w];
            }
        }
    }

    let obase = bb * p.cin * hw + iy * p.w + ix;
    let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (ci0 + c >= p.cin) { break; }
        let o = obase + (ci0 + c) * hw;
        let v = accs[c];
        for (var j = 0u; j < 4u; j = j + 1u) {
            if (m0 + j < m_total) { out[o[j]] = v[j]; }
        }
    }
}

// dw[co, k] with k = (ci, ky, kx) flattened = Σ over output pixels of dy[b,co,oy,ox]·x[b,ci,iy,ix].
// The pixel sum is split into `nsplit` chunks (one partial sum each, reduced afterwards) so that
// enough invocations run when Cout·Cin·kh·kw is small and B·Ho·Wo large.
@compute @workgroup_size(WG)
fn conv_bwd_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG;
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;
    let kblocks = (ksz + 3u) / 4u;
    let cblocks = (p.cout + 3u) / 4u;
    if (idx >= kblocks * cblocks * p.nsplit) { return; }
    let k0 = (idx % kblocks) * 4u;
    let rest = idx / kblocks;
    let co0 = (rest % cblocks) * 4u;
    let split = rest / cblocks;
    let hw = p.h * p.w;
    let plane = p.ho * p.wo;
    let m_total = p.b * plane;

    let k = min(vec4<u32>(k0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(ksz - 1u));
    let kx = vec4<i32>(k % p.kw) - i32(p.pad);
    let ky = vec4<i32>((k / p.kw) % p.kh) - i32(p.pad);
    let xoff = vec4<i32>((k / kk) * hw);
    let co = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.cout - 1u));
    let H = i32(p.h);
    let W = i32(p.w);

    let m_start = split * p.chunk;
    let m_end = min(m_total, m_start + p.chunk);
    // Walk the pixels with carried (b, oy, ox) counters instead of dividing every step.
    var ox = m_start % p.wo;
    var oy = (m_start / p.wo) % p.ho;
    var bb = m_start / plane;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var mm = m_start; mm < m_end; mm = mm + 1u) {
        let gi = (bb * p.cout + co) * plane + oy * p.wo + ox;
        let iy = ky + i32(oy * p.stride);
        let ix = kx + i32(ox * p.stride);
        let ok = (iy >= vec4<i32>(0)) & (iy < vec4<i32>(H)) & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(W));
        let xv = gather_b(xoff + i32(bb * p.cin * hw) + iy * W + ix, ok);
        acc0 = acc0 + xv * a[gi.x];
        acc1 = acc1 + xv * a[gi.y];
        acc2 = acc2 + xv * a[gi.z];
        acc3 = acc3 + xv * a[gi.w];
        ox = ox + 1u;
        if (ox == p.wo) {
            ox = 0u;
            oy = oy + 1u;
            if (oy == p.ho) {
                oy = 0u;
                bb = bb + 1u;
            }
        }
    }

    let nw = p.cout * ksz;
    let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (co0 + c >= p.cout) { break; }
        let o = split * nw + (co0 + c) * ksz + k0;
        let v = accs[c];
        for (var j = 0u; j < 4u; j = j + 1u) {
            if (k0 + j < ksz) { out[o + j] = v[j]; }
        }
    }
}
