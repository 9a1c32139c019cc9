//! The `fastshap` binary: adapter listing and clean failures.

mod common;
use common::fastshap_cli as fastshap;

#[test]
fn devices_lists_adapters_with_limits() {
    let (code, out, err) = fastshap(&["devices"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("max storage binding") && out.contains("backend"),
        "{out}"
    );
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
