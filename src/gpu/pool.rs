//! A buffer pool keyed by size class, so steady-state training allocates nothing.
//!
//! Reuse is safe without fences: a buffer returns here when its last tensor is dropped, and any
//! later launch that receives it is recorded after every launch that used it before; the queue
//! executes in order and wgpu inserts the barriers between dispatches.

use std::collections::HashMap;
use std::sync::Mutex;

/// A pooled storage buffer; returns to the pool when dropped.
pub struct GpuBuffer {
    pub buffer: wgpu::Buffer,
    /// Size class (the buffer's real size in bytes).
    class: u64,
}

impl GpuBuffer {
    pub fn size(&self) -> u64 {
        self.class
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        // Buffer handles are reference counted by wgpu, so handing a clone to the pool is cheap.
        super::ctx().release(self.buffer.clone(), self.class);
    }
}

#[derive(Default)]
pub(super) struct Pool {
    free: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    stats: Mutex<PoolStats>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    /// Buffers created on the device since start.
    pub created: u64,
    /// Bytes in buffers created on the device since start.
    pub created_bytes: u64,
    /// Allocations served from the pool.
    pub reused: u64,
}

/// Rounds up to a size class: powers of two split into 4 steps, so at most 25% is wasted
/// (and at least 256 bytes, the alignment uniform offsets need anyway).
pub fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    let p = b.next_power_of_two();
    if p == b {
        return b;
    }
    let step = p / 8; // between p/2 and p in steps of p/8
    b.div_ceil(step) * step
}

impl Pool {
    pub(super) fn take(&self, device: &wgpu::Device, bytes: u64) -> std::sync::Arc<GpuBuffer> {
        let class = size_class(bytes);
        if let Some(b) = self
            .free
            .lock()
            .unwrap()
            .get_mut(&class)
            .and_then(|v| v.pop())
        {
            self.stats.lock().unwrap().reused += 1;
            return std::sync::Arc::new(GpuBuffer { buffer: b, class });
        }
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: class,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut s = self.stats.lock().unwrap();
        s.created += 1;
        s.created_bytes += class;
        std::sync::Arc::new(GpuBuffer { buffer, class })
    }

    pub(super) fn give_back(&self, buf: wgpu::Buffer, class: u64) {
        self.free
            .lock()
            .unwrap()
            .entry(class)
            .or_default()
            .push(buf);
    }

    pub(super) fn stats(&self) -> PoolStats {
        *self.stats.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;
    #[test]
    fn classes_cover_and_waste_little() {
        for b in [
            1u64,
            255,
            256,
            257,
            1000,
            4096,
            4097,
            123_457,
            1 << 20,
            (1 << 20) + 1,
        ] {
            let c = size_class(b);
            assert!(c >= b && c >= 256, "{b} -> {c}");
            assert!(
                c <= (b.max(256) as f64 * 1.25) as u64 + 1,
                "{b} -> {c} wastes too much"
            );
            assert_eq!(c % 4, 0);
        }
    }
}
