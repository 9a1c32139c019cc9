//! Dense symmetric positive-definite solves in f64 for KernelSHAP's P×P systems (P ≤ a few
//! hundred, so an O(P³) Cholesky on the host costs milliseconds).

/// Lower-triangular Cholesky factor L (A = L Lᵀ) of the row-major n×n `a`, or None when `a`
/// is not (numerically) positive definite — e.g. too few samples to span all players.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                // Relative pivot floor: a singular sample matrix must not pass as SPD.
                if d <= 1e-12 * a[i * n + i].abs().max(1e-300) || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L Lᵀ x = b in place.
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// A⁻¹ from its Cholesky factor (row-major, symmetric).
pub fn cholesky_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0f64; n * n];
    let mut col = vec![0f64; n];
    for j in 0..n {
        col.fill(0.0);
        col[j] = 1.0;
        cholesky_solve(l, n, &mut col);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    inv
}
