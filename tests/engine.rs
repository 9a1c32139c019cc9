//! The runtime underneath the kernels: autograd tape semantics, the buffer pool, batching and
//! stream ordering, limits. (Kernel numerics live in kernels-tests/.)

use fastshap::gpu::{self, KernelClass};
use fastshap::{Tensor, no_grad};

fn t(v: &[f32], s: &[usize]) -> Tensor {
    Tensor::from_slice(v, s).unwrap()
}

#[test]
fn gradients_accumulate_over_every_path() {
    // y = x·x + 3x  →  dy/dx = 2x + 3, through a diamond (x used three times).
    let x = t(&[1.0, -2.0, 0.5], &[3]).param();
    let y = x
        .mul(&x)
        .unwrap()
        .add(&x.mul_scalar(3.0).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![5.0, -1.0, 4.0]);
    // A second backward adds to .grad (as PyTorch) until zero_grad.
    let y2 = x.sum_all().unwrap();
    y2.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![6.0, 0.0, 5.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn no_grad_records_nothing() {
    let x = t(&[1.0, 2.0], &[2]).param();
    let y = {
        let _g = no_grad();
        x.exp().unwrap()
    };
    assert!(!y.requires_grad() && y.is_leaf());
    let z = x.exp().unwrap();
    assert!(z.requires_grad() && !z.is_leaf());
    assert!(
        y.sum_all().unwrap().backward().is_err(),
        "nothing to differentiate"
    );
}

#[test]
fn backward_needs_a_scalar() {
    let x = t(&[1.0, 2.0], &[2]).param();
    let e = x.exp().unwrap().backward().unwrap_err().to_string();
    assert!(e.contains("scalar") && e.contains("[2]"), "{e}");
}

#[test]
fn reshape_views_share_data_and_gradients() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).param();
    let v = x.reshape(&[3, 2]).unwrap();
    let w = t(&[1.0, 0.0], &[1, 2]);
    v.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().shape(), &[2, 3]);
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    );
}

#[test]
fn freed_buffers_are_reused_in_stream_order() {
    // `a`'s buffer returns to the pool right after `exp` is *recorded*; the next upload of the
    // same size reuses it. The upload must land after `exp` has read `a`, not before.
    let host: Vec<f32> = (0..1000).map(|i| i as f32 * 1e-3).collect();
    let a = t(&host, &[1000]);
    let b = a.exp().unwrap();
    drop(a);
    let c = t(&vec![7.0; 1000], &[1000]);
    let got = b.to_vec().unwrap();
    for (g, h) in got.iter().zip(&host) {
        assert!(
            (g - h.exp()).abs() < 1e-5,
            "exp read a recycled buffer: {g} vs {}",
            h.exp()
        );
    }
    assert_eq!(c.to_vec().unwrap()[0], 7.0);
}

#[test]
fn steady_state_allocates_nothing() {
    let x = Tensor::randn(&[4096], 1).unwrap();
    let step = || {
        x.exp()
            .unwrap()
            .mul(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .item()
            .unwrap()
    };
    step();
    let before = gpu::ctx().pool_stats().created;
    for _ in 0..5 {
        step();
    }
    // Other tests allocate concurrently, so compare against a generous bound rather than zero.
    let after = gpu::ctx().pool_stats();
    assert!(after.reused > 0);
    assert!(
        after.created - before < 20,
        "created {} buffers in steady state",
        after.created - before
    );
}

#[test]
fn thousands_of_launches_batch_and_flush_correctly() {
    // More launches than one batch (512) holds: the recorder must submit mid-way and keep order.
    let mut x = t(&[0.0; 37], &[37]);
    for _ in 0..1300 {
        x = x.add_scalar(1.0).unwrap();
    }
    assert!(x.to_vec().unwrap().iter().all(|&v| v == 1300.0));
}

#[test]
fn read_backs_can_overlap() {
    let a = Tensor::full(&[10], 1.0).unwrap();
    let b = Tensor::full(&[20], 2.0).unwrap();
    let ra = gpu::ctx().read_async(a.buffer(), 40);
    let rb = gpu::ctx().read_async(b.buffer(), 80);
    let vb: Vec<f32> = bytemuck::cast_slice(&rb.wait().unwrap()).to_vec();
    let va: Vec<f32> = bytemuck::cast_slice(&ra.wait().unwrap()).to_vec();
    assert_eq!((va, vb), (vec![1.0; 10], vec![2.0; 20]));
}

#[test]
fn kernel_class_follows_device_type() {
    let ctx = gpu::ctx();
    let want = if ctx.info.device_type == wgpu::DeviceType::Cpu {
        KernelClass::Cpu
    } else {
        KernelClass::Gpu
    };
    assert_eq!(ctx.kernel_class(), want);
}

#[test]
fn gpu_timing_measures_recorded_work() {
    let ctx = gpu::ctx();
    let x = Tensor::randn(&[1 << 16], 2).unwrap();
    let (y, secs) = ctx.gpu_time(|| x.exp().unwrap());
    if ctx.has_timestamps() {
        let s = secs.expect("timestamps available");
        assert!(s > 0.0 && s < 10.0, "{s}");
    }
    assert_eq!(y.numel(), 1 << 16);
}

/// `gpu_time` from several threads at once (a benchmark beside a test): each call gets its own
/// window. The recorder has one timing slot, and before the calls took turns a second thread's
/// begin replaced the first's, which then read nothing (~1 run in 150 of this binary under load).
#[test]
fn gpu_timing_from_several_threads_takes_turns() {
    let ctx = gpu::ctx();
    if !ctx.has_timestamps() {
        return;
    }
    std::thread::scope(|s| {
        for seed in 0..4 {
            s.spawn(move || {
                // Tensors are per thread (Rc); the device and its recorder are shared.
                let x = Tensor::randn(&[1 << 12], seed).unwrap();
                for _ in 0..50 {
                    let (_, secs) = ctx.gpu_time(|| x.exp().unwrap());
                    assert!(secs.is_some(), "a window read nothing");
                }
            });
        }
    });
}

#[test]
fn binding_over_the_device_limit_is_a_clear_error() {
    let ctx = gpu::ctx();
    let max = ctx.limits.max_storage_buffer_binding_size as u64;
    let n = (max / 4 + 1) as usize;
    if (n as u64) * 4 > ctx.limits.max_buffer_size {
        return; // this adapter's buffers can't even hold it; alloc reports that instead
    }
    let big = Tensor::empty(&[n]).unwrap();
    let e = big.exp().unwrap_err().to_string();
    assert!(
        e.contains("storage-binding limit") && e.contains("smaller batch"),
        "{e}"
    );
}

/// `fastshap profile`'s recorder: every launch between `profile_begin` and `profile_end` comes
/// back once, named by shader and entry point, with the FLOPs its op declared and a time; the
/// results computed while profiling are unchanged; nothing is recorded afterwards.
#[test]
fn profiling_records_each_launch_with_name_flops_and_time() {
    let ctx = fastshap::gpu::ctx();
    let (m, k, n) = (33, 17, 9);
    let a = Tensor::randn(&[m, k], 1).unwrap();
    let b = Tensor::randn(&[k, n], 2).unwrap();
    let want = a.matmul(&b).unwrap().to_vec().unwrap();
    ctx.profile_begin();
    let c = a.matmul(&b).unwrap();
    let y = c.relu().unwrap();
    let launches = ctx.profile_end();
    assert_eq!(c.to_vec().unwrap(), want, "profiling changed a result");
    assert!(y.to_vec().unwrap().iter().all(|v| *v >= 0.0));
    // Other tests' threads may launch kernels meanwhile (the profile is process-wide): find ours.
    let flops = 2.0 * (m * k * n) as f64;
    let mm = launches
        .iter()
        .find(|l| l.kernel.contains("matmul") && l.flops == flops)
        .unwrap_or_else(|| panic!("no matmul launch with {flops} FLOPs in {launches:?}"));
    assert!(mm.kernel.contains(".wgsl::"), "{mm:?}");
    assert!(mm.secs > 0.0 && mm.secs < 10.0, "{mm:?}");
    assert!(mm.bytes >= ((m * k + k * n + m * n) * 4) as u64, "{mm:?}");
    assert!(
        launches.iter().any(|l| l.flops == 0.0),
        "the relu (an op that declares no FLOPs) is missing: {launches:?}"
    );
    // Profiling is over: ending again returns nothing.
    a.matmul(&b).unwrap();
    assert!(ctx.profile_end().is_empty());
}

/// The cost-model probes run and give a positive, finite rate for every access kind (and the
/// subgroup broadcast where the adapter has subgroups).
#[test]
fn cost_model_probes_measure_every_access_kind() {
    let rows = fastshap::bench::probe::run(16).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.kernel.as_str()).collect();
    for want in [
        "probe/fma_chain",
        "probe/load_contiguous",
        "probe/load_scattered",
        "probe/barrier",
        "probe/dispatch",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert_eq!(
        names.contains(&"probe/subgroup_broadcast"),
        fastshap::gpu::ctx().has_subgroups()
    );
    for r in &rows {
        assert!(r.secs > 0.0 && r.secs.is_finite(), "{r:?}");
        if r.kernel != "probe/dispatch" {
            let g = r.gflops.unwrap();
            assert!(g > 0.0 && g.is_finite(), "{r:?}");
        }
    }
}
