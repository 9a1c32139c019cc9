//! The one helper every kernel test goes through (modelled on tinygrad's `helper_test_op`):
//! fresh random inputs → the GPU op vs a plain CPU reference in f64 (forward), and the GPU
//! backward vs central finite differences of that f64 reference (gradient check).
//!
//! Every tensor the engine allocates during a check starts filled with NaN (`set_poison`), so a
//! kernel that skips an element fails. Inputs are random each run; the seed is printed on
//! failure and can be pinned with `FASTSHAP_TEST_SEED`. `FASTSHAP_TEST_SEEDS=N` (opt-in, for
//! fuzzing the tolerances) makes every `check_op` repeat its check on N consecutive seeds from
//! there inside one process, which costs the checks alone and not N process and device starts.

#![allow(dead_code)]

use fastshap::Tensor;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// A CPU array for reference implementations: row-major f64.
#[derive(Clone, Debug)]
pub struct Arr {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Arr {
    pub fn new(shape: &[usize], data: Vec<f64>) -> Arr {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "Arr::new {shape:?}"
        );
        Arr {
            shape: shape.to_vec(),
            data,
        }
    }
    pub fn zeros(shape: &[usize]) -> Arr {
        Arr::new(shape, vec![0.0; shape.iter().product()])
    }
    pub fn scalar(v: f64) -> Arr {
        Arr::new(&[], vec![v])
    }
    pub fn numel(&self) -> usize {
        self.data.len()
    }
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Arr {
        Arr::new(&self.shape, self.data.iter().map(|&v| f(v)).collect())
    }
    pub fn reshape(&self, shape: &[usize]) -> Arr {
        Arr::new(shape, self.data.clone())
    }
    /// Elementwise with NumPy broadcasting.
    pub fn zip(&self, o: &Arr, f: impl Fn(f64, f64) -> f64) -> Arr {
        let r = self.shape.len().max(o.shape.len());
        let pad = |s: &[usize]| {
            let mut v = vec![1; r - s.len()];
            v.extend_from_slice(s);
            v
        };
        let (sa, sb) = (pad(&self.shape), pad(&o.shape));
        let out: Vec<usize> = (0..r).map(|i| sa[i].max(sb[i])).collect();
        let n: usize = out.iter().product();
        let strides = |s: &[usize]| {
            let mut st = vec![0; r];
            let mut acc = 1;
            for i in (0..r).rev() {
                st[i] = if s[i] == 1 { 0 } else { acc };
                acc *= s[i];
            }
            st
        };
        let (ta, tb) = (strides(&sa), strides(&sb));
        let mut data = Vec::with_capacity(n);
        for idx in 0..n {
            let (mut rem, mut ia, mut ib) = (idx, 0, 0);
            for d in (0..r).rev() {
                let c = rem % out[d];
                rem /= out[d];
                ia += c * ta[d];
                ib += c * tb[d];
            }
            data.push(f(self.data[ia], o.data[ib]));
        }
        Arr::new(&out, data)
    }
    /// Reduces `axis` with `f` over the values along it.
    pub fn reduce(&self, axis: usize, keepdim: bool, f: impl Fn(&[f64]) -> f64) -> Arr {
        let outer: usize = self.shape[..axis].iter().product();
        let n = self.shape[axis];
        let inner: usize = self.shape[axis + 1..].iter().product();
        let mut data = Vec::with_capacity(outer * inner);
        let mut buf = vec![0.0; n];
        for o in 0..outer {
            for i in 0..inner {
                for (k, b) in buf.iter_mut().enumerate() {
                    *b = self.data[(o * n + k) * inner + i];
                }
                data.push(f(&buf));
            }
        }
        let mut shape = self.shape.clone();
        if keepdim {
            shape[axis] = 1;
        } else {
            shape.remove(axis);
        }
        Arr::new(&shape, data)
    }
    /// Applies `f` to each row of the last axis.
    pub fn rows(&self, f: impl Fn(&[f64]) -> Vec<f64>) -> Arr {
        let n = *self.shape.last().expect("rank >= 1");
        let data = self.data.chunks(n).flat_map(&f).collect();
        Arr::new(&self.shape, data)
    }
}

/// How an input is drawn.
#[derive(Clone, Debug)]
pub enum Init {
    Normal,
    Uniform(f32, f32),
    /// Normal values pushed away from 0 by at least `margin` (for kinks like relu/abs).
    AwayFromZero(f32),
}

#[derive(Clone, Debug)]
pub struct Input {
    pub shape: Vec<usize>,
    pub init: Init,
    /// Whether the gradient w.r.t. this input is checked.
    pub grad: bool,
}

pub fn normal(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        init: Init::Normal,
        grad: true,
    }
}
pub fn uniform(shape: &[usize], lo: f32, hi: f32) -> Input {
    Input {
        shape: shape.to_vec(),
        init: Init::Uniform(lo, hi),
        grad: true,
    }
}
pub fn away(shape: &[usize], margin: f32) -> Input {
    Input {
        shape: shape.to_vec(),
        init: Init::AwayFromZero(margin),
        grad: true,
    }
}
impl Input {
    /// This input takes no gradient (indices, masks, constants).
    pub fn no_grad(mut self) -> Input {
        self.grad = false;
        self
    }
}

/// Options for one check.
#[derive(Clone, Debug)]
pub struct Check {
    /// Max relative error of the forward result.
    pub rtol: f64,
    /// Max relative error of the gradients (None: forward only).
    pub grad_rtol: Option<f64>,
    /// Finite-difference step (relative to max(1, |x|)).
    pub eps: f64,
}

impl Default for Check {
    fn default() -> Check {
        Check {
            rtol: 1e-4,
            grad_rtol: Some(1e-4),
            eps: 1e-6,
        }
    }
}

impl Check {
    pub fn forward_only() -> Check {
        Check {
            grad_rtol: None,
            ..Check::default()
        }
    }
    pub fn rtol(mut self, r: f64) -> Check {
        self.rtol = r;
        self
    }
    pub fn grad_rtol(mut self, r: f64) -> Check {
        self.grad_rtol = Some(r);
        self
    }
}

pub fn seed() -> u64 {
    std::env::var("FASTSHAP_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

pub fn random_values(shape: &[usize], init: &Init, rng: &mut rand::rngs::StdRng) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|_| match *init {
            Init::Normal => rng.sample::<f32, _>(StandardNormal),
            Init::Uniform(lo, hi) => rng.random_range(lo..hi),
            Init::AwayFromZero(m) => {
                let v: f32 = rng.sample(StandardNormal);
                if v >= 0.0 { v + m } else { v - m }
            }
        })
        .collect()
}

/// Relative error: max over elements of |a−b| / max(|b|, 1e-2·max|b|, 1e-12). Elements below 1%
/// of the tensor's largest are judged against that 1%, not their own tiny magnitude: such values
/// are usually sums that cancel (gradients against a random R), and f32 summation loses digits
/// relative to the cancelled result but not relative to the terms.
pub fn rel_err(got: &[f32], want: &[f64]) -> (f64, usize) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let floor = (1e-2 * scale).max(1e-12);
    let mut worst = (0.0, 0);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let e = if g.is_nan() || w.is_nan() {
            if g.is_nan() && w.is_nan() {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (g as f64 - w).abs() / w.abs().max(floor)
        };
        if e > worst.0 || e.is_infinite() {
            worst = (e, i);
            if e.is_infinite() {
                break;
            }
        }
    }
    worst
}

pub fn assert_close(what: &str, got: &[f32], want: &[f64], rtol: f64, seed: u64) {
    let (e, i) = rel_err(got, want);
    assert!(
        e <= rtol,
        "{what}: relative error {e:.3e} > {rtol:.1e} at element {i} (got {}, want {}) [seed {seed}]",
        got[i],
        want[i]
    );
}

/// The seeds one `check_op` runs: [`seed`], or `FASTSHAP_TEST_SEEDS` consecutive ones from it.
pub fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("FASTSHAP_TEST_SEEDS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .unwrap_or_else(|_| panic!("FASTSHAP_TEST_SEEDS={s:?} is not a count"))
        })
        .unwrap_or(1);
    let first = seed();
    first..first.saturating_add(n.max(1))
}

/// Checks `gpu` against `cpu` on fresh random inputs; see the module docs.
pub fn check_op(
    name: &str,
    inputs: &[Input],
    gpu: impl Fn(&[Tensor]) -> anyhow::Result<Tensor>,
    cpu: impl Fn(&[Arr]) -> Arr,
    opts: Check,
) {
    for seed in seeds() {
        check_op_seed(seed, name, inputs, &gpu, &cpu, &opts);
    }
}

/// One [`check_op`] on the inputs drawn from `seed`.
fn check_op_seed(
    seed: u64,
    name: &str,
    inputs: &[Input],
    gpu: &impl Fn(&[Tensor]) -> anyhow::Result<Tensor>,
    cpu: &impl Fn(&[Arr]) -> Arr,
    opts: &Check,
) {
    fastshap::gpu::ctx().set_poison(true);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let host: Vec<Vec<f32>> = inputs
        .iter()
        .map(|i| random_values(&i.shape, &i.init, &mut rng))
        .collect();
    let arrs: Vec<Arr> = inputs
        .iter()
        .zip(&host)
        .map(|(i, h)| Arr::new(&i.shape, h.iter().map(|&v| v as f64).collect()))
        .collect();

    // Forward.
    let want = cpu(&arrs);
    let ts: Vec<Tensor> = inputs
        .iter()
        .zip(&host)
        .map(|(i, h)| {
            let t = Tensor::from_slice(h, &i.shape).unwrap();
            if i.grad && opts.grad_rtol.is_some() {
                t.param()
            } else {
                t
            }
        })
        .collect();
    let out = gpu(&ts).unwrap_or_else(|e| panic!("{name}: GPU op failed: {e:#}"));
    assert_eq!(out.shape(), &want.shape[..], "{name}: output shape");
    assert_close(
        &format!("{name} forward"),
        &out.to_vec().unwrap(),
        &want.data,
        opts.rtol,
        seed,
    );

    // Backward: loss = Σ out ⊙ R for a random R, so every output element matters.
    let Some(grad_rtol) = opts.grad_rtol else {
        return;
    };
    let r_host = random_values(&want.shape, &Init::Normal, &mut rng);
    let r_arr: Vec<f64> = r_host.iter().map(|&v| v as f64).collect();
    let r = Tensor::from_slice(&r_host, &want.shape).unwrap();
    let loss = out.mul(&r).unwrap().sum_all().unwrap();
    loss.backward()
        .unwrap_or_else(|e| panic!("{name}: backward failed: {e:#}"));
    let objective = |a: &[Arr]| -> f64 { cpu(a).data.iter().zip(&r_arr).map(|(x, y)| x * y).sum() };
    for (k, inp) in inputs.iter().enumerate() {
        if !inp.grad {
            continue;
        }
        let g = ts[k]
            .grad()
            .unwrap_or_else(|| panic!("{name}: input {k} received no gradient"))
            .to_vec()
            .unwrap();
        let mut probe = arrs.clone();
        let mut num = vec![0.0; arrs[k].numel()];
        for (j, nj) in num.iter_mut().enumerate() {
            let x0 = arrs[k].data[j];
            let h = opts.eps * x0.abs().max(1.0);
            probe[k].data[j] = x0 + h;
            let up = objective(&probe);
            probe[k].data[j] = x0 - h;
            let down = objective(&probe);
            probe[k].data[j] = x0;
            *nj = (up - down) / (2.0 * h);
        }
        assert_close(
            &format!("{name} grad of input {k}"),
            &g,
            &num,
            grad_rtol,
            seed,
        );
    }
}

/// The CPU-class matmul/conv kernels this adapter can run (tests check each).
pub fn cpu_kernels() -> Vec<fastshap::ops::variant::CpuKernels> {
    use fastshap::ops::variant::CpuKernels;
    let mut v = vec![CpuKernels::Regblock];
    if fastshap::gpu::ctx().subgroups_of(8) {
        v.insert(0, CpuKernels::Subgroup);
    }
    v
}
