//! Batches kernel launches: one command encoder with one open compute pass collects dispatches
//! until a read-back, a copy or the batch limit forces a submit. On lavapipe a dispatch inside an
//! open pass costs ~15 µs versus ~60 µs with a pass per dispatch, and a submit ~0.4 ms.
//!
//! Kernel parameters (sizes, strides, scalars) go into one uniform arena per batch: each launch
//! binds its own 256-byte-aligned slice, and the arena is written once, just before the submit.

use super::profile::{self, Launch};
use super::{Context, GpuBuffer, Shader};

use std::sync::Arc;

/// Launches per submit; also the number of parameter slots in the arena.
const BATCH: usize = 512;
/// Bytes of parameters one launch may pass (64 words).
pub const PARAM_BYTES: usize = 256;

/// A storage buffer bound to a kernel: the whole buffer, or the first `bytes` of it.
#[derive(Clone, Copy)]
pub struct Binding<'a> {
    pub buffer: &'a GpuBuffer,
    pub bytes: u64,
}

impl Binding<'_> {
    pub fn size(&self) -> u64 {
        self.bytes
    }
}

/// One kernel launch. `bindings` go to `@binding(1..)` of `@group(0)` in order; `params`
/// (u32 words; f32 as bits) to the uniform at `@binding(0)`.
pub struct Dispatch<'a> {
    pub shader: &'a Shader,
    pub entry: &'static str,
    pub constants: &'a [(&'static str, f64)],
    pub params: &'a [u32],
    pub bindings: &'a [Binding<'a>],
    pub workgroups: [u32; 3],
}

pub(super) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    arena: wgpu::Buffer,
    params: Vec<u8>,
    launches: usize,
    timing: Option<Timing>,
    /// Staging buffers of uploads recorded in this batch, kept alive until it is submitted.
    staged: Vec<wgpu::Buffer>,
    /// Per-launch timing while `fastshap profile` (or a test) profiles.
    pub(super) profile: Option<profile::Active>,
}

struct Timing {
    queries: wgpu::QuerySet,
    started: bool,
}

impl Recorder {
    pub(super) fn new(device: &wgpu::Device, limits: &wgpu::Limits) -> Recorder {
        assert!(limits.min_uniform_buffer_offset_alignment as usize <= PARAM_BYTES);
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel params"),
            size: (BATCH * PARAM_BYTES) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Recorder {
            encoder: None,
            pass: None,
            arena,
            params: Vec::with_capacity(BATCH * PARAM_BYTES),
            launches: 0,
            timing: None,
            staged: Vec::new(),
            profile: None,
        }
    }

    fn encoder(&mut self, ctx: &Context) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            ctx.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
        })
    }

    fn pass(&mut self, ctx: &Context) -> &mut wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let timing = self.timing.as_mut().filter(|t| !t.started).map(|t| {
                t.started = true;
                wgpu::ComputePassTimestampWrites {
                    query_set: &t.queries,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }
            });
            let enc = self.encoder.get_or_insert_with(|| {
                ctx.device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
            });
            let pass = enc
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: None,
                    timestamp_writes: timing,
                })
                .forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().expect("pass just opened")
    }

    fn end_pass(&mut self) {
        self.pass = None;
    }

    pub(super) fn dispatch(
        &mut self,
        ctx: &Context,
        pipeline: &wgpu::ComputePipeline,
        d: &Dispatch,
    ) {
        if self.launches == BATCH {
            self.flush(ctx);
        }
        assert!(
            d.params.len() * 4 <= PARAM_BYTES,
            "{}: too many params",
            d.entry
        );
        let offset = self.params.len() as u64;
        self.params
            .extend_from_slice(bytemuck::cast_slice(d.params));
        self.params.resize(offset as usize + PARAM_BYTES, 0);
        self.launches += 1;

        let mut entries = Vec::with_capacity(d.bindings.len() + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.arena,
                offset,
                size: wgpu::BufferSize::new(PARAM_BYTES as u64),
            }),
        });
        for (i, b) in d.bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &b.buffer.buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(b.bytes.max(4).next_multiple_of(4)),
                }),
            });
        }
        let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        // Taken on every launch, so a count an op declared is never credited to a later one.
        let flops = profile::take_flops();
        let Some(prof) = self.profile.as_mut() else {
            encode(self.pass(ctx), pipeline, &group, d.workgroups, None);
            return;
        };
        let launch = Launch {
            kernel: format!("{}::{}", d.shader.name, d.entry),
            flops,
            bytes: d.bindings.iter().map(|b| b.bytes).sum(),
            secs: 0.0,
        };
        if prof.in_pass {
            let q = 2 * prof.pending.len() as u32;
            prof.pending.push(launch);
            let queries = prof
                .queries
                .clone()
                .expect("in-pass profiling has a query set");
            encode(
                self.pass(ctx),
                pipeline,
                &group,
                d.workgroups,
                Some((&queries, q)),
            );
            // The query set holds 2 timestamps per launch: resolve before it overflows.
            if q + 2 >= profile::QUERIES {
                self.flush(ctx);
            }
        } else {
            // No timestamps inside passes: time this launch alone, submit to idle.
            self.flush(ctx);
            let t0 = std::time::Instant::now();
            encode(self.pass(ctx), pipeline, &group, d.workgroups, None);
            self.flush(ctx);
            let _ = ctx.device.poll(wgpu::PollType::wait_indefinitely());
            let secs = t0.elapsed().as_secs_f64();
            let prof = self.profile.as_mut().expect("profiling");
            prof.done.push(Launch { secs, ..launch });
        }
    }

    pub(super) fn upload(&mut self, ctx: &Context, dst: &GpuBuffer, data: &[u8]) {
        use wgpu::util::DeviceExt;
        let mut padded;
        let bytes = if data.len().is_multiple_of(4) {
            data
        } else {
            padded = data.to_vec();
            padded.resize(data.len().next_multiple_of(4), 0);
            &padded[..]
        };
        let staging = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("upload"),
                contents: bytes,
                usage: wgpu::BufferUsages::COPY_SRC,
            });
        self.copy_raw(ctx, &staging, 0, &dst.buffer, 0, bytes.len() as u64);
        self.staged.push(staging);
        // Keep host memory bounded when many tensors are uploaded back to back.
        if self.staged.len() >= 64 {
            self.flush(ctx);
        }
    }

    pub(super) fn copy(
        &mut self,
        ctx: &Context,
        src: &GpuBuffer,
        so: u64,
        dst: &GpuBuffer,
        d: u64,
        n: u64,
    ) {
        self.copy_raw(ctx, &src.buffer, so, &dst.buffer, d, n);
    }

    pub(super) fn copy_raw(
        &mut self,
        ctx: &Context,
        src: &wgpu::Buffer,
        so: u64,
        dst: &wgpu::Buffer,
        d: u64,
        n: u64,
    ) {
        if n == 0 {
            return;
        }
        self.end_pass();
        self.encoder(ctx).copy_buffer_to_buffer(src, so, dst, d, n);
    }

    pub(super) fn flush(&mut self, ctx: &Context) {
        self.end_pass();
        // Profiled launches: resolve their timestamps in the same submit.
        let resolved = self.resolve_profile(ctx);
        let Some(enc) = self.encoder.take() else {
            return;
        };
        if !self.params.is_empty() {
            ctx.queue.write_buffer(&self.arena, 0, &self.params);
        }
        ctx.queue.submit([enc.finish()]);
        self.params.clear();
        self.launches = 0;
        self.staged.clear();
        if let Some(read) = resolved {
            self.read_profile(ctx, &read);
        }
    }

    /// Records the resolve of pending launch timestamps into the open encoder; returns the
    /// buffer to read after the submit.
    fn resolve_profile(&mut self, ctx: &Context) -> Option<wgpu::Buffer> {
        let prof = self.profile.as_ref()?;
        if !prof.in_pass || prof.pending.is_empty() {
            return None;
        }
        let queries = prof.queries.clone()?;
        let n = 2 * prof.pending.len() as u64;
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps"),
            size: n * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps read"),
            size: n * 8,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let enc = self.encoder(ctx);
        enc.resolve_query_set(&queries, 0..n as u32, &resolve, 0);
        enc.copy_buffer_to_buffer(&resolve, 0, &read, 0, n * 8);
        Some(read)
    }

    /// Reads resolved timestamps (after the submit) into the pending launches' times.
    fn read_profile(&mut self, ctx: &Context, read: &wgpu::Buffer) {
        read.slice(..).map_async(wgpu::MapMode::Read, |_| {});
        let _ = ctx.device.poll(wgpu::PollType::wait_indefinitely());
        let period = ctx.queue.get_timestamp_period() as f64 * 1e-9;
        let Some(prof) = self.profile.as_mut() else {
            return;
        };
        if let Ok(view) = read.slice(..).get_mapped_range() {
            let ts: &[u64] = bytemuck::cast_slice(&view[..]);
            for (i, mut l) in prof.pending.drain(..).enumerate() {
                l.secs = ts[2 * i + 1].saturating_sub(ts[2 * i]) as f64 * period;
                prof.done.push(l);
            }
        }
        read.unmap();
    }

    pub(super) fn begin_timing(&mut self, ctx: &Context) {
        self.end_pass();
        let queries = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timing"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        self.timing = Some(Timing {
            queries,
            started: false,
        });
    }

    /// Seconds between the start and end of the first compute pass opened since `begin_timing`.
    pub(super) fn end_timing(&mut self, ctx: &Context) -> Option<f64> {
        self.end_pass();
        let t = self.timing.take()?;
        if !t.started {
            return Some(0.0);
        }
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = Arc::new(ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps read"),
            size: 16,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
        let enc = self.encoder(ctx);
        enc.resolve_query_set(&t.queries, 0..2, &resolve, 0);
        enc.copy_buffer_to_buffer(&resolve, 0, &read, 0, 16);
        self.flush(ctx);
        read.slice(..).map_async(wgpu::MapMode::Read, |_| {});
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).ok()?;
        let view = read.slice(..).get_mapped_range().ok()?;
        let ts: &[u64] = bytemuck::cast_slice(&view[..16]);
        let ticks = ts[1].saturating_sub(ts[0]);
        let secs = ticks as f64 * ctx.queue.get_timestamp_period() as f64 * 1e-9;
        drop(view);
        read.unmap();
        Some(secs)
    }
}

/// Records one launch into `pass`, between timestamps `q` and `q + 1` of `timestamps` if given.
fn encode(
    pass: &mut wgpu::ComputePass<'static>,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    [x, y, z]: [u32; 3],
    timestamps: Option<(&wgpu::QuerySet, u32)>,
) {
    if let Some((queries, q)) = timestamps {
        pass.write_timestamp(queries, q);
    }
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[]);
    pass.dispatch_workgroups(x, y, z);
    if let Some((queries, q)) = timestamps {
        pass.write_timestamp(queries, q + 1);
    }
}
