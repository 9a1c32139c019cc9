//! The official CIFAR-10 binary reader: the input is cut into a training batch, a test batch and
//! (optionally) `batches.meta.txt`, packed as a tar and loaded. Any input must give Ok or a clean
//! error, never a panic or an out-of-bounds read.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // Two little-endian u16 cut points pick where the batch files and the class list split.
    let a = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 4);
    let rest = &data[4..];
    let a = a.min(rest.len());
    let b = (u16::from_le_bytes([data[2], data[3]]) as usize).min(rest.len() - a);
    let (train, tail) = rest.split_at(a);
    let (test, meta) = tail.split_at(b);
    let mut files: Vec<(&str, &[u8])> = vec![
        ("cifar-10-batches-bin/data_batch_1.bin", train),
        ("cifar-10-batches-bin/test_batch.bin", test),
    ];
    if !meta.is_empty() {
        files.push(("cifar-10-batches-bin/batches.meta.txt", meta));
    }
    let _ = fastshap::data::load_bytes("fuzz", &common::tar_of(&files));
});
