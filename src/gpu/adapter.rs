//! Adapter discovery and selection (`--adapter`, `--backend`, `FASTSHAP_ADAPTER`).

use super::KernelClass;
use anyhow::{Result, bail};

/// How to pick the adapter.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// An index into [`list_adapters`] or a case-insensitive substring of the adapter's name.
    pub adapter: Option<String>,
    /// `vulkan`, `metal`, `dx12` or `gl`; all backends when `None`.
    pub backend: Option<String>,
    /// Forces the kernel family instead of deriving it from the device type.
    pub kernel_class: Option<KernelClass>,
}

impl Options {
    /// Defaults plus `FASTSHAP_ADAPTER` and `FASTSHAP_BACKEND` from the environment.
    pub fn from_env() -> Options {
        Options {
            adapter: std::env::var("FASTSHAP_ADAPTER")
                .ok()
                .filter(|s| !s.is_empty()),
            backend: std::env::var("FASTSHAP_BACKEND")
                .ok()
                .filter(|s| !s.is_empty()),
            kernel_class: None,
        }
    }
}

pub fn parse_backend(name: Option<&str>) -> Result<wgpu::Backends> {
    Ok(match name.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("all") => wgpu::Backends::all(),
        Some("vulkan") => wgpu::Backends::VULKAN,
        Some("metal") => wgpu::Backends::METAL,
        Some("dx12") => wgpu::Backends::DX12,
        Some("gl") => wgpu::Backends::GL,
        Some(other) => bail!("unknown backend '{other}': expected vulkan, metal, dx12 or gl"),
    })
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        // No validation layers: they are rarely installed and slow every launch.
        flags: wgpu::InstanceFlags::empty(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance(backends).enumerate_adapters(backends))
}

/// What `fastshap devices` prints for one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub index: usize,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub timestamps: bool,
}

pub fn list_adapters(backend: Option<&str>) -> Result<Vec<AdapterSummary>> {
    let backends = parse_backend(backend)?;
    Ok(enumerate(backends)
        .iter()
        .enumerate()
        .map(|(index, a)| AdapterSummary {
            index,
            info: a.get_info(),
            limits: a.limits(),
            timestamps: a.features().contains(wgpu::Features::TIMESTAMP_QUERY),
        })
        .collect())
}

pub const NO_ADAPTER_HINT: &str = "no GPU adapter found. On Linux without a GPU install Mesa's \
software Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`), or check that \
the Vulkan loader (libvulkan1) and your GPU driver are installed";

/// Appended when adapters exist but none matches the user's choice.
pub const NO_MATCH_HINT: &str = "(Without a GPU on Linux, Mesa's software Vulkan driver from the \
package mesa-vulkan-drivers provides one named llvmpipe.)";

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

pub(super) fn select(opts: &Options) -> Result<wgpu::Adapter> {
    let backends = parse_backend(opts.backend.as_deref())?;
    let adapters = enumerate(backends);
    if adapters.is_empty() {
        bail!("{NO_ADAPTER_HINT}");
    }
    let names: Vec<String> = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{i}: {} ({:?})", a.get_info().name, a.get_info().backend))
        .collect();
    if let Some(want) = &opts.adapter {
        if let Ok(i) = want.parse::<usize>() {
            return match adapters.into_iter().nth(i) {
                Some(a) => Ok(a),
                None => bail!(
                    "no adapter with index {i}; available: {}. {NO_MATCH_HINT}",
                    names.join(", ")
                ),
            };
        }
        let w = want.to_lowercase();
        return match adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&w))
        {
            Some(a) => Ok(a),
            None => bail!(
                "no adapter matches '{want}'; available: {}. {NO_MATCH_HINT}",
                names.join(", ")
            ),
        };
    }
    // High performance first: discrete > integrated > virtual > other > CPU; Vulkan breaks ties.
    let mut adapters = adapters;
    adapters.sort_by_key(|a| {
        let i = a.get_info();
        (rank(i.device_type), i.backend != wgpu::Backend::Vulkan)
    });
    Ok(adapters.into_iter().next().expect("non-empty"))
}
