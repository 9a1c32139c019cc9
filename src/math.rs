//! Small numeric helpers on host values that several layers share (viz, fastshap), each with
//! one home.

/// Index of the largest value; ties pick the first, as `torch.argmax` and the GPU `argmax`
/// do. `None` for an empty slice. Compared by `total_cmp` (NaN above +inf).
pub fn argmax(v: &[f64]) -> Option<usize> {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a)))
}
