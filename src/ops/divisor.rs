//! Integer division by a runtime divisor without a division instruction (Granlund & Montgomery,
//! "Division by invariant integers using multiplication", 1994; the round-up variant of Hacker's
//! Delight §10-8, exact for every u32 numerator).
//!
//! Why: CPU adapters (lavapipe) vectorise a kernel across its invocations, but x86 has no vector
//! integer division, so `i / size` and `i % size` on a runtime `size` run one lane at a time —
//! the index arithmetic of broadcasting and strided copies then costs more than their memory
//! traffic (binary_bcast at ~1 GB/s). The host computes a [`Divisor`] per size once; the kernel
//! (`shaders/_udiv.wgsl`) divides with a high multiply and two shifts, all vector instructions.
//! [`Divisor::quotient`] is the same arithmetic on the host, the reference the tests hold it to.
//! Also the axis handling the strided kernels share (broadcasting, strided copies): merging
//! axes and packing their sizes, strides and divisors into parameter words.

/// A divisor d ≥ 1 prepared for `udiv` in `shaders/_udiv.wgsl`: the magic multiplier and the
/// two shifts packed as `sh1 | sh2 << 8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divisor {
    pub magic: u32,
    pub shifts: u32,
}

impl Divisor {
    /// d = 0 is treated as 1 (no kernel divides by an empty axis: its launch has no elements).
    pub fn new(d: u32) -> Divisor {
        let d = d.max(1);
        // l = ⌈log2 d⌉; m = ⌊2^32 (2^l − d) / d⌋ + 1 fits in 32 bits because 2^l − d < d.
        let l = 32 - (d - 1).leading_zeros();
        let magic = ((((1u64 << l) - d as u64) << 32) / d as u64 + 1) as u32;
        let (sh1, sh2) = (l.min(1), l.max(1) - 1);
        Divisor {
            magic,
            shifts: sh1 | (sh2 << 8),
        }
    }

    /// ⌊n / d⌋ exactly as the kernel computes it.
    pub fn quotient(self, n: u32) -> u32 {
        let t = ((self.magic as u64 * n as u64) >> 32) as u32;
        (t + ((n - t) >> (self.shifts & 0xff))) >> (self.shifts >> 8)
    }
}

/// An axis of a strided kernel's iteration: its size and the strides of its two operands.
pub type Axis = (usize, usize, usize);

/// The iteration `shape` with its two operands' strides as few axes as address the same
/// elements: size-1 axes dropped, and each axis merged into the one before it where both
/// operands continue one run across the pair (a broadcast `[B, T, D] + [T, D]` becomes
/// `[B, T·D]`, a contiguous copy one axis). Each axis left costs a kernel a division.
pub fn merge_axes(shape: &[usize], a: &[usize], b: &[usize]) -> Vec<Axis> {
    let mut axes: Vec<Axis> = Vec::with_capacity(shape.len());
    for i in (0..shape.len()).filter(|&i| shape[i] != 1) {
        let (n, sa, sb) = (shape[i], a[i], b[i]);
        match axes.last_mut() {
            Some(last) if last.1 == sa * n && last.2 == sb * n => *last = (last.0 * n, sa, sb),
            _ => axes.push((n, sa, sb)),
        }
    }
    axes
}

/// The parameter words of the strided kernels (binary_bcast, plumbing): `header` in words 0–3,
/// then per axis k its size [4 + k], its two strides [12 + k] and [20 + k], and the size as a
/// [`Divisor`]: magic [28 + k], shifts [36 + k]. At most 8 axes.
pub fn axis_words(header: [usize; 4], axes: &[Axis]) -> [u32; 44] {
    assert!(axes.len() <= 8, "at most 8 axes, got {}", axes.len());
    let mut w = [0u32; 44];
    for (k, &h) in header.iter().enumerate() {
        w[k] = h as u32;
    }
    for (k, &(size, a, b)) in axes.iter().enumerate() {
        let d = Divisor::new(size as u32);
        w[4 + k] = size as u32;
        w[12 + k] = a as u32;
        w[20 + k] = b as u32;
        w[28 + k] = d.magic;
        w[36 + k] = d.shifts;
    }
    w
}

/// Runs `shaders/_udiv.wgsl`'s `udiv` on the device: `nums[i] / divisors[i]` for every i (the
/// kernel tests hold it to Rust's `/`).
pub fn divide_on_device(nums: &[u32], divisors: &[u32]) -> anyhow::Result<Vec<u32>> {
    anyhow::ensure!(
        nums.len() == divisors.len(),
        "divide_on_device: {} numerators, {} divisors",
        nums.len(),
        divisors.len()
    );
    let table: Vec<f32> = divisors
        .iter()
        .flat_map(|&d| {
            let v = Divisor::new(d);
            [v.magic, v.shifts, 0, 0].map(f32::from_bits)
        })
        .collect();
    let n = nums.len();
    let x = crate::Tensor::from_slice(
        &nums.iter().map(|&u| f32::from_bits(u)).collect::<Vec<_>>(),
        &[n],
    )?;
    let t = crate::Tensor::from_slice(&table, &[n, 4])?;
    let y = crate::Tensor::empty(&[n])?;
    super::launch(
        &crate::shader!("udiv", "_udiv"),
        "udiv_each",
        &[],
        &[n as u32],
        &[x.bind(), t.bind(), y.bind()],
        n,
        64,
    )?;
    Ok(y.to_vec()?.into_iter().map(f32::to_bits).collect())
}
