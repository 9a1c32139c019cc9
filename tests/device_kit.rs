//! The device kit's run script (tools/device/run.sh) in its dry run: the steps the GPU machine
//! runs, at tiny sizes on this machine's adapter, against the binaries this build made. Guards
//! what the one short device session relies on: at most 8 files back, each non-empty, the JSON
//! parseable, every step recorded.

use std::path::Path;
use std::process::Command;

#[test]
fn dry_run_writes_at_most_eight_nonempty_files_with_every_step_recorded() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: the device kit is for the Linux GPU machine");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("tools/device/run.sh"))
        .arg("--dry-run")
        .current_dir(root)
        .env("OUT", out.path())
        .env("FASTSHAP_BIN", env!("CARGO_BIN_EXE_fastshap"))
        // No kit: a device-kit/ left in the checkout may hold binaries of another commit.
        .env("KIT", out.path().join("no-kit"));
    if let Some(kernels) = kernel_test_binary() {
        cmd.env("KERNELS_BIN", kernels);
    }
    let run = cmd.output().unwrap();
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "run.sh --dry-run failed:\n{log}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let files: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        files.len() <= 8,
        "{} files (the device tool returns 8): {files:?}",
        files.len()
    );
    for f in &files {
        assert!(f.is_file(), "{} is not a plain file", f.display());
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.trim().is_empty(), "{} is empty", f.display());
        if f.extension().is_some_and(|e| e == "json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", f.display()));
        }
    }

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    let status = |name: &str| -> String {
        summary["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("step {name} not recorded: {summary}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for step in ["devices", "bench", "explain"] {
        assert_eq!(status(step), "ok", "{summary}\n{log}");
    }
    // Built by the same `cargo test`, unless only this test binary was built.
    assert!(
        ["ok", "skipped"].contains(&status("kernels").as_str()),
        "{summary}"
    );
    assert!(
        ["ok", "skipped"].contains(&status("torch").as_str()),
        "{summary}"
    );
    assert!(
        ["ok", "cut"].contains(&status("reproduce").as_str()),
        "{summary}"
    );
    let ms = summary["explain_ms_per_image"].as_f64();
    assert!(ms.is_some_and(|ms| ms > 0.0), "{summary}");
    for f in ["bench.json", "explain.json", "run.log", "reproduce.log"] {
        assert!(out.path().join(f).is_file(), "no {f} in {files:?}");
    }
    let bench: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("bench.json")).unwrap())
            .unwrap();
    assert!(
        bench
            .iter()
            .any(|r| r["kernel"].as_str().unwrap().starts_with("model/unet"))
    );
}

/// The kernel-test binary of this build: beside this test's own binary, named `kernels-<hash>`
/// (the newest, if several builds left one).
fn kernel_test_binary() -> Option<std::path::PathBuf> {
    let me = std::env::current_exe().ok()?;
    std::fs::read_dir(me.parent()?)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("kernels-") && !name.contains('.')
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, p)| p)
}
