//! Checkpoints as safetensors files with PyTorch-compatible names and layouts. The model's
//! architecture and hyper-parameters travel in the file's metadata (`fastshap.arch`,
//! `fastshap.config` as JSON) so a model can be rebuilt from the file alone.
//!
//! Loading accepts f32, f16 and bf16 tensors, checks every name and shape, and reports all
//! mismatches in one error. Writes are atomic (temp file + fsync + rename).

use crate::Tensor;
use crate::nn::Module;
use anyhow::{Context, Result, bail};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Names PyTorch saves that carry no information for us (BN's step counter).
fn ignorable(name: &str) -> bool {
    name.ends_with("num_batches_tracked")
}

/// Writes every named tensor of `model` plus `metadata` to `path`, atomically.
pub fn save(model: &dyn Module, metadata: HashMap<String, String>, path: &Path) -> Result<()> {
    let tensors = model.named_tensors();
    write_tensors(
        tensors.iter().map(|(n, t, _)| (n.clone(), t)),
        metadata,
        path,
    )
}

/// Writes named tensors (read back from the GPU) and `metadata` as one safetensors file, atomically.
pub fn write_tensors<'a>(
    tensors: impl IntoIterator<Item = (String, &'a Tensor)>,
    metadata: HashMap<String, String>,
    path: &Path,
) -> Result<()> {
    let mut host = Vec::new();
    for (name, t) in tensors {
        let v = t
            .to_vec()
            .with_context(|| format!("reading {name} from the GPU"))?;
        host.push((
            name,
            t.shape().to_vec(),
            bytemuck::cast_slice::<f32, u8>(&v).to_vec(),
        ));
    }
    let views: Vec<(String, TensorView)> = host
        .iter()
        .map(|(n, s, b)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b)?)))
        .collect::<Result<_>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))?;
    crate::io::write_atomic(path, &bytes)
}

/// Metadata of a checkpoint file without loading its tensors (the header only).
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    Ok(read_header(path)?.0)
}

/// The metadata of a checkpoint's bytes (`name` is used in errors): the browser's path, where
/// there is no file to read a header from.
pub fn metadata_of(name: &str, bytes: &[u8]) -> Result<Metadata> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow::anyhow!("{name} is not a valid safetensors checkpoint: {e}"))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// A checkpoint's metadata and its tensors' (name, shape), read from the header alone (a
/// few KB, whatever the file's size).
pub fn read_header(path: &Path) -> Result<(Metadata, Vec<TensorShape>)> {
    let (meta, stored) = read_stored(path)?;
    Ok((
        meta,
        stored.into_iter().map(|t| (t.name, t.shape)).collect(),
    ))
}

/// One tensor as a checkpoint's header describes it.
#[derive(Clone, Debug)]
pub struct Stored {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Byte range in the data section.
    pub offsets: (u64, u64),
}

/// The header of checkpoint `path` (metadata and every tensor's entry, sorted by name). Only a
/// regular file is opened (a FIFO would block, `/dev/zero` never end), and only its header is
/// read.
pub fn read_stored(path: &Path) -> Result<(Metadata, Vec<Stored>)> {
    use std::io::Read;
    let bad = |why: &str| {
        anyhow::anyhow!(
            "{} is not a valid safetensors checkpoint: {why}",
            path.display()
        )
    };
    let kind = std::fs::metadata(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    if !kind.is_file() {
        return Err(bad("not a regular file"));
    }
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    let file_len = f.metadata()?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| bad("shorter than its 8-byte header length"))?;
    let n = u64::from_le_bytes(len);
    if n > file_len.saturating_sub(8) || n > MAX_HEADER {
        return Err(bad(&format!(
            "header length {n} does not fit the file ({file_len} bytes)"
        )));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|_| bad("truncated header"))?;
    parse_header(&path.display().to_string(), &header, file_len - 8 - n)
}

/// Headers larger than this are refused before they are read.
const MAX_HEADER: u64 = 100 << 20;

/// The metadata and tensor entries of a header (`json`, the bytes after the 8-byte length),
/// for a file whose data section has `data_len` bytes. Host only, so it can be fuzzed.
pub fn parse_header(name: &str, json: &[u8], data_len: u64) -> Result<(Metadata, Vec<Stored>)> {
    let bad = |why: &str| anyhow::anyhow!("{name} is not a valid safetensors checkpoint: {why}");
    // The header is JSON: {"__metadata__": {k: v}, name: {dtype, shape, data_offsets}, ...}.
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|e| bad(&format!("bad header: {e}")))?;
    let mut meta = Metadata::new();
    let mut tensors = Vec::new();
    let mut data_end = 0u64;
    for (tname, v) in json {
        if tname == "__metadata__" {
            meta = serde_json::from_value(v).map_err(|e| bad(&format!("bad metadata: {e}")))?;
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Info {
            dtype: String,
            shape: Vec<usize>,
            data_offsets: (u64, u64),
        }
        let info: Info =
            serde_json::from_value(v).map_err(|e| bad(&format!("bad entry for {tname}: {e}")))?;
        data_end = data_end.max(info.data_offsets.1);
        tensors.push(Stored {
            name: tname,
            dtype: info.dtype,
            shape: info.shape,
            offsets: info.data_offsets,
        });
    }
    if data_end != data_len {
        return Err(bad(&format!(
            "its tensors need {data_end} bytes of data, the file has {data_len} (truncated?)"
        )));
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((meta, tensors))
}

/// Bytes per element of a float dtype we load, else `None`.
fn float_size(dtype: &str) -> Option<u64> {
    match dtype {
        "F32" => Some(4),
        "F16" | "BF16" => Some(2),
        _ => None,
    }
}

/// Checks checkpoint `path`'s header against the tensors a network will hold (`plan`: names and
/// shapes) and the device's largest buffer, before anything is allocated for it: every tensor
/// present with its shape, a float dtype, exactly the bytes its shape needs, and nothing else.
pub fn check_tensors(path: &Path, plan: &[(String, Vec<usize>)]) -> Result<()> {
    let (_, stored) = read_stored(path)?;
    let ctx = crate::gpu::ctx();
    let max = ctx
        .limits
        .max_buffer_size
        .min(ctx.limits.max_storage_buffer_binding_size);
    check_entries(
        &path.display().to_string(),
        &stored,
        plan,
        (max, &ctx.info.name),
    )
}

/// [`check_tensors`] on parsed header entries, with the device's largest buffer `limit`
/// (bytes, adapter name). Host only, so it can be fuzzed.
pub fn check_entries(
    file: &str,
    stored: &[Stored],
    plan: &[(String, Vec<usize>)],
    limit: (u64, &str),
) -> Result<()> {
    let elems = |shape: &[usize]| {
        shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
            .unwrap_or(u64::MAX)
    };
    // The device first: a network that cannot be held here is that, whatever the file says.
    if let Some((tname, shape)) = plan
        .iter()
        .find(|(_, s)| elems(s).saturating_mul(4) > limit.0)
    {
        bail!(
            "checkpoint {file}: tensor {tname} {shape:?} ({} MiB as f32) exceeds the largest \
             buffer of '{}' ({} MiB); this network cannot be loaded on this adapter",
            elems(shape).saturating_mul(4) >> 20,
            limit.1,
            limit.0 >> 20
        );
    }
    let by_name: HashMap<&str, &Stored> = stored.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut problems = Vec::new();
    for (tname, shape) in plan {
        let elems = elems(shape);
        let Some(t) = by_name.get(tname.as_str()) else {
            problems.push(format!("missing tensor {tname} {shape:?}"));
            continue;
        };
        if &t.shape != shape {
            problems.push(format!(
                "{tname}: shape {:?} in file, model expects {shape:?}",
                t.shape
            ));
            continue;
        }
        let Some(size) = float_size(&t.dtype) else {
            problems.push(format!(
                "{tname}: dtype {}; expected F32, F16 or BF16",
                t.dtype
            ));
            continue;
        };
        let have = t.offsets.1.checked_sub(t.offsets.0);
        if have != Some(elems.saturating_mul(size)) {
            problems.push(format!(
                "{tname}: shape {shape:?} as {} needs {} bytes, its data_offsets {:?} hold {}",
                t.dtype,
                elems.saturating_mul(size),
                t.offsets,
                have.map_or("a negative count".to_string(), |h| h.to_string())
            ));
        }
    }
    let known: std::collections::HashSet<&str> = plan.iter().map(|(n, _)| n.as_str()).collect();
    for t in stored {
        if !known.contains(t.name.as_str()) && !ignorable(&t.name) {
            problems.push(format!("unexpected tensor {} {:?}", t.name, t.shape));
        }
    }
    report(file, problems)
}

/// At most this many problems of each kind (missing, unexpected, mismatched) are listed: a
/// hostile config can imply thousands of tensors.
const LISTED: usize = 40;

/// Ok, or one error listing `problems` (sorted, at most [`LISTED`] of each kind).
fn report(file: &str, mut problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    if let [one] = problems.as_slice() {
        bail!("checkpoint {file} does not match the model: {one}");
    }
    let total = problems.len();
    let mut shown: Vec<&String> = Vec::new();
    for kind in ["missing tensor", "unexpected tensor", ""] {
        let of_kind = problems.iter().filter(|p| {
            if kind.is_empty() {
                !p.starts_with("missing tensor") && !p.starts_with("unexpected tensor")
            } else {
                p.starts_with(kind)
            }
        });
        shown.extend(of_kind.take(LISTED));
    }
    let more = total - shown.len();
    bail!(
        "checkpoint {file} does not match the model ({total} problems):\n  {}{}",
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        if more > 0 {
            format!("\n  … and {more} more")
        } else {
            String::new()
        }
    );
}

/// Converts one stored tensor to f32 host values.
fn to_f32(name: &str, v: &TensorView) -> Result<Vec<f32>> {
    let d = v.data();
    Ok(match v.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => bail!("tensor {name} has dtype {other:?}; expected F32, F16 or BF16"),
    })
}

/// Loads `path` into `model`'s tensors (by name). Every missing, unexpected or mis-shaped tensor
/// is listed in one error, and nothing is changed unless everything matches.
pub fn load(model: &dyn Module, path: &Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    load_bytes(model, &path.display().to_string(), &bytes)
}

/// [`load`] from a checkpoint's bytes (`name` is used in errors), e.g. fetched by a page.
pub fn load_bytes(model: &dyn Module, name: &str, bytes: &[u8]) -> Result<Metadata> {
    let ours = model.named_tensors();
    let expected: Vec<(String, Vec<usize>)> = ours
        .iter()
        .map(|(n, t, _)| (n.clone(), t.shape().to_vec()))
        .collect();
    let (values, meta) = match_bytes(name, bytes, &expected)?;
    for ((_, t, _), data) in ours.iter().zip(values) {
        t.assign(&Tensor::from_slice(&data, t.shape())?)?;
    }
    Ok(meta)
}

/// A checkpoint's string metadata.
pub type Metadata = HashMap<String, String>;

/// A stored tensor's name and shape.
pub type TensorShape = (String, Vec<usize>);

/// Parses checkpoint `bytes` (`name` is used in errors) against the `expected` (name, shape)
/// list: the f32 values of each expected tensor, in order, and the metadata; or one error
/// listing every missing, unexpected or mis-shaped tensor. Host only, so it can be fuzzed.
pub fn match_bytes(
    name: &str,
    bytes: &[u8],
    expected: &[(String, Vec<usize>)],
) -> Result<(Vec<Vec<f32>>, Metadata)> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        anyhow::anyhow!("{name} is not a valid safetensors checkpoint (truncated or corrupt?): {e}")
    })?;
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow::anyhow!("{name} is not a valid safetensors checkpoint: {e}"))?;
    let mut problems = Vec::new();
    let mut values = Vec::with_capacity(expected.len());
    for (tname, shape) in expected {
        match st.tensor(tname) {
            Err(_) => problems.push(format!("missing tensor {tname} {shape:?}")),
            Ok(v) if v.shape() != shape.as_slice() => problems.push(format!(
                "{tname}: shape {:?} in file, model expects {shape:?}",
                v.shape(),
            )),
            Ok(v) => match to_f32(tname, &v) {
                Ok(data) => values.push(data),
                Err(e) => problems.push(e.to_string()),
            },
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    for n in st.names() {
        if !known.contains(n) && !ignorable(n) {
            problems.push(format!("unexpected tensor {n}"));
        }
    }
    report(name, problems)?;
    Ok((values, meta.metadata().clone().unwrap_or_default()))
}
