// Backward of the row losses in `loss_rows.wgsl`, one element (b, k) per invocation, from the
// saved per-row (lse, aux) and the incoming scalar gradient g[0] (read on the device: no host
// sync). `scale` is 1/B (the batch mean). MODE codes match `loss_rows.wgsl`.
//   grad_logits: INDEX   g/B · (softmax_k − ((1−ε)·[k = c] + ε/K))
//                SOFT/KL g/B · (softmax_k · Σt − t_k)
//                REVERSE g/B · q_k · (log q_k − log t_k − KL_row)
//   grad_target: SOFT    −g/B · log q_k
//                KL      g/B · (log t_k + 1 − log q_k)
//                REVERSE −g/B · q_k / t_k

override MODE: u32 = 0u;
const INDEX: u32 = 0u;
const SOFT: u32 = 1u;
const KL: u32 = 2u;
const REVERSE: u32 = 3u;

struct Params { n: u32, k: u32, eps: f32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dout: array<f32>;

@compute @workgroup_size(256)
fn grad_logits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    let b = i / p.k;
    let k = i % p.k;
    let lq = x[i] - stats[2u * b];
    let q = exp(lq);
    let aux = stats[2u * b + 1u];
    var d = 0.0;
    switch MODE {
        case INDEX: {
            let hit = select(0.0, 1.0, f32(k) == t[b]);
            d = q - ((1.0 - p.eps) * hit + p.eps / f32(p.k));
        }
        case REVERSE: {
            if (q != 0.0) { d = q * (lq - log(t[i]) - aux); }
        }
        default: { d = q * aux - t[i]; }
    }
    dout[i] = g[0] * p.scale * d;
}

@compute @workgroup_size(256)
fn grad_target(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) { return; }
    let b = i / p.k;
    let lq = x[i] - stats[2u * b];
    var d = 0.0;
    switch MODE {
        case KL: { d = log(t[i]) + 1.0 - lq; }
        case REVERSE: { d = -exp(lq) / t[i]; }
        default: { d = -lq; }
    }
    dout[i] = g[0] * p.scale * d;
}
