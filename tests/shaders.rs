//! Every WGSL file parses and validates with naga — no device needed, so a shader error fails
//! fast, naming its file and line. Shared snippets (`_*.wgsl`) are validated as part of the
//! kernels that name them in a `// requires:` line, exactly as `shader!` assembles them.

use std::path::Path;

#[path = "common/wgsl.rs"]
mod wgsl;
use wgsl::{assemble, kernels};

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
            naga::valid::Capabilities::default() | naga::valid::Capabilities::SUBGROUP,
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

/// The snippets a kernel's `// requires:` line names, in order.
fn requires(src_of_file: &str) -> Vec<String> {
    src_of_file
        .lines()
        .take_while(|l| l.starts_with("//"))
        .filter_map(|l| l.strip_prefix("// requires:"))
        .flat_map(|r| r.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The tests translate what `assemble` builds from `// requires:` lines; the program compiles
/// what its `shader!("file", "_snippet", ...)` calls name. They must agree, or the tests would
/// check a different source than the one that runs.
#[test]
fn shader_macro_calls_name_the_snippets_each_file_requires() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src")];
    let mut calls = 0;
    let mut wrong = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for (at, _) in text.match_indices("shader!(") {
                let rest = &text[at + "shader!(".len()..];
                let Some(end) = rest.find(')') else { continue };
                let args: Vec<&str> = rest[..end].split(',').map(str::trim).collect();
                // Only calls whose arguments are all string literals (not the macro's own docs).
                if !args
                    .iter()
                    .all(|a| a.len() >= 2 && a.starts_with('"') && a.ends_with('"'))
                {
                    continue;
                }
                let args: Vec<String> = args
                    .iter()
                    .map(|a| a.trim_matches('"').to_string())
                    .collect();
                let file = format!("{}.wgsl", args[0]);
                let named: Vec<String> = args[1..].iter().map(|a| format!("{a}.wgsl")).collect();
                let own = match std::fs::read_to_string(root.join("shaders").join(&file)) {
                    Ok(s) => s,
                    Err(e) => {
                        wrong.push(format!(
                            "{}: shader!(\"{}\"): shaders/{file}: {e}",
                            p.display(),
                            args[0]
                        ));
                        continue;
                    }
                };
                calls += 1;
                if requires(&own) != named {
                    wrong.push(format!(
                        "{}: shader!({}) prepends {named:?} but shaders/{file} requires {:?}",
                        p.display(),
                        args[0],
                        requires(&own)
                    ));
                }
            }
        }
    }
    assert!(calls > 10, "found only {calls} shader! calls in src/");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The targets wgpu translates WGSL to on the platforms it supports. `-checked`: with the runtime
/// bounds checks wgpu's Vulkan and Metal backends add to checked modules (tests and debug builds
/// use those; release runs use unchecked ones; GL never checks).
const TARGETS: [&str; 7] = [
    "spir-v",
    "spir-v-checked",
    "msl",
    "msl-checked",
    "hlsl",
    "glsl-es-310",
    "glsl-430",
];

/// wgpu-hal 30's policies for a checked module on Vulkan and Metal.
const CHECKED: naga::proc::BoundsCheckPolicies = naga::proc::BoundsCheckPolicies {
    index: naga::proc::BoundsCheckPolicy::Restrict,
    buffer: naga::proc::BoundsCheckPolicy::Restrict,
    image_load: naga::proc::BoundsCheckPolicy::Restrict,
    binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
};

/// One entry point of a module whose overrides are already resolved, written for `target`.
fn translate(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
    target: &str,
) -> Result<String, String> {
    use naga::back::{glsl, hlsl, msl, spv};
    let stage = naga::ShaderStage::Compute;
    match target {
        "spir-v" | "spir-v-checked" => {
            let pipeline = spv::PipelineOptions {
                shader_stage: stage,
                entry_point: entry.into(),
            };
            let mut options = spv::Options::default();
            if target.ends_with("-checked") {
                options.bounds_check_policies = CHECKED;
            }
            spv::write_vec(module, info, &options, Some(&pipeline))
                .map(|w| format!("{} words", w.len()))
                .map_err(|e| format!("{e} ({e:?})"))
        }
        "msl" | "msl-checked" => {
            // MSL 2.0: what every Metal device wgpu supports has (macOS 10.13+, iOS 11+).
            let mut options = msl::Options {
                lang_version: (2, 0),
                ..Default::default()
            };
            if target.ends_with("-checked") {
                options.bounds_check_policies = CHECKED;
            }
            let pipeline = msl::PipelineOptions {
                entry_point: Some((stage, entry.into())),
                ..Default::default()
            };
            msl::write_string(module, info, &options, &pipeline)
                .map(|(s, _)| s)
                .map_err(|e| format!("{e} ({e:?})"))
        }
        "hlsl" => {
            let options = hlsl::Options {
                shader_model: hlsl::ShaderModel::V6_0,
                ..Default::default()
            };
            let pipeline = hlsl::PipelineOptions {
                entry_point: Some((stage, entry.into())),
            };
            let mut out = String::new();
            hlsl::Writer::new(&mut out, &options, &pipeline)
                .write(module, info, None)
                .map(|_| out.clone())
                .map_err(|e| format!("{e} ({e:?})"))
        }
        glsl_target => {
            let version = match glsl_target {
                "glsl-es-310" => glsl::Version::new_gles(310),
                _ => glsl::Version::Desktop(430),
            };
            let options = glsl::Options {
                version,
                ..Default::default()
            };
            let pipeline = glsl::PipelineOptions {
                shader_stage: stage,
                entry_point: entry.into(),
                multiview: None,
            };
            let mut out = String::new();
            glsl::Writer::new(
                &mut out,
                module,
                info,
                &options,
                &pipeline,
                naga::proc::BoundsCheckPolicies::default(),
            )
            .and_then(|mut w| w.write())
            .map(|_| out.clone())
            .map_err(|e| format!("{e} ({e:?})"))
        }
    }
}

/// Every entry point of every kernel translates to each backend's language, with its `override`
/// constants at their defaults (every override has one; a new one without must get a value
/// here). Catches WGSL that lavapipe's SPIR-V path accepts but Metal, DX12 or GL would reject,
/// without any of those machines.
#[test]
fn every_entry_point_translates_to_spirv_msl_hlsl_and_glsl() {
    let mut failures = Vec::new();
    let mut translated = 0;
    for (file, src) in kernels() {
        let path = format!("shaders/{file}");
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&src, &path)));
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default() | naga::valid::Capabilities::SUBGROUP,
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&src, &path)));
        for (_, o) in module.overrides.iter() {
            if o.init.is_none() {
                failures.push(format!(
                    "{path}: override {} has no default: give it a value the ops use in this test",
                    o.name.as_deref().unwrap_or("?")
                ));
            }
        }
        for ep in &module.entry_points {
            let resolved = naga::back::pipeline_constants::process_overrides(
                &module,
                &info,
                Some((ep.stage, &ep.name)),
                &naga::back::PipelineConstants::default(),
            );
            let (m, i) = match resolved {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{path}::{}: overrides: {e}", ep.name));
                    continue;
                }
            };
            for target in TARGETS {
                match translate(&m, &i, &ep.name, target) {
                    Ok(_) => translated += 1,
                    Err(e) => failures.push(format!("{path}::{} -> {target}: {e}", ep.name)),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} translations fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        translated >= 40 * TARGETS.len(),
        "only {translated} translations"
    );
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
