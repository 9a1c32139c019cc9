// The head-dim-16 subgroup attention kernels' two rows per step (attention_subgroup16.wgsl,
// attention_subgroup16_bwd.wgsl): lanes 0–3 load the quarters of row j, lanes 4–7 of row j1,
// and every lane sees both. Forward and backward take their scores from the same dot4, so the
// backward's exp(s − lse) matches the forward's rounding.

// The row (`j`, or `j1` for lanes 4–7) whose quarter this lane loads.
fn pair_offset(base: u32, j: u32, j1: u32, lane: u32) -> u32 {
    return base + select(j, j1, lane >= 4u) * DH + 4u * (lane % 4u);
}

// Both rows of a step as every lane sees them: a0..a3 the four quarters of the first row
// (lanes 0–3), b0..b3 of the second (lanes 4–7). (subgroupBroadcast takes a constant lane.)
struct Pair { a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
              b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32> }

fn share(x: vec4<f32>) -> Pair {
    return Pair(subgroupBroadcast(x, 0u), subgroupBroadcast(x, 1u), subgroupBroadcast(x, 2u),
                subgroupBroadcast(x, 3u), subgroupBroadcast(x, 4u), subgroupBroadcast(x, 5u),
                subgroupBroadcast(x, 6u), subgroupBroadcast(x, 7u));
}

// Σ_c dot(x_c, y_c): a score.
fn dot4(x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>,
        y0: vec4<f32>, y1: vec4<f32>, y2: vec4<f32>, y3: vec4<f32>) -> f32 {
    return dot(x0, y0) + dot(x1, y1) + dot(x2, y2) + dot(x3, y3);
}
