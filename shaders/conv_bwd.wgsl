// Backward of conv2d (see conv.wgsl for the conventions): both gradients as barrier-free implicit
// GEMMs with 4×4 register blocks, one writer per output element.
//
//   conv_bwd_input:  dx[b,ci,iy,ix] M = B·H·W pixels × N = Cin,  K = Cout·⌈kh/s⌉·⌈kw/s⌉ taps
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

// Masked gather of four values at `idx` where `ok` (the index is zeroed first: no stray reads).
fn gather_b(idx: vec4<i32>, ok: vec4<bool>) -> vec4<f32> {
    let i = vec4<u32>(select(vec4<i32>(0), idx, ok));
    return select(vec4<f32>(0.0), vec4<f32>(bmat[i.x], bmat[i.y], bmat[i.z], bmat[i.w]), ok);
}

// dx[b,ci,iy,ix] = Σ_{co,ky,kx} dy[b,co,oy,ox]·w[co,ci,ky,kx] over oy·s − pad + ky = iy (same for x):
// the transposed convolution, gathered per input pixel so every dx element has one writer.
// With stride s only taps with ky ≡ iy + pad (mod s) land on an output row. So an invocation
// takes 4 pixels of one row that share their phase ix mod s (ix = px + s·(4q + j)): they share
// the valid taps, their output columns are consecutive (ox = (px + pad − kx)/s + 4q + j, an exact
// division), and no tap is wasted or divided per element.
@compute @workgroup_size(WG)
fn conv_bwd_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG;
    let s = p.stride;
    let nq = ((p.w + s - 1u) / s + 3u) / 4u; // 4-pixel blocks per (row, phase)
    let rows = p.b * p.h;
    let cblocks = (p.cin + 3u) / 4u;
    if (idx >= nq * s * rows * cblocks) { return; }
    let q = idx % nq;
    let t1 = idx / nq;
    let px = t1 % s;
    let t2 = t1 / s;
    let row = t2 % rows;
    let ci0 = (t2 / rows) * 4u;
    let iy = row % p.h;
    let bb = row / p.h;
    let hw = p.h * p.w;
    let kk = p.kh * p.kw;
    let ksz = p.cin * kk;
    let plane = p.ho * p.wo;
    let WO = i32(p.wo);

    let ix = vec4<u32>(px + s * 4u * q) + s * vec4<u32>(0u, 1u, 2u, 3u);
    let pix_ok = ix < vec4<u32>(p.w);
    let ci = min(vec4<u32>(ci0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.cin - 1u));
    let wci = ci * kk;
    let gb = bb * p.cout * plane;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ky = (iy + p.pad) % s; ky < p.kh; ky = ky + s) {
        let ty = i32(iy + p.pad) - i32(ky);
        if (ty < 0) { break; } // ty only falls as ky grows
        let oy = u32(ty) / s;
        if (oy >= p.ho) { continue; }
        for (var kx = (px + p.pad) % s; kx < p.kw; kx = kx + s) {
            let oxb = (i32(px + p.pad) - i32(kx)) / i32(s) + i32(4u * q);
            let ox = vec4<i32>(oxb) + vec4<i32>(0, 1, 2, 3);
            let ok = pix_ok & (ox >= vec4<i32>(0)) & (ox < vec4<i32>(WO));
            if (!any(ok)) { continue; }
            // Masked indices stay at gb (+ co planes below): inside dy, values discarded.
            var gi = select(vec4<u32>(gb), vec4<u32>(i32(gb + oy * p.wo) + ox), ok);
            var wi = wci + ky * p.kw + kx;
            for (var co = 0u; co < p.cout; co = co + 1u) {
                let gv = select(vec4<f32>(0.0), vec4<f32>(a[gi.x], a[gi.y], a[gi.z], a[gi.w]), ok);
                acc0 = acc0 + gv * bmat[wi.x];
                acc1 = acc1 + gv * bmat[wi.y];
                acc2 = acc2 + gv * bmat[wi.z];
                acc3 = acc3 + gv * bmat[wi.w];
                gi = gi + plane;
                wi = wi + ksz;
            }
        }
    }

    let obase = vec4<u32>(bb * p.cin * hw + iy * p.w) + ix;
    let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (ci0 + c >= p.cin) { break; }
        let o = obase + (ci0 + c) * hw;
        let v = accs[c];
        for (var j = 0u; j < 4u; j = j + 1u) {
            if (pix_ok[j]) { out[o[j]] = v[j]; }
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
