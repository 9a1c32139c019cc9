//! Checkpoints as a stranger hands them over: the bytes as a safetensors file, through
//! everything loading does before the GPU. The header (`checkpoint::parse_header`); the metadata
//! as each role's loader checks it (an original's `fastshap.arch` + `fastshap.config`, a
//! surrogate's superpixel, classes and recorded original, an explainer's UNet config, classes and
//! recorded surrogate path; without metadata, `--arch` inference from the tensor shapes); the
//! header's tensors against the network that metadata describes (`checkpoint::check_entries`,
//! with a 128 MiB device limit); then the values (`checkpoint::match_bytes`). Recorded paths are
//! opened through `checkpoint::read_stored` when they name one of a scratch folder's awkward
//! files (a FIFO, a folder, an empty file) or /dev/zero: each must be refused, not read or
//! waited on. The property checked: a header that passes never promises more tensor bytes than
//! the file holds, so nothing is allocated beyond the file's size.
#![no_main]

use fastshap::checkpoint::{self, Metadata};
use fastshap::fastshap::{explainer, surrogate};
use fastshap::models::Plan;
use fastshap::train::arch::{ArchHint, ClassifierArch, resolve};
use fastshap::train::model::Spec;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fixed layout of files without metadata that inference does not take.
fn fixed() -> Plan {
    vec![
        ("embed.weight".to_string(), vec![4, 3]),
        ("embed.bias".to_string(), vec![4]),
        ("head.weight".to_string(), vec![2, 4]),
    ]
}

/// A folder of files a recorded path may name.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("fastshap-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(d.join("dir")).unwrap();
        std::fs::write(d.join("empty"), b"").unwrap();
        let fifo = d.join("fifo");
        if !fifo.exists() {
            let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(ok.is_ok_and(|s| s.success()), "mkfifo");
        }
        d
    })
}

/// Opens a recorded checkpoint path if it names a scratch file or /dev/zero; each must fail.
fn open_recorded(p: &Path) {
    let target = if p == Path::new("/dev/zero") {
        p.to_path_buf()
    } else {
        match p.file_name().and_then(|n| n.to_str()) {
            Some(n @ ("dir" | "empty" | "fifo")) => scratch().join(n),
            _ => return,
        }
    };
    assert!(checkpoint::read_stored(&target).is_err(), "{target:?} was read");
}

/// The network the metadata describes, as the loader of its role checks it.
fn plan_of(meta: &Metadata, data: &[u8], selector: u8) -> Option<Plan> {
    match meta.get("fastshap.role").map(String::as_str) {
        Some("explainer") => {
            let c = explainer::check_metadata("fuzz", meta).ok()?;
            open_recorded(&c.surrogate);
            Some(c.plan)
        }
        Some("surrogate") => {
            let (spec, _, _) = surrogate::check_metadata("fuzz", meta).ok()?;
            if let Some(p) = meta.get("fastshap.original") {
                open_recorded(Path::new(p));
            }
            Some(spec.plan)
        }
        _ if meta.contains_key("fastshap.arch") => Spec::parse(meta).ok().map(|s| s.plan),
        _ if selector % 4 == 3 => Some(fixed()),
        _ => {
            // `--arch` inference reads a file: write the bytes to one.
            let file = scratch().join("input.safetensors");
            std::fs::write(&file, data).ok()?;
            let hint = ArchHint {
                arch: Some(
                    [
                        ClassifierArch::Resnet18,
                        ClassifierArch::Vit,
                        ClassifierArch::MaeClassifier,
                    ][selector as usize % 3],
                ),
                heads: Some(1 + (selector as usize / 4) % 4),
                ..Default::default()
            };
            let r = resolve(&file, &hint).ok()?;
            Spec::parse(&r.spec.metadata()).ok().map(|s| s.plan)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let n = u64::from_le_bytes(data[..8].try_into().unwrap());
    if n > (data.len() - 8) as u64 {
        return;
    }
    let (header, rest) = data[8..].split_at(n as usize);
    let Ok((meta, stored)) = checkpoint::parse_header("fuzz", header, rest.len() as u64) else {
        return;
    };
    let selector = rest.first().copied().unwrap_or(0);
    let Some(plan) = plan_of(&meta, data, selector) else {
        return;
    };
    if checkpoint::check_entries("fuzz", &stored, &plan, (128 << 20, "fuzz")).is_err() {
        return;
    }
    let promised: u64 = plan
        .iter()
        .map(|(_, s)| 2 * s.iter().map(|&d| d as u64).product::<u64>())
        .sum();
    assert!(promised <= rest.len() as u64, "{promised} bytes promised, {} held", rest.len());
    if let Ok((values, _)) = checkpoint::match_bytes("fuzz", data, &plan) {
        for (v, (_, shape)) in values.iter().zip(&plan) {
            assert_eq!(v.len(), shape.iter().product::<usize>());
        }
    }
});
