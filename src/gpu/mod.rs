//! The GPU context: one adapter, device and queue for the process, plus the machinery every
//! kernel launch goes through (pipeline cache, buffer pool, the batching recorder).
//!
//! Why a process-wide context: tensors are dropped from anywhere and must hand their buffers back
//! to the pool; threading a `&Context` through every op would make model code read nothing like
//! its paper. The context is created on first use with [`Options::from_env`], or explicitly with
//! [`init`] (the CLI does this to honour `--adapter`/`--backend`).

mod adapter;
mod launch;
mod pool;
pub mod profile;
mod recorder;

pub use adapter::{
    AdapterSummary, BackendListing, NO_ADAPTER_HINT, NO_MATCH_HINT, Options, list_adapters,
    list_backends,
};
pub use launch::{fill, grid};
pub use pool::{GpuBuffer, PoolStats};
pub use recorder::{Binding, Dispatch};

use anyhow::{Result, anyhow, bail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A WGSL kernel: the file it lives in (for messages) and its source, compiled lazily.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

/// Declares a [`Shader`] from a file in `shaders/`, e.g. `shader!("reduce")`. Shared snippets
/// (files starting with `_`) that a kernel names in its `// requires:` line are prepended:
/// `shader!("binary", "_binary_ops")`.
#[macro_export]
macro_rules! shader {
    ($name:literal $(, $req:literal)*) => {
        $crate::gpu::Shader {
            name: concat!($name, ".wgsl"),
            source: concat!(
                $(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $req, ".wgsl")), "\n",)*
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $name, ".wgsl"))
            ),
        }
    };
}

/// The WGSL a backend compiles for a kernel's source. A browser's WebGPU (Dawn/Tint) rejects
/// subgroup builtins unless the module says `enable subgroups;`, which naga 30 does not parse
/// (it translates the builtins for native backends without it), so the directive is added only
/// where the source goes to the browser verbatim.
pub fn wgsl_for(backend: wgpu::Backend, source: &str) -> std::borrow::Cow<'_, str> {
    let uses_subgroups = source.lines().any(|l| {
        l.split("//")
            .next()
            .is_some_and(|code| code.contains("subgroup"))
    });
    if backend == wgpu::Backend::BrowserWebGpu && uses_subgroups {
        format!("enable subgroups;\n{source}").into()
    } else {
        source.into()
    }
}

/// Which family of kernel variants suits the adapter. Software adapters (lavapipe) pay dearly for
/// `workgroupBarrier`, so they get barrier-free register-blocked kernels; real GPUs get
/// shared-memory tiles. The choice lives here, in one place, and can be forced for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelClass {
    Cpu,
    Gpu,
}

pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    kernel_class: Mutex<KernelClass>,
    poison: std::sync::atomic::AtomicBool,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
    pool: pool::Pool,
    recorder: Mutex<recorder::Recorder>,
    /// Held for the whole of one [`Context::gpu_time`]: the recorder has one timing slot, and a
    /// second thread's `gpu_time` between another's begin and end replaced it (that one then
    /// read nothing — a test flake under parallel tests).
    timing_gate: Mutex<()>,
    /// While [`Context::dry_run`] runs: launches are checked against the limits, not recorded.
    dry_run: std::sync::atomic::AtomicBool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct PipelineKey {
    checked: bool,
    shader: &'static str,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();

/// A launch that would bind more bytes than the adapter allows in one storage binding, caught
/// before anything is submitted. A typed error so callers that know the batch size (training)
/// can turn it into a suggestion.
#[derive(Debug, Clone)]
pub struct BindingTooLarge {
    /// `shader::entry` of the kernel.
    pub kernel: String,
    pub bytes: u64,
    pub limit: u64,
    pub adapter: String,
}

impl std::fmt::Display for BindingTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kernel {} binds {} MiB, over this adapter's storage-binding limit of {} MiB ('{}'); use a smaller batch",
            self.kernel,
            self.bytes >> 20,
            self.limit >> 20,
            self.adapter
        )
    }
}

impl std::error::Error for BindingTooLarge {}

/// One line for an uncaught wgpu error (they arrive from a callback, where all we can do is
/// print and exit): what kind of failure it is, what to do, and wgpu's text with its line
/// breaks folded, so the user sees one clear line rather than a multi-line dump.
pub fn describe_gpu_error(e: &wgpu::Error) -> String {
    let (kind, hint) = match e {
        wgpu::Error::OutOfMemory { .. } => (
            "out of GPU memory",
            "try a smaller --batch-size or another adapter (fastshap devices)",
        ),
        wgpu::Error::Validation { .. } => (
            "GPU validation error",
            "this is a bug in fastshap; please report it with the command line",
        ),
        wgpu::Error::Internal { .. } => (
            "GPU internal error (device lost?)",
            "check the driver, or try another adapter (fastshap devices)",
        ),
    };
    let text = e.to_string();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("error: {kind}: {text} ({hint})")
}

thread_local! {
    static KERNEL_CLASS_OVERRIDE: std::cell::Cell<Option<KernelClass>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with kernels of family `k` on this thread only (tests run both variants side by side
/// on one adapter without racing other tests).
pub fn with_kernel_class<T>(k: KernelClass, f: impl FnOnce() -> T) -> T {
    let before = KERNEL_CLASS_OVERRIDE.with(|o| o.replace(Some(k)));
    struct Restore(Option<KernelClass>);
    impl Drop for Restore {
        fn drop(&mut self) {
            KERNEL_CLASS_OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(before);
    f()
}

/// Creates the process-wide context with explicit options. Errors if one already exists with a
/// different adapter, or if no adapter matches.
pub fn init(opts: &Options) -> Result<&'static Context> {
    pollster::block_on(init_async(opts))
}

/// [`init`] for callers that must not block: in a browser, adapter and device requests are
/// promises that resolve only while the page's event loop runs.
pub async fn init_async(opts: &Options) -> Result<&'static Context> {
    if let Some(c) = CONTEXT.get() {
        return Ok(c);
    }
    let ctx = Context::new(opts).await?;
    let _ = CONTEXT.set(ctx);
    Ok(CONTEXT.get().expect("context just set"))
}

/// The first uncaught wgpu error of a browser page, taken once. Natively such an error ends the
/// process (see [`Context`]'s device callback); a page cannot exit, so it keeps the message for
/// the caller to show.
#[cfg(target_arch = "wasm32")]
pub fn take_uncaptured_error() -> Option<String> {
    UNCAPTURED.lock().unwrap().take()
}

#[cfg(target_arch = "wasm32")]
static UNCAPTURED: Mutex<Option<String>> = Mutex::new(None);

/// The process-wide context, created from the environment on first use.
///
/// Panics only when no adapter exists at all; the CLI calls [`init`] first so users get a clean
/// error instead.
pub fn ctx() -> &'static Context {
    if let Some(c) = CONTEXT.get() {
        return c;
    }
    match init(&Options::from_env()) {
        Ok(c) => c,
        Err(e) => panic!("fastshap: cannot start the GPU context: {e:#}"),
    }
}

impl Context {
    async fn new(opts: &Options) -> Result<Context> {
        let adapter = adapter::select(opts).await?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        // Optional features, used where the adapter has them: timestamp queries for kernel
        // timing, subgroup operations for kernels that share loaded values between lanes.
        let features = adapter.features()
            & (wgpu::Features::TIMESTAMP_QUERY
                | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
                | wgpu::Features::SUBGROUP);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("fastshap"),
                required_features: features,
                // The adapter's real limits: wgpu's defaults cap storage bindings at 128 MiB.
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| anyhow!("cannot open device on adapter '{}': {e}", info.name))?;
        device.on_uncaptured_error(Arc::new(|e: wgpu::Error| {
            // Validation errors are bugs in our kernels or launches; out-of-memory and device loss
            // are reported here too. Either way the run cannot continue meaningfully.
            #[cfg(not(target_arch = "wasm32"))]
            {
                eprintln!("{}", describe_gpu_error(&e));
                std::process::exit(3);
            }
            #[cfg(target_arch = "wasm32")]
            UNCAPTURED
                .lock()
                .unwrap()
                .get_or_insert_with(|| describe_gpu_error(&e));
        }));
        let kernel_class = match (opts.kernel_class, info.device_type) {
            (Some(k), _) => k,
            (None, wgpu::DeviceType::Cpu) => KernelClass::Cpu,
            (None, _) => KernelClass::Gpu,
        };
        let recorder = recorder::Recorder::new(&device, &limits);
        Ok(Context {
            pool: pool::Pool::default(),
            recorder: Mutex::new(recorder),
            timing_gate: Mutex::new(()),
            dry_run: std::sync::atomic::AtomicBool::new(false),
            pipelines: Mutex::new(HashMap::new()),
            kernel_class: Mutex::new(kernel_class),
            poison: std::sync::atomic::AtomicBool::new(false),
            device,
            queue,
            info,
            limits,
            features,
        })
    }

    /// The kernel family launches on this thread use: a [`with_kernel_class`] override, else
    /// the process-wide choice.
    pub fn kernel_class(&self) -> KernelClass {
        KERNEL_CLASS_OVERRIDE
            .with(|o| o.get())
            .unwrap_or_else(|| *self.kernel_class.lock().unwrap())
    }

    /// Forces a kernel family for the whole process.
    pub fn set_kernel_class(&self, k: KernelClass) {
        *self.kernel_class.lock().unwrap() = k;
    }

    /// When on, every new tensor starts filled with NaN, so a kernel that leaves an element
    /// unwritten fails its test instead of passing on stale data. Tests turn it on.
    pub fn set_poison(&self, on: bool) {
        self.poison.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn poison(&self) -> bool {
        self.poison.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Starts recording every launch with its own time (see [`profile`]); returns the timer
    /// the adapter allows. Pending work is submitted first so it is not counted. Process-wide:
    /// launches from every thread are recorded.
    pub fn profile_begin(&self) -> profile::Timer {
        self.flush();
        self.sync();
        let in_pass = self.features.contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
        );
        let queries = in_pass.then(|| {
            self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile"),
                ty: wgpu::QueryType::Timestamp,
                count: profile::QUERIES,
            })
        });
        self.recorder.lock().unwrap().profile = Some(profile::Active {
            in_pass,
            queries,
            pending: Vec::new(),
            done: Vec::new(),
        });
        if in_pass {
            profile::Timer::GpuTimestamps
        } else {
            profile::Timer::WallClock
        }
    }

    /// Stops profiling and returns the launches recorded since [`Context::profile_begin`].
    pub fn profile_end(&self) -> Vec<profile::Launch> {
        self.flush();
        self.sync();
        let prof = self.recorder.lock().unwrap().profile.take();
        prof.map(|p| p.done).unwrap_or_default()
    }

    /// Whether kernels may use WGSL's subgroup operations on this device.
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP)
    }

    /// Whether every subgroup has exactly `n` lanes (kernels written for one width check this).
    pub fn subgroups_of(&self, n: u32) -> bool {
        self.has_subgroups() && self.info.subgroup_min_size == n && self.info.subgroup_max_size == n
    }

    /// The compiled pipeline for `shader`'s `entry` with these `override` constants, cached.
    pub fn pipeline(
        &self,
        shader: &Shader,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Arc<wgpu::ComputePipeline> {
        // Runtime bounds checks stay on in debug builds and whenever tests poison new tensors
        // (the kernel tests run in release builds), and are dropped otherwise.
        let checked = cfg!(debug_assertions) || self.poison();
        let key = PipelineKey {
            checked,
            shader: shader.name,
            entry,
            constants: constants.iter().map(|(k, v)| (*k, v.to_bits())).collect(),
        };
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return p.clone();
        }
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(shader.name),
            source: wgpu::ShaderSource::Wgsl(wgsl_for(self.info.backend, shader.source)),
        };
        let module = if checked {
            self.device.create_shader_module(desc)
        } else {
            // SAFETY: every kernel guards its own indices against the tensor sizes it is given
            // (tested against NaN-poisoned outputs in debug builds, where checks stay on).
            unsafe {
                self.device
                    .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
            }
        };
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    // Our kernels initialise what they read from workgroup memory.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        let p = Arc::new(pipeline);
        self.pipelines.lock().unwrap().insert(key, p.clone());
        p
    }

    /// A buffer of at least `bytes` bytes from the pool (contents undefined).
    pub fn alloc(&self, bytes: u64) -> Result<Arc<GpuBuffer>> {
        let max = self.limits.max_buffer_size;
        if bytes > max {
            bail!(
                "a tensor of {} MiB exceeds this adapter's largest buffer ({} MiB on '{}'); use a smaller batch",
                bytes >> 20,
                max >> 20,
                self.info.name
            );
        }
        Ok(self.pool.take(&self.device, bytes))
    }

    pub(crate) fn release(&self, buf: wgpu::Buffer, class: u64) {
        self.pool.give_back(buf, class);
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Records one kernel launch. Launches are batched into one command encoder and compute pass
    /// and submitted every few hundred dispatches or when a result is read back.
    pub fn dispatch(&self, d: Dispatch<'_>) -> Result<()> {
        let max_bind = self.limits.max_storage_buffer_binding_size;
        if let Some(b) = d.bindings.iter().find(|b| b.size() > max_bind) {
            return Err(BindingTooLarge {
                kernel: format!("{}::{}", d.shader.name, d.entry),
                bytes: b.size(),
                limit: max_bind,
                adapter: self.info.name.clone(),
            }
            .into());
        }
        if self.dry_run.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let pipeline = self.pipeline(d.shader, d.entry, d.constants);
        self.recorder.lock().unwrap().dispatch(self, &pipeline, &d);
        Ok(())
    }

    /// Runs `f` with launches, uploads and copies checked against the adapter's limits but not
    /// executed, to find out cheaply whether a computation fits (e.g. the largest batch). Values
    /// computed inside are garbage; nothing inside may depend on them. Process-wide: meant for a
    /// run that has already failed, not for use while other threads compute.
    pub fn dry_run<T>(&self, f: impl FnOnce() -> T) -> T {
        use std::sync::atomic::Ordering::Relaxed;
        let before = self.dry_run.swap(true, Relaxed);
        let out = f();
        self.dry_run.store(before, Relaxed);
        out
    }

    /// Uploads host data into `dst` in stream order (after every launch recorded so far).
    pub fn upload(&self, dst: &GpuBuffer, data: &[u8]) {
        if self.dry_run.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        self.recorder.lock().unwrap().upload(self, dst, data);
    }

    /// Copies `bytes` bytes between buffers in stream order.
    pub fn copy(&self, src: &GpuBuffer, src_off: u64, dst: &GpuBuffer, dst_off: u64, bytes: u64) {
        if self.dry_run.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        self.recorder
            .lock()
            .unwrap()
            .copy(self, src, src_off, dst, dst_off, bytes);
    }

    /// Submits everything recorded so far.
    pub fn flush(&self) {
        self.recorder.lock().unwrap().flush(self);
    }

    /// Submits and waits until the device is idle.
    pub fn sync(&self) {
        self.flush();
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// Starts reading `bytes` bytes of `src` back to the host; the data is ready when the
    /// returned [`Readback`] is waited on. Several read-backs can be in flight at once.
    pub fn read_async(&self, src: &GpuBuffer, bytes: u64) -> Readback {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut rec = self.recorder.lock().unwrap();
            rec.copy_raw(self, &src.buffer, 0, &staging, 0, bytes.next_multiple_of(4));
            rec.flush(self);
        }
        let mapped = Arc::new(Mapped::default());
        let done = mapped.clone();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let mut st = done.0.lock().unwrap();
            st.0 = Some(r);
            if let Some(w) = st.1.take() {
                w.wake();
            }
        });
        Readback {
            staging,
            bytes,
            mapped,
        }
    }

    /// Times the GPU work recorded by `f` with timestamp queries (seconds), or `None` when the
    /// adapter has no timestamps. Everything `f` records runs in one compute pass. Calls from
    /// several threads take turns (one window at a time); launches other threads record inside
    /// a window count in it.
    pub fn gpu_time<T>(&self, f: impl FnOnce() -> T) -> (T, Option<f64>) {
        if !self.has_timestamps() {
            return (f(), None);
        }
        let _turn = self.timing_gate.lock().unwrap_or_else(|e| e.into_inner());
        self.flush();
        self.recorder.lock().unwrap().begin_timing(self);
        let out = f();
        let secs = self.recorder.lock().unwrap().end_timing(self);
        (out, secs)
    }
}

/// A read-back in flight; [`Readback::wait`] blocks until the bytes are on the host,
/// [`Readback::wait_async`] awaits them (the only way in a browser, where the mapping completes
/// from the page's event loop).
pub struct Readback {
    staging: wgpu::Buffer,
    bytes: u64,
    mapped: Arc<Mapped>,
}

/// The mapping's outcome once wgpu reports it, and the task waiting for it.
#[derive(Default)]
struct Mapped(Mutex<(Option<MapResult>, Option<std::task::Waker>)>);

type MapResult = Result<(), wgpu::BufferAsyncError>;

impl std::future::Future for &Mapped {
    type Output = MapResult;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut st = self.0.lock().unwrap();
        match st.0.take() {
            Some(r) => std::task::Poll::Ready(r),
            None => {
                st.1 = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}

impl Readback {
    pub fn wait(self) -> Result<Vec<u8>> {
        let c = ctx();
        loop {
            if let Some(r) = self.mapped.0.lock().unwrap().0.take() {
                r.map_err(|e| anyhow!("reading a tensor back from the GPU failed: {e}"))?;
                break;
            }
            c.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| anyhow!("GPU device lost while waiting for results: {e}"))?;
        }
        self.take()
    }

    pub async fn wait_async(self) -> Result<Vec<u8>> {
        // Natively the mapping completes inside `poll`; in a browser, on the event loop.
        #[cfg(not(target_arch = "wasm32"))]
        ctx()
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| anyhow!("GPU device lost while waiting for results: {e}"))?;
        (&*self.mapped)
            .await
            .map_err(|e| anyhow!("reading a tensor back from the GPU failed: {e}"))?;
        #[cfg(target_arch = "wasm32")]
        if let Some(e) = take_uncaptured_error() {
            bail!("{e}");
        }
        self.take()
    }

    /// The mapped bytes (the mapping has completed).
    fn take(self) -> Result<Vec<u8>> {
        let view = self
            .staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| anyhow!("mapping a read-back buffer failed: {e}"))?;
        let out = view[..self.bytes as usize].to_vec();
        drop(view);
        self.staging.unmap();
        Ok(out)
    }
}
