//! Every kernel entry point compiles in a browser's WebGPU: Chromium's Dawn with the Tint WGSL
//! compiler, the second WGSL front end beside naga and the one that writes MSL and HLSL for
//! every Chrome user. Headless Chromium runs it on SwiftShader; a compilation or pipeline
//! validation error on any entry point fails the test with Tint's own message.
//!
//! Each entry point is compiled with its `override` constants at their defaults, and once more
//! per boolean override it uses with that override flipped (the variants the ops select). The
//! source is what the engine sends to a browser ([`fastshap::gpu::wgsl_for`]).
//! Skipped only where Chromium is absent and `FASTSHAP_REQUIRE_CHROMIUM` is unset.

#[path = "common/browser.rs"]
mod browser;
#[path = "common/wgsl.rs"]
mod wgsl;

use std::collections::HashMap;
use std::time::Duration;

/// One pipeline for the page to create.
#[derive(serde::Serialize)]
struct Pipeline {
    file: String,
    entry: String,
    code: String,
    constants: serde_json::Map<String, serde_json::Value>,
}

/// The overrides `entry` uses (naga drops the others when only that entry point is kept), with
/// their default values when those are literal booleans.
fn bool_overrides_of(module: &naga::Module, entry: &str) -> Vec<(String, bool)> {
    let mut m = module.clone();
    m.entry_points.retain(|e| e.name == entry);
    naga::compact::compact(&mut m, naga::compact::KeepUnused::No);
    m.overrides
        .iter()
        .filter_map(|(_, o)| {
            let init = o.init?;
            match m.global_expressions[init] {
                naga::Expression::Literal(naga::Literal::Bool(b)) => Some((o.name.clone()?, b)),
                _ => None,
            }
        })
        .collect()
}

/// Every (entry point, constants) the test compiles.
fn pipelines() -> Vec<Pipeline> {
    let mut out = Vec::new();
    for (file, src) in wgsl::kernels() {
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&src, &file)));
        let code = fastshap::gpu::wgsl_for(wgpu::Backend::BrowserWebGpu, &src).into_owned();
        for ep in &module.entry_points {
            let mut sets = vec![serde_json::Map::new()];
            for (name, default) in bool_overrides_of(&module, &ep.name) {
                let mut c = serde_json::Map::new();
                c.insert(name, serde_json::json!(if default { 0 } else { 1 }));
                sets.push(c);
            }
            for constants in sets {
                out.push(Pipeline {
                    file: file.clone(),
                    entry: ep.name.clone(),
                    code: code.clone(),
                    constants,
                });
            }
        }
    }
    out
}

#[test]
fn every_entry_point_compiles_in_chromium_webgpu() {
    if !browser::have_chromium("the Tint compile check") {
        return;
    }
    let pipelines = pipelines();
    assert!(pipelines.len() > 60, "only {} pipelines", pipelines.len());
    let mut files = HashMap::new();
    files.insert(
        "index.html".to_string(),
        browser::Served::new(include_str!("web/tint.html"), "text/html"),
    );
    files.insert(
        "kernels.json".to_string(),
        browser::Served::new(serde_json::to_vec(&pipelines).unwrap(), "application/json"),
    );
    let body = browser::run_page(files, Duration::from_secs(300), &[]);
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    eprintln!(
        "adapter {} features {} limits {}",
        report["adapter"], report["features"], report["limits"]
    );
    let failures: Vec<String> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} pipelines fail in Chromium's WebGPU:\n{}",
        failures.len(),
        pipelines.len(),
        failures.join("\n")
    );
    assert_eq!(report["compiled"].as_u64(), Some(pipelines.len() as u64));
}
