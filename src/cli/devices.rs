//! `fastshap devices`: every adapter with the limits that matter for our kernels.

use crate::gpu::{self, Options, list_adapters};
use anyhow::{Result, bail};

pub fn run(opts: &Options) -> Result<()> {
    let all = list_adapters(opts.backend.as_deref())?;
    let shown: Vec<_> = match &opts.adapter {
        None => all.iter().collect(),
        Some(want) => {
            let w = want.to_lowercase();
            all.iter()
                .filter(|a| a.index.to_string() == *want || a.info.name.to_lowercase().contains(&w))
                .collect()
        }
    };
    if shown.is_empty() {
        if let Some(want) = &opts.adapter {
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
        bail!("{}", gpu::NO_ADAPTER_HINT);
    }
    for a in shown {
        let i = &a.info;
        let l = &a.limits;
        println!("[{}] {}", a.index, i.name);
        println!(
            "    backend {:?}, type {:?}, driver {} {}",
            i.backend, i.device_type, i.driver, i.driver_info
        );
        println!(
            "    max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB, invocations/workgroup {}, timestamps {}",
            l.max_storage_buffer_binding_size as u64 >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup,
            if a.timestamps { "yes" } else { "no" }
        );
    }
    Ok(())
}
