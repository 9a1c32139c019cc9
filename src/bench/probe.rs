//! Cost-model probes for CPU adapters (`fastshap bench probe`): what one load, FMA, barrier,
//! broadcast or dispatch costs per lane on this adapter. Each probe (`shaders/probe.wgsl`) runs
//! 64 workgroups × 64 invocations × ITERS iterations of one access pattern; the rows give the
//! rate in G lane-operations per second and its cost in FMAs, so the rules in ARCHITECTURE.md
//! ("Facts about lavapipe") can be re-measured on any machine.

use super::{Row, time_gpu};
use crate::gpu::{self, Dispatch};
use crate::shader;
use crate::tensor::Tensor;
use anyhow::Result;

const N: usize = 1 << 20;
const GROUPS: u32 = 64;
const WG: u32 = 64;

/// (entry, operations per lane per iteration, what one operation is).
const PROBES: [(&str, f64, &str); 10] = [
    ("fma_chain", 32.0, "f32 FMA (vec4 chains)"),
    ("empty_loop", 1.0, "loop iteration"),
    ("load_contiguous", 4.0, "storage f32 load, contiguous lanes"),
    (
        "load_uniform",
        4.0,
        "storage f32 load, same address all lanes",
    ),
    ("load_scattered", 4.0, "storage f32 load, scattered"),
    ("load_vec4", 4.0, "storage f32 as vec4 load, contiguous"),
    ("load_workgroup", 4.0, "workgroup f32 load"),
    ("ubo_uniform", 4.0, "uniform u32 load, same address"),
    ("ubo_lane", 4.0, "uniform u32 load, per-lane address"),
    ("barrier", 1.0, "workgroupBarrier"),
];

/// One row per probe: `gflops` holds G operations per second (lane-operations, not FLOPs),
/// `shape` says what one operation is and what it costs in f32 FMAs (the first probe).
pub fn run(iters: u32) -> Result<Vec<Row>> {
    let ctx = gpu::ctx();
    let x = Tensor::randn(&[N], 7)?;
    let out = Tensor::zeros(&[(GROUPS * WG) as usize])?;
    let params: Vec<u32> = (0..64).map(|i| i * 7 + 1).collect();
    let lanes = (GROUPS * WG) as f64;
    let mut rows = Vec::new();
    let fma_rate = std::cell::Cell::new(None::<f64>);
    let mut probe = |name: String, what: &str, ops: f64, f: &mut dyn FnMut() -> Result<()>| {
        let mut err = None;
        let (secs, timer) = time_gpu(1, 5, || {
            if let Err(e) = f() {
                err = Some(e);
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        let rate = ops / secs;
        // Cost in FMAs: how many f32 FMAs (the first probe) a lane could do in the same time.
        let fmas = fma_rate.get().map_or(1.0, |f| f / rate);
        if fma_rate.get().is_none() {
            fma_rate.set(Some(rate));
        }
        rows.push(
            Row::new(
                format!("probe/{name}"),
                format!("{what} = {fmas:.1} FMA"),
                secs,
                timer,
            )
            .flops(rate * secs),
        );
        Ok(())
    };
    for (entry, per_iter, what) in PROBES {
        let ops = lanes * per_iter * iters as f64;
        probe(entry.to_string(), what, ops, &mut || {
            ctx.dispatch(Dispatch {
                shader: &shader!("probe"),
                entry,
                constants: &[("ITERS", iters as f64)],
                params: &params,
                bindings: &[x.bind(), x.bind(), out.bind()],
                workgroups: [GROUPS, 1, 1],
            })
        })?;
    }
    if ctx.has_subgroups() {
        let ops = lanes * 16.0 * iters as f64;
        probe(
            "subgroup_broadcast".into(),
            "f32 from another lane (subgroupBroadcast)",
            ops,
            &mut || {
                ctx.dispatch(Dispatch {
                    shader: &shader!("probe_subgroup"),
                    entry: "broadcast",
                    constants: &[("ITERS", iters as f64)],
                    params: &params,
                    bindings: &[out.bind()],
                    workgroups: [GROUPS, 1, 1],
                })
            },
        )?;
    }
    // Dispatch cost: 200 empty one-workgroup launches recorded into one pass.
    let launches = 200;
    let (secs, timer) = time_gpu(1, 5, || {
        for _ in 0..launches {
            let _ = ctx.dispatch(Dispatch {
                shader: &shader!("probe"),
                entry: "nothing",
                constants: &[("ITERS", 1.0)],
                params: &params,
                bindings: &[x.bind(), x.bind(), out.bind()],
                workgroups: [1, 1, 1],
            });
        }
    });
    let us = secs * 1e6 / launches as f64;
    rows.push(Row::new(
        "probe/dispatch",
        format!("empty dispatch: {us:.1} us each"),
        secs,
        timer,
    ));
    Ok(rows)
}
