//! The `fastshap` binary: adapter listing and clean failures.

mod common;
use common::fastshap_cli as fastshap;

#[test]
fn devices_lists_adapters_with_limits() {
    let (code, out, err) = fastshap(&["devices"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("max storage binding") && out.contains("type "),
        "{out}"
    );
    // Every backend wgpu knows gets a line, the ones this OS lacks say so.
    for backend in ["Vulkan", "Metal", "Dx12", "Gl"] {
        assert!(
            out.contains(&format!("{backend}:")),
            "no {backend} line:\n{out}"
        );
    }
    if cfg!(target_os = "linux") {
        assert!(out.contains("Metal: not available"), "{out}");
        assert!(out.contains("Dx12: not available"), "{out}");
    }
    // Exactly one adapter is marked as the one fastshap picks, and it is the context's.
    let lines: Vec<&str> = out.lines().collect();
    let marked: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("<- fastshap uses"))
        .collect();
    assert_eq!(marked.len(), 1, "{out}");
    let name = lines[marked[0]].split("] ").nth(1).unwrap();
    let name = name.split("   <-").next().unwrap();
    let section = lines[..marked[0]]
        .iter()
        .rev()
        .find(|l| !l.starts_with(' '))
        .unwrap();
    let backend = section.trim_end_matches(':');
    let (code, check, err) = fastshap(&["demo", "--check-only"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        check.contains(&format!("device: {name} ({backend},")),
        "devices marks '{name}' on {backend}, the demo ran on:\n{check}"
    );
}

#[test]
fn devices_with_a_backend_lists_only_it_and_marks_its_adapter() {
    let (code, out, err) = fastshap(&["--backend", "gl", "devices"]);
    assert!(out.starts_with("Gl:"), "{out}{err}");
    assert!(!out.contains("Vulkan"), "{out}");
    if code == 0 {
        assert!(
            out.contains("[0]") && out.contains("<- fastshap uses this one"),
            "{out}"
        );
    } else {
        // No EGL here (CI installs it): the section says so and the error is the usual hint.
        assert!(out.contains("Gl: no adapter found"), "{out}");
        assert!(err.contains("no GPU adapter found"), "{err}");
    }
}

#[test]
fn impossible_adapter_fails_clearly() {
    for cmd in [
        &["devices", "--adapter", "no-such-gpu-xyz"][..],
        &["demo", "--adapter", "no-such-gpu-xyz"],
    ] {
        let (code, _out, err) = fastshap(cmd);
        assert_ne!(code, 0);
        assert!(
            err.contains("no-such-gpu-xyz") && err.contains("mesa-vulkan-drivers"),
            "{err}"
        );
        assert_eq!(
            err.trim().lines().count(),
            1,
            "one clear line, no backtrace: {err}"
        );
    }
}

#[test]
fn unknown_backend_is_rejected() {
    let (code, _, err) = fastshap(&["--backend", "opengl-es", "devices"]);
    assert_ne!(code, 0);
    assert!(err.contains("opengl-es"), "{err}");
}

#[test]
fn demo_runs_its_self_check() {
    let (code, out, err) = fastshap(&["demo", "--check-only"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("self-check passed"), "{out}");
}

/// `fastshap bench game` and `profile --model game-…`: JSON rows like the other benches'
/// (`game/…` with GFLOP/s and evaluations/s beside the reference kernels' rows), a profile of one
/// batch of the ViT game's coalition path, and one clear error for an unknown game.
#[test]
fn bench_and_profile_the_surrogate_game() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("game.json");
    let (code, out, err) = fastshap(&[
        "bench",
        "game",
        "--games",
        "vit",
        "--batch",
        "64",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("MFLOP executed"), "{out}");
    let rows: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let kernels: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kernel"].as_str().unwrap())
        .collect();
    assert!(
        kernels[0].starts_with("matmul/") && kernels[1].starts_with("conv/"),
        "{kernels:?}"
    );
    let game = &rows[2];
    assert_eq!(game["kernel"], "game/vit");
    assert!(game["gflops"].as_f64().unwrap() > 0.0, "{game}");
    assert!(game["images_per_sec"].as_f64().unwrap() > 0.0, "{game}");
    let (code, out, err) = fastshap(&["profile", "--model", "game-vit", "--batch", "64"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("softmax_pool") && out.contains("matmul"),
        "{out}"
    );
    let (code, _, err) = fastshap(&["bench", "game", "--games", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown game 'nope'"), "{err}");
    let (code, _, err) = fastshap(&["profile", "--model", "game-nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown game 'game-nope'"), "{err}");
}

/// `fastshap profile` on a full-size network: a table per family and per kernel on stdout and
/// the same as JSON, whose kernel times add up to 100% and whose conv rows carry GFLOP/s.
#[test]
fn profile_breaks_a_forward_pass_down_by_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("profile.json");
    let (code, out, err) = fastshap(&[
        "profile",
        "--model",
        "unet",
        "--pass",
        "forward",
        "--batch",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("family") && out.contains("GFLOP/s"), "{out}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(r["launches"].as_u64().unwrap() > 10, "{r}");
    let kernels = r["kernels"].as_array().unwrap();
    let total: f64 = kernels.iter().map(|k| k["percent"].as_f64().unwrap()).sum();
    assert!(
        (total - 100.0).abs() < 0.1,
        "kernel shares add up to {total}%"
    );
    let conv = kernels
        .iter()
        .find(|k| k["family"].as_str().unwrap().starts_with("conv"))
        .expect("a UNet runs convolutions");
    assert!(conv["gflops"].as_f64().unwrap() > 0.0, "{conv}");
    // Bad input gets one clear error.
    let (code, _, err) = fastshap(&["profile", "--model", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown --model 'nope'"), "{err}");
}

/// `reproduce --superpixel/--minutes` size the measured presets (cpu, demo) only; bad values
/// fail before anything is written.
#[test]
fn reproduce_sizing_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--preset", "tiny", "--superpixel", "2"],
            "--superpixel applies to the cpu and demo presets",
        ),
        (
            vec!["--preset", "demo", "--superpixel", "3"],
            "--superpixel must be 2 (256 players), 4 (64) or 8 (16), not 3",
        ),
        (
            vec!["--preset", "smoke", "--minutes", "5"],
            "--minutes sizes the cpu and demo presets",
        ),
        (
            vec!["--preset", "demo", "--minutes", "0"],
            "--minutes must be at least 1",
        ),
        (
            vec!["--preset", "cpu", "--superpixel", "3"],
            "--superpixel must be 2 (256 players), 4 (64) or 8 (16), not 3",
        ),
    ] {
        let mut a = vec!["reproduce", "--out", o];
        a.extend(args);
        let (code, _, err) = fastshap(&a);
        assert_eq!(code, 1, "{a:?}: {err}");
        assert!(err.contains(want), "{a:?}: {err}");
        assert!(!out.exists(), "{a:?} wrote {o}");
    }
}
