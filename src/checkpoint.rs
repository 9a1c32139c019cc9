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

/// Metadata of a checkpoint file without loading its tensors.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    metadata_of(&path.display().to_string(), &bytes)
}

/// [`read_metadata`] of a checkpoint's bytes (`name` is used in errors).
pub fn metadata_of(name: &str, bytes: &[u8]) -> Result<Metadata> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow::anyhow!("{name} is not a valid safetensors checkpoint: {e}"))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// A checkpoint's metadata and its tensors' (name, shape), read from the header alone (a
/// few KB, whatever the file's size).
pub fn read_header(path: &Path) -> Result<(Metadata, Vec<TensorShape>)> {
    use std::io::Read;
    let bad = |why: &str| {
        anyhow::anyhow!(
            "{} is not a valid safetensors checkpoint: {why}",
            path.display()
        )
    };
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    let file_len = f.metadata()?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| bad("shorter than its 8-byte header length"))?;
    let n = u64::from_le_bytes(len);
    if n > file_len.saturating_sub(8) || n > 100 << 20 {
        return Err(bad(&format!(
            "header length {n} does not fit the file ({file_len} bytes)"
        )));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|_| bad("truncated header"))?;
    // The header is JSON: {"__metadata__": {k: v}, name: {dtype, shape, data_offsets}, ...}.
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| bad(&format!("bad header: {e}")))?;
    let mut meta = Metadata::new();
    let mut tensors = Vec::new();
    let mut data_end = 0u64;
    for (name, v) in json {
        if name == "__metadata__" {
            meta = serde_json::from_value(v).map_err(|e| bad(&format!("bad metadata: {e}")))?;
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Info {
            shape: Vec<usize>,
            data_offsets: (u64, u64),
        }
        let info: Info =
            serde_json::from_value(v).map_err(|e| bad(&format!("bad entry for {name}: {e}")))?;
        data_end = data_end.max(info.data_offsets.1);
        tensors.push((name, info.shape));
    }
    let needed = data_end.saturating_add(8 + n);
    if needed != file_len {
        return Err(bad(&format!(
            "its tensors need {needed} bytes, the file has {file_len} (truncated?)"
        )));
    }
    tensors.sort();
    Ok((meta, tensors))
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
    if !problems.is_empty() {
        problems.sort();
        if let [one] = problems.as_slice() {
            bail!("checkpoint {name} does not match the model: {one}");
        }
        bail!(
            "checkpoint {name} does not match the model ({} problems):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok((values, meta.metadata().clone().unwrap_or_default()))
}
