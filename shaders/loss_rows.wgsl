// Row losses over logits x [B,K] (one row per invocation, max-subtracted log-sum-exp), fused so
// that no log-softmax tensor is ever written. Per row b it writes rows[b] (the row's loss before
// the batch mean) and stats[2b..2b+2] = (lse, aux) for the backward (`loss_grad.wgsl`):
//   INDEX    t [B] class indices (f32):  (1−ε)·(lse − x_c) + ε·(lse − mean_k x_k);  aux = 1
//   SOFT     t [B,K] probabilities:      Σ_k t_k (lse − x_k);                        aux = Σ_k t_k
//   KL       t [B,K] probabilities:      Σ_k t_k (log t_k − x_k + lse), 0·log 0 = 0; aux = Σ_k t_k
//   REVERSE  KL(q‖t), q = softmax(x):    Σ_k q_k (x_k − lse − log t_k), q_k = 0 adds 0; aux = row KL
// Sums are compensated (Kahan): the reverse-KL gradient subtracts the row KL from per-class terms
// of similar size, so the row sums need better than plain f32 accumulation over K classes.
// An index outside [0, K) or not an integer yields a NaN loss (no host sync to raise an error).

override MODE: u32 = 0u;
const INDEX: u32 = 0u;
const SOFT: u32 = 1u;
const KL: u32 = 2u;
const REVERSE: u32 = 3u;

struct Params { rows: u32, k: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> rows: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

// Kahan accumulator: (sum, compensation).
fn kadd(acc: vec2<f32>, v: f32) -> vec2<f32> {
    let y = v - acc.y;
    let t = acc.x + y;
    return vec2<f32>(t, (t - acc.x) - y);
}

@compute @workgroup_size(64)
fn rows_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) { return; }
    let base = r * p.k;
    var m = x[base];
    for (var k = 1u; k < p.k; k = k + 1u) { m = max(m, x[base + k]); }
    var s = vec2<f32>(0.0);
    for (var k = 0u; k < p.k; k = k + 1u) { s = kadd(s, exp(x[base + k] - m)); }
    let lse = log(s.x) + m;
    var loss = vec2<f32>(0.0);
    var aux = vec2<f32>(0.0);
    switch MODE {
        case INDEX: {
            let cf = t[r];
            let c = u32(max(cf, 0.0));
            var sx = vec2<f32>(0.0);
            for (var k = 0u; k < p.k; k = k + 1u) { sx = kadd(sx, x[base + k]); }
            let smooth_term = lse - sx.x / f32(p.k);
            if (cf >= 0.0 && cf < f32(p.k) && fract(cf) == 0.0) {
                loss.x = (1.0 - p.eps) * (lse - x[base + c]) + p.eps * smooth_term;
            } else {
                // NaN: invalid class index. From a `var`, not a constant: WGSL's constant evaluation
                // (Tint's) rejects a NaN value.
                var nan_bits = 0x7fc00000u;
                loss.x = bitcast<f32>(nan_bits);
            }
            aux.x = 1.0;
        }
        case SOFT: {
            for (var k = 0u; k < p.k; k = k + 1u) {
                let tk = t[base + k];
                loss = kadd(loss, tk * (lse - x[base + k]));
                aux = kadd(aux, tk);
            }
        }
        case KL: {
            for (var k = 0u; k < p.k; k = k + 1u) {
                let tk = t[base + k];
                if (tk != 0.0) { loss = kadd(loss, tk * (log(tk) - x[base + k] + lse)); }
                aux = kadd(aux, tk);
            }
        }
        default: {
            for (var k = 0u; k < p.k; k = k + 1u) {
                let lq = x[base + k] - lse;
                let q = exp(lq);
                if (q != 0.0) { loss = kadd(loss, q * (lq - log(t[base + k]))); }
            }
            aux = loss;
        }
    }
    rows[r] = loss.x;
    stats[2u * r] = lse;
    stats[2u * r + 1u] = aux.x;
}
