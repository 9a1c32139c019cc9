//! Every WGSL file parses and validates with naga — no device needed, so a shader error fails
//! fast, naming its file and line. Shared snippets (`_*.wgsl`) are validated as part of the
//! kernels that name them in a `// requires:` line, exactly as `shader!` assembles them.

use std::path::Path;

fn assemble(dir: &Path, file: &str) -> String {
    let own = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut src = String::new();
    for line in own.lines().take_while(|l| l.starts_with("//")) {
        if let Some(reqs) = line.strip_prefix("// requires:") {
            for r in reqs.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                src.push_str(
                    &std::fs::read_to_string(dir.join(r))
                        .unwrap_or_else(|e| panic!("{file} requires {r}: {e}")),
                );
                src.push('\n');
            }
        }
    }
    src.push_str(&own);
    src
}

#[test]
fn every_shader_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl") && !n.starts_with('_'))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in &files {
        let src = assemble(&dir, f);
        let path = format!("shaders/{f}");
        let module = match naga::front::wgsl::parse_str(&src) {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.emit_to_string_with_path(&src, &path));
                continue;
            }
        };
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        );
        if let Err(e) = v.validate(&module) {
            failures.push(e.emit_to_string_with_path(&src, &path));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} shaders fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn a_broken_shader_is_reported_with_file_and_line() {
    let src = "@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_thing;\n}\n";
    let e = naga::front::wgsl::parse_str(src).unwrap_err();
    let msg = e.emit_to_string_with_path(src, "shaders/broken.wgsl");
    assert!(msg.contains("shaders/broken.wgsl:3"), "{msg}");
}

/// Every shader's workgroup memory (all `var<workgroup>` of the file together, an upper bound
/// for each entry point) fits the 16 KiB WebGPU guarantees: the tiled kernels are written for
/// GPUs this repository's CI never sees, and a larger tile would only fail there.
#[test]
fn workgroup_memory_fits_the_webgpu_minimum() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut over = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let f = e.unwrap().file_name().to_string_lossy().into_owned();
        if !f.ends_with(".wgsl") || f.starts_with('_') {
            continue;
        }
        let module = naga::front::wgsl::parse_str(&assemble(&dir, &f)).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let bytes: u32 = module
            .global_variables
            .iter()
            .filter(|(_, v)| v.space == naga::AddressSpace::WorkGroup)
            .map(|(_, v)| layouter[v.ty].size)
            .sum();
        if bytes > 16_384 {
            over.push(format!("{f}: {bytes} bytes"));
        }
    }
    assert!(over.is_empty(), "over 16 KiB of workgroup memory: {over:?}");
}
