//! `fastshap devices`: every backend wgpu knows, each adapter with the limits that matter for our
//! kernels, and the adapter `fastshap` would pick.

use crate::gpu::{self, Options, list_backends};
use anyhow::{Result, bail};

pub fn run(opts: &Options) -> Result<()> {
    // The pick honours --backend and --adapter; the listing filters by --backend only, so the
    // user sees what else exists.
    let (backends, chosen) = list_backends(opts)?;
    let all: Vec<_> = backends.iter().flat_map(|b| &b.adapters).collect();
    if let Some(want) = &opts.adapter
        && chosen.is_none()
    {
        let names: Vec<String> = all
            .iter()
            .map(|a| format!("{}: {}", a.index, a.info.name))
            .collect();
        if names.is_empty() {
            bail!("no adapter matches '{want}': {}", gpu::NO_ADAPTER_HINT);
        }
        bail!(
            "no adapter matches '{want}'; available: {}. {}",
            names.join(", "),
            gpu::NO_MATCH_HINT
        );
    }
    for b in &backends {
        match (b.unavailable, b.adapters.is_empty()) {
            (Some(why), _) => println!("{:?}: {why}", b.backend),
            (None, true) => println!("{:?}: no adapter found", b.backend),
            (None, false) => println!("{:?}:", b.backend),
        }
        for a in &b.adapters {
            let i = &a.info;
            let l = &a.limits;
            let pick = if chosen == Some(a.index) {
                "   <- fastshap uses this one"
            } else {
                ""
            };
            println!("  [{}] {}{pick}", a.index, i.name);
            // GL reports its version in driver_info and leaves driver empty.
            let driver = [i.driver.as_str(), i.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            println!("      type {:?}, driver {driver}", i.device_type);
            println!(
                "      max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB, invocations/workgroup {}, timestamps {}",
                l.max_storage_buffer_binding_size >> 20,
                l.max_buffer_size >> 20,
                l.max_compute_workgroup_storage_size >> 10,
                l.max_compute_invocations_per_workgroup,
                if a.timestamps { "yes" } else { "no" }
            );
        }
    }
    if all.is_empty() {
        bail!("{}", gpu::NO_ADAPTER_HINT);
    }
    Ok(())
}
