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

/// The index into `adapters` that `opts` picks: `--adapter` by index or name, else high
/// performance first (discrete > integrated > virtual > other > CPU; Vulkan breaks ties).
fn choose(adapters: &[wgpu::AdapterInfo], opts: &Options) -> Result<usize> {
    if adapters.is_empty() {
        bail!("{NO_ADAPTER_HINT}");
    }
    let names: Vec<String> = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{i}: {} ({:?})", a.name, a.backend))
        .collect();
    if let Some(want) = &opts.adapter {
        if let Ok(i) = want.parse::<usize>() {
            if i < adapters.len() {
                return Ok(i);
            }
            bail!(
                "no adapter with index {i}; available: {}. {NO_MATCH_HINT}",
                names.join(", ")
            );
        }
        let w = want.to_lowercase();
        return match adapters
            .iter()
            .position(|a| a.name.to_lowercase().contains(&w))
        {
            Some(i) => Ok(i),
            None => bail!(
                "no adapter matches '{want}'; available: {}. {NO_MATCH_HINT}",
                names.join(", ")
            ),
        };
    }
    Ok((0..adapters.len())
        .min_by_key(|&i| {
            let a = &adapters[i];
            (rank(a.device_type), a.backend != wgpu::Backend::Vulkan)
        })
        .expect("non-empty"))
}

/// The adapter `opts` picks. In a browser there is one choice, the page's WebGPU adapter
/// (high-performance preferred); `--adapter`/`--backend` do not exist there.
#[cfg(target_arch = "wasm32")]
pub(super) async fn select(_opts: &Options) -> Result<wgpu::Adapter> {
    let backends = wgpu::Backends::BROWSER_WEBGPU;
    instance(backends)
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("this browser offers no WebGPU adapter: {e}"))
}

#[cfg(not(target_arch = "wasm32"))]
pub(super) async fn select(opts: &Options) -> Result<wgpu::Adapter> {
    let backends = parse_backend(opts.backend.as_deref())?;
    let adapters = enumerate(backends);
    let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(|a| a.get_info()).collect();
    let i = choose(&infos, opts)?;
    Ok(adapters
        .into_iter()
        .nth(i)
        .expect("chosen index is in range"))
}

/// The backends wgpu can have, in the order `fastshap devices` shows them.
const BACKENDS: [(wgpu::Backend, wgpu::Backends); 4] = [
    (wgpu::Backend::Vulkan, wgpu::Backends::VULKAN),
    (wgpu::Backend::Metal, wgpu::Backends::METAL),
    (wgpu::Backend::Dx12, wgpu::Backends::DX12),
    (wgpu::Backend::Gl, wgpu::Backends::GL),
];

/// One backend as `fastshap devices` shows it.
#[derive(Clone, Debug)]
pub struct BackendListing {
    pub backend: wgpu::Backend,
    /// Why this binary cannot use the backend (not built for this OS), or `None`.
    pub unavailable: Option<&'static str>,
    /// Its adapters, with indices valid for `--adapter` under the same `--backend`.
    pub adapters: Vec<AdapterSummary>,
}

/// Every backend wgpu knows (those `backend` selects; all when `None`), each with its adapters,
/// and the index of the adapter `opts` would pick (`None` when it picks none).
pub fn list_backends(opts: &Options) -> Result<(Vec<BackendListing>, Option<usize>)> {
    let selected = parse_backend(opts.backend.as_deref())?;
    let all = list_adapters(opts.backend.as_deref())?;
    let infos: Vec<wgpu::AdapterInfo> = all.iter().map(|a| a.info.clone()).collect();
    let chosen = choose(&infos, opts).ok();
    let built = wgpu::Instance::enabled_backend_features();
    let listings = BACKENDS
        .iter()
        .filter(|(_, bit)| selected.contains(*bit))
        .map(|&(backend, bit)| BackendListing {
            backend,
            unavailable: (!built.contains(bit)).then_some(match backend {
                wgpu::Backend::Metal => "not available: Metal exists on macOS and iOS only",
                wgpu::Backend::Dx12 => "not available: DirectX 12 exists on Windows only",
                _ => "not available: this binary was built without it",
            }),
            adapters: all
                .iter()
                .filter(|a| a.info.backend == backend)
                .cloned()
                .collect(),
        })
        .collect();
    Ok((listings, chosen))
}
