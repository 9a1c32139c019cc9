//! The kernels' WGSL as the program compiles it: each `shaders/*.wgsl` file (snippets `_*.wgsl`
//! excluded) with the snippets its `// requires:` line names prepended, exactly as `shader!`
//! assembles them (tests/shaders.rs checks the two agree). Shared by the naga and Tint tests.

#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;

pub fn shader_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders")
}

/// `file`'s source with its required snippets prepended.
pub fn assemble(dir: &Path, file: &str) -> String {
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

/// The shader files as the program compiles them: (file, assembled source), sorted by name.
pub fn kernels() -> Vec<(String, String)> {
    let dir = shader_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl") && !n.starts_with('_'))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let src = assemble(&dir, &f);
            (f, src)
        })
        .collect()
}
