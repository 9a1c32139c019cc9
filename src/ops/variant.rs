//! Which kernel variant a launch uses, chosen here for every family (matmul, conv2d, attention,
//! the row kernels). Three variants:
//! - [`Variant::Tiled`] (the `KernelClass::Gpu` class): workgroup-memory tiles, for adapters
//!   where a `workgroupBarrier` is cheap;
//! - [`Variant::Subgroup`] (the CPU class where every subgroup has 8 lanes): lanes share loaded
//!   values by `subgroupBroadcast`;
//! - [`Variant::Regblock`] (the CPU class otherwise, or with `FASTSHAP_CPU_KERNELS=regblock`):
//!   barrier-free register blocks, or one row per invocation.
//!
//! Each family matches the variant once per kernel, in its own file; a family without a kernel
//! of some variant runs another in that match arm and says why.

use crate::gpu::{self, KernelClass};

/// The variant of one launch (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Tiled,
    Subgroup,
    Regblock,
}

/// The two CPU-class kernel sets: subgroup broadcast (fewest loads per FMA, needs 8-lane
/// subgroups) and the register-blocked fallback. One choice for every family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuKernels {
    Subgroup,
    Regblock,
}

thread_local! {
    static CPU_KERNELS: std::cell::Cell<Option<CpuKernels>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with this thread's CPU-class launches forced to kernel set `k` (tests check both).
pub fn with_cpu_kernels<T>(k: CpuKernels, f: impl FnOnce() -> T) -> T {
    let old = CPU_KERNELS.with(|c| c.replace(Some(k)));
    struct Restore(Option<CpuKernels>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CPU_KERNELS.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(old);
    f()
}

/// The CPU-class kernel set this thread uses: a [`with_cpu_kernels`] override, else the subgroup
/// kernels where the adapter's subgroups have 8 lanes, unless the environment says
/// `FASTSHAP_CPU_KERNELS=regblock` (to compare the two, or to sidestep a driver problem).
pub fn cpu_kernels() -> CpuKernels {
    CPU_KERNELS.with(|c| c.get()).unwrap_or_else(|| {
        static REGBLOCK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let forced = *REGBLOCK.get_or_init(|| {
            std::env::var("FASTSHAP_CPU_KERNELS").is_ok_and(|v| v.eq_ignore_ascii_case("regblock"))
        });
        if !forced && gpu::ctx().subgroups_of(8) {
            CpuKernels::Subgroup
        } else {
            CpuKernels::Regblock
        }
    })
}

impl Variant {
    /// The variant this thread's launches use.
    pub fn current() -> Variant {
        Variant::of(gpu::ctx().kernel_class())
    }

    /// The variant of kernel class `class` on this thread (matmul's tests pass a class).
    pub fn of(class: KernelClass) -> Variant {
        match class {
            KernelClass::Gpu => Variant::Tiled,
            KernelClass::Cpu
                if cpu_kernels() == CpuKernels::Subgroup && gpu::ctx().subgroups_of(8) =>
            {
                Variant::Subgroup
            }
            KernelClass::Cpu => Variant::Regblock,
        }
    }
}
