//! `shaders/_udiv.wgsl` (division by multiply and shift, used by the broadcasting, strided-copy
//! and bias kernels) against Rust's `/`, on the device and in its host mirror
//! (`Divisor::quotient`): small divisors, powers of two and their neighbours, the largest u32s, and
//! fresh random numerators and divisors over the whole u32 range.

use crate::helper::seed;
use fastshap::ops::divisor::{Divisor, divide_on_device};
use rand::{RngExt, SeedableRng};

#[test]
fn udiv_matches_integer_division_on_the_device_and_the_host() {
    let s = seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(s);
    let mut divisors: Vec<u32> = (1..=70).collect();
    for k in 1..32 {
        divisors.extend([(1u32 << k) - 1, 1 << k, (1u32 << k) + 1]);
    }
    divisors.extend([u32::MAX - 1, u32::MAX]);
    divisors.extend((0..200).map(|_| rng.random_range(1..=u32::MAX)));
    divisors.extend((0..200).map(|_| rng.random_range(1..=4096u32)));
    let (mut nums, mut ds) = (Vec::new(), Vec::new());
    for &d in &divisors {
        let mut ns = vec![0, 1, d - 1, d, d.saturating_add(1), u32::MAX - 1, u32::MAX];
        ns.extend((0..40).map(|_| rng.random::<u32>()));
        ns.extend((0..20).map(|_| rng.random_range(0..1u32 << 24)));
        ns.extend((0..10).map(|_| d.wrapping_mul(rng.random_range(0..=u32::MAX / d))));
        for n in ns {
            assert_eq!(
                Divisor::new(d).quotient(n),
                n / d,
                "host: {n} / {d} (seed {s})"
            );
            nums.push(n);
            ds.push(d);
        }
    }
    let got = divide_on_device(&nums, &ds).unwrap();
    for ((&n, &d), &q) in nums.iter().zip(&ds).zip(&got) {
        assert_eq!(q, n / d, "device: {n} / {d} (seed {s})");
    }
}
