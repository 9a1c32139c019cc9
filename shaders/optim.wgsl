// Fused optimizer updates, one element per invocation, updating the parameter and its state in
// place in one dispatch per parameter tensor. Hyper-parameters that depend on the step count (bias
// corrections) are computed on the host, which knows the step count without a sync.
// Entries use prefixes of one binding list (param, grad, state 1, state 2).

struct Params {
    n: u32,
    lr: f32,
    wd: f32,
    h0: f32,    // SGD: momentum      Adam: β1
    h1: f32,    // SGD: dampening     Adam: β2
    h2: f32,    //                    Adam: eps
    h3: f32,    //                    Adam: lr / (1 − β1^t)
    h4: f32,    //                    Adam: sqrt(1 − β2^t)
    flags: u32, // SGD: 1 nesterov, 2 first step (buffer := d_p)   Adam: 1 decoupled decay (AdamW)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// torch.optim.SGD without momentum: p −= lr·(g + wd·p).
@compute @workgroup_size(256)
fn sgd_plain(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    let w = param[i];
    param[i] = w - p.lr * (grad[i] + p.wd * w);
}

// torch.optim.SGD with momentum (s1 = momentum buffer): b = μ·b + (1 − dampening)·d_p, or
// b = d_p on the first step; the step is d_p + μ·b (Nesterov) or b.
@compute @workgroup_size(256)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    let w = param[i];
    let d = grad[i] + p.wd * w;
    var b = d;
    if ((p.flags & 2u) == 0u) { b = p.h0 * s1[i] + (1.0 - p.h1) * d; }
    s1[i] = b;
    let step = select(b, d + p.h0 * b, (p.flags & 1u) != 0u);
    param[i] = w - p.lr * step;
}

// torch.optim.Adam / AdamW (s1 = exp_avg, s2 = exp_avg_sq), in PyTorch's order of operations:
// coupled L2 (g += wd·p) or decoupled decay (p *= 1 − lr·wd), m = lerp(m, g, 1 − β1),
// v = β2·v + (1 − β2)·g², p −= lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps).
@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= p.n) { return; }
    var w = param[i];
    var g = grad[i];
    if ((p.flags & 1u) != 0u) {
        w = w * (1.0 - p.lr * p.wd);
    } else {
        g = g + p.wd * w;
    }
    let m0 = s1[i];
    let m = m0 + (1.0 - p.h0) * (g - m0);
    let v = p.h1 * s2[i] + (1.0 - p.h1) * g * g;
    s1[i] = m;
    s2[i] = v;
    param[i] = w - p.h3 * m / (sqrt(v) / p.h4 + p.h2);
}
