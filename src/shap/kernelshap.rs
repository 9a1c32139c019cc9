//! KernelSHAP as the constrained regression of Covert & Lee (2021, "Improving KernelSHAP"):
//! with z drawn from the Shapley kernel (paired with its complement),
//! A = E[z zᵀ], b = E[z (v(z) − v(0))], and the efficiency-constrained solution
//! φ = A⁻¹(b − 1 (1ᵀA⁻¹b − (v(1) − v(0))) / (1ᵀA⁻¹1)).
//! A and b are running sample means over pairs (each pair's average is one i.i.d. sample).
//! φ's covariance is the sandwich (delta-method) estimate J Cov(ḡ) Jᵀ with J = ∂φ/∂b =
//! A⁻¹ − u uᵀ/(1ᵀu), u = A⁻¹1, and g = b_pair − A_pair φ̂ each pair's residual: with Â's noise
//! counted, a nearly additive game (small residuals) gets the small errors it has. The estimate
//! `shapreg.ShapleyRegression` uses, Cov(b̄) with Â treated as known, overstated the error of
//! such games 36× (RMS of (φ̂ − φ)/std 0.028 on tests/shap.rs's nearly additive game; a ground
//! truth at P = 64 never "converged" while cheap estimators agreed with it to a tenth of its
//! claimed error) and was optimistic on random ones (RMS 1.17); the sandwich gives 1.00 on
//! both. The residuals need φ̂, so the pairs are kept (P·|S| + P·K work per pair per check).
//! A check after every batch would make a long run quadratic in its pairs (at P = 256 and 10⁶
//! evaluations, minutes of checks per image against seconds of GPU game), so checks wait until
//! the pairs have grown by [`CHECK_GROWTH`] since the last one (at least one batch): their total
//! work stays within ~1/CHECK_GROWTH times the last check's, and a run overshoots its
//! convergence point by at most that fraction of its pairs (more samples, never fewer).
//! Sampling stops when, for the output being explained (or every output when none is named),
//! max_i std(φ_i) < threshold · (max φ − min φ). Judging only the explained class matters: a
//! class the model rules out has a nearly flat φ whose tiny range makes the relative rule cost
//! ~800k evaluations for P = 16, against a few thousand for the predicted class.

use super::game::Game;
use super::linalg::{cholesky, cholesky_inverse, cholesky_solve};
use super::sampler::ShapleySampler;
use anyhow::{Result, bail};

/// The least relative growth of the pairs between two convergence checks (see the module note).
pub const CHECK_GROWTH: f64 = 0.1;

#[derive(Clone, Debug)]
pub struct KernelShapConfig {
    /// Mask pairs per game evaluation (2× this many masks per call).
    pub batch_pairs: usize,
    /// Convergence threshold on std / range (shapreg's default 0.01).
    pub threshold: f64,
    /// Budget of game evaluations (masks), the two ends included.
    pub max_evals: usize,
    pub seed: u64,
    /// The output whose convergence stops sampling (`None`: all outputs must converge).
    pub target: Option<usize>,
    /// Also required when > 0: ‖std‖₂ ≤ this × ‖φ‖₂ over the players of each converging output
    /// (the estimate's own standard error relative to its size: a ground truth's noise floor).
    pub relative_se: f64,
}

impl Default for KernelShapConfig {
    fn default() -> Self {
        KernelShapConfig {
            batch_pairs: 256,
            threshold: 0.01,
            max_evals: 1 << 20,
            seed: 0,
            target: None,
            relative_se: 0.0,
        }
    }
}

/// The error KernelSHAP returns when its budget ran out while A = E[z zᵀ] was still singular
/// (too few pairs for P players): callers scoring small budgets treat it as "cannot run here".
#[derive(Debug)]
pub struct Singular {
    pub evaluations: usize,
    pub players: usize,
}

impl std::fmt::Display for Singular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KernelSHAP: A still singular after {} evaluations (P = {})",
            self.evaluations, self.players
        )
    }
}

impl std::error::Error for Singular {}

#[derive(Clone, Debug)]
pub struct KernelShapResult {
    pub players: usize,
    pub outputs: usize,
    /// P×K.
    pub phi: Vec<f64>,
    /// Standard errors, P×K.
    pub std: Vec<f64>,
    pub null: Vec<f64>,
    pub grand: Vec<f64>,
    /// Game evaluations used (masks), the empty and full coalitions included.
    pub evaluations: usize,
    pub converged: bool,
    /// Convergence checks made (solves of the regression; geometric in the pairs, see the
    /// module note).
    pub checks: usize,
}

/// Running sums over mask pairs, and the pairs themselves (for the residuals' spread). Each
/// pair is stored through its smaller side z (the pair is symmetric in z ↔ z̄), so the O(P²)
/// update costs min(|S|, P−|S|)² per pair: A_pair = z zᵀ + ½(11ᵀ − z1ᵀ − 1zᵀ) and, per output,
/// b_pair = α1 + βz with α = ½(v(z̄) − v₀), β = ½(v(z) − v(z̄)).
struct Moments {
    p: usize,
    k: usize,
    n: usize,
    zz: Vec<f64>,
    z: Vec<f64>,
    sa: Vec<f64>,
    /// K×P: Σ β z.
    sb: Vec<f64>,
    /// Every pair's side (players, concatenated; `ends` delimits them) and its β (K each).
    sides: Vec<u16>,
    ends: Vec<usize>,
    betas: Vec<f64>,
}

impl Moments {
    fn new(p: usize, k: usize) -> Moments {
        Moments {
            p,
            k,
            n: 0,
            zz: vec![0.0; p * p],
            z: vec![0.0; p],
            sa: vec![0.0; k],
            sb: vec![0.0; k * p],
            sides: Vec::new(),
            ends: Vec::new(),
            betas: Vec::new(),
        }
    }

    /// `side`: the players of the smaller side; `vz`, `vc`: v(z) − v₀ and v(z̄) − v₀ (K each).
    fn add(&mut self, side: &[usize], vz: &[f64], vc: &[f64]) {
        let (p, k) = (self.p, self.k);
        self.n += 1;
        for &i in side {
            self.z[i] += 1.0;
            for &j in side {
                self.zz[i * p + j] += 1.0;
            }
        }
        for o in 0..k {
            let (a, b) = (0.5 * vc[o], 0.5 * (vz[o] - vc[o]));
            self.sa[o] += a;
            for &i in side {
                self.sb[o * p + i] += b;
            }
            self.betas.push(b);
        }
        self.sides.extend(side.iter().map(|&i| i as u16));
        self.ends.push(self.sides.len());
    }

    fn a(&self) -> Vec<f64> {
        let (p, n) = (self.p, self.n as f64);
        let mut a = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                a[i * p + j] = self.zz[i * p + j] / n + 0.5 * (1.0 - self.z[i] / n - self.z[j] / n);
            }
        }
        a
    }

    fn b_mean(&self, o: usize) -> Vec<f64> {
        let (p, n) = (self.p, self.n as f64);
        (0..p)
            .map(|i| (self.sa[o] + self.sb[o * p + i]) / n)
            .collect()
    }

    /// Standard errors of φ (P×K) from the pairs' residuals g = b_pair − A_pair φ. With Φ = 1ᵀφ
    /// and φ_S = zᵀφ, g = (α − ½Φ + ½φ_S)·1 + (β − φ_S + ½Φ)·z, and J1 = 0, so each pair's
    /// contribution to φ is h = (β − φ_S + ½Φ)·Jz: Var(φ̂_i) = Var_pairs(h_i) / n.
    fn std(&self, phi: &[f64], jac: &[f64]) -> Vec<f64> {
        let (p, k, n) = (self.p, self.k, self.n as f64);
        let total: Vec<f64> = (0..k)
            .map(|o| (0..p).map(|i| phi[i * k + o]).sum())
            .collect();
        let (mut s1, mut s2) = (vec![0.0; p * k], vec![0.0; p * k]);
        let (mut jz, mut phi_s) = (vec![0.0; p], vec![0.0; k]);
        let mut start = 0;
        for (pair, &end) in self.ends.iter().enumerate() {
            let side = &self.sides[start..end];
            start = end;
            jz.fill(0.0);
            phi_s.fill(0.0);
            for &j in side {
                let j = j as usize;
                // J is symmetric: its column j is its row j.
                for (v, &x) in jz.iter_mut().zip(&jac[j * p..(j + 1) * p]) {
                    *v += x;
                }
                for (o, s) in phi_s.iter_mut().enumerate() {
                    *s += phi[j * k + o];
                }
            }
            for o in 0..k {
                let c = self.betas[pair * k + o] - phi_s[o] + 0.5 * total[o];
                for i in 0..p {
                    let h = c * jz[i];
                    s1[i * k + o] += h;
                    s2[i * k + o] += h * h;
                }
            }
        }
        s1.iter()
            .zip(&s2)
            .map(|(&a, &b)| ((b / n - (a / n).powi(2)) / n).max(0.0).sqrt())
            .collect()
    }
}

/// φ and std from the current moments, or None while A is singular.
fn solve(m: &Moments, total: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let (p, k) = (m.p, m.k);
    let l = cholesky(&m.a(), p)?;
    let mut u = vec![1.0; p];
    cholesky_solve(&l, p, &mut u);
    let su: f64 = u.iter().sum();
    let ainv = cholesky_inverse(&l, p);
    let jac: Vec<f64> = (0..p * p)
        .map(|ij| ainv[ij] - u[ij / p] * u[ij % p] / su)
        .collect();
    let mut phi = vec![0.0; p * k];
    for o in 0..k {
        let mut x = m.b_mean(o);
        cholesky_solve(&l, p, &mut x);
        let shift = (x.iter().sum::<f64>() - total[o]) / su;
        for i in 0..p {
            phi[i * k + o] = x[i] - u[i] * shift;
        }
    }
    let std = m.std(&phi, &jac);
    Some((phi, std))
}

/// Whether the largest std of output `target` (of every output when `None`) is below
/// threshold × its range of φ, and (when `relative_se` > 0) ‖std‖₂ ≤ relative_se × ‖φ‖₂.
pub fn is_converged(
    phi: &[f64],
    std: &[f64],
    p: usize,
    k: usize,
    threshold: f64,
    relative_se: f64,
    target: Option<usize>,
) -> bool {
    let outputs = match target {
        Some(o) => o..o + 1,
        None => 0..k,
    };
    outputs.into_iter().all(|o| {
        let col = |v: &[f64]| (0..p).map(|i| v[i * k + o]).collect::<Vec<_>>();
        let (ph, sd) = (col(phi), col(std));
        let range = ph.iter().cloned().fold(f64::MIN, f64::max)
            - ph.iter().cloned().fold(f64::MAX, f64::min);
        let max_std = sd.iter().cloned().fold(0.0, f64::max);
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        (max_std < threshold * range || max_std == 0.0)
            && (relative_se <= 0.0 || norm(&sd) <= relative_se * norm(&ph))
    })
}

pub fn kernel_shap(game: &dyn Game, cfg: &KernelShapConfig) -> Result<KernelShapResult> {
    let (p, k) = (game.players(), game.outputs());
    if !(2..=1 << 16).contains(&p) {
        bail!("KernelSHAP needs 2 to 65,536 players (kept as u16), got {p}");
    }
    if let Some(t) = cfg.target.filter(|&t| t >= k) {
        bail!("KernelSHAP: target output {t} out of range for a game with {k} outputs");
    }
    let mut ends = vec![0f32; 2 * p];
    ends[p..].fill(1.0);
    let ends: Vec<f64> = game.eval(&ends)?.iter().map(|&v| v as f64).collect();
    let (null, grand) = (ends[..k].to_vec(), ends[k..].to_vec());
    let total: Vec<f64> = grand.iter().zip(&null).map(|(g, n)| g - n).collect();
    let mut evaluations = 2;
    let mut sampler = ShapleySampler::new(p, cfg.seed);
    let mut mom = Moments::new(p, k);
    let mut side = Vec::with_capacity(p);
    let (mut next_check, mut checks) = (0usize, 0usize); // next_check: pairs
    loop {
        let pairs = cfg
            .batch_pairs
            .max(1)
            .min((cfg.max_evals.saturating_sub(evaluations) / 2).max(1));
        let masks = sampler.sample_paired(pairs);
        let vals = game.eval(&masks)?;
        evaluations += 2 * pairs;
        for r in 0..pairs {
            let (m1, m2) = (&masks[2 * r * p..(2 * r + 1) * p], &vals[2 * r * k..]);
            let d = |row: usize| -> Vec<f64> {
                (0..k).map(|o| m2[row * k + o] as f64 - null[o]).collect()
            };
            let (v1, v2) = (d(0), d(1));
            let count = m1.iter().filter(|&&x| x > 0.5).count();
            let first = 2 * count <= p;
            side.clear();
            side.extend((0..p).filter(|&i| (m1[i] > 0.5) == first));
            if first {
                mom.add(&side, &v1, &v2);
            } else {
                mom.add(&side, &v2, &v1);
            }
        }
        let out_of_budget = evaluations + 2 > cfg.max_evals;
        if mom.n < next_check && !out_of_budget {
            continue;
        }
        next_check = mom.n + (mom.n as f64 * CHECK_GROWTH) as usize;
        checks += 1;
        if let Some((phi, std)) = solve(&mom, &total) {
            let converged =
                is_converged(&phi, &std, p, k, cfg.threshold, cfg.relative_se, cfg.target);
            if converged || out_of_budget {
                return Ok(KernelShapResult {
                    players: p,
                    outputs: k,
                    phi,
                    std,
                    null,
                    grand,
                    evaluations,
                    converged,
                    checks,
                });
            }
        } else if out_of_budget {
            return Err(Singular {
                evaluations,
                players: p,
            }
            .into());
        }
    }
}
