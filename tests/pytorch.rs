//! "I trained it in PyTorch; show me its explanations": plain PyTorch state dicts (no fastshap
//! metadata, written by tools/torch_fixtures.py) through `--arch` in every command that takes a
//! classifier, and the errors a wrong or missing architecture gets. Logit parity with PyTorch
//! is in tests/parity.rs.

mod common;
use common::fastshap_cli as fastshap;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn eval_takes_a_plain_state_dict_with_arch_and_talks() {
    let resnet = fixture("plain_resnet18.safetensors");
    let args = [
        "eval", "--model", &resnet, "--arch", "resnet18", "--limit", "40",
    ];
    let (code, out, err) = fastshap(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no fastshap metadata; built resnet")
            && out.contains("\"widths\":[4,8,8,16]")
            && out.contains("\"blocks\":[2,2,2,2]"),
        "{out}"
    );
    assert!(out.contains("40 test images, loss"), "{out}");
    // The closing throughput line, and nothing of it with --quiet.
    assert!(out.contains("eval: 40 images in"), "{out}");
    let (code, quiet, err) = fastshap(&[&args[..], &["--quiet"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        !quiet.contains("images in") && !quiet.contains("built resnet"),
        "{quiet}"
    );
    assert!(quiet.contains("40 test images, loss"), "{quiet}");

    // A ViT needs its heads; the exported one (with metadata) needs nothing.
    let vit = fixture("plain_vit.safetensors");
    let (code, out, err) = fastshap(&[
        "eval", "--model", &vit, "--arch", "vit", "--heads", "2", "--limit", "20",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"depth\":3") && out.contains("\"heads\":2"),
        "{out}"
    );
    let exported = fixture("exported_vit.safetensors");
    let (code, out, err) = fastshap(&["eval", "--model", &exported, "--limit", "20"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("no fastshap metadata"), "{out}");
}

/// Missing or wrong architectures: one error naming the file, what is wrong and the flag.
#[test]
fn wrong_or_missing_architecture_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (resnet, vit, exported) = (
        fixture("plain_resnet18.safetensors"),
        fixture("plain_vit.safetensors"),
        fixture("exported_vit.safetensors"),
    );
    let wide = dir.path().join("wide.json");
    std::fs::write(&wide, r#"{"dim": 32}"#).unwrap();
    let typo = dir.path().join("typo.json");
    std::fs::write(&typo, r#"{"head": 2}"#).unwrap();
    let (wide, typo) = (wide.to_string_lossy(), typo.to_string_lossy());
    let out = dir.path().join("o");
    let out = out.to_string_lossy();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["eval", "--model", &resnet],
            vec![
                &resnet,
                "no fastshap metadata",
                "--arch",
                "look like --arch resnet18",
            ],
        ),
        (
            vec!["eval", "--model", &resnet, "--arch", "vit", "--heads", "2"],
            vec![&resnet, "no tensor emb.weight", "look like --arch resnet18"],
        ),
        (
            vec!["eval", "--model", &vit, "--arch", "vit"],
            vec![&vit, "attention heads", "--heads"],
        ),
        (
            vec!["eval", "--model", &vit, "--arch", "vit", "--heads", "3"],
            vec![&vit, "3 heads do not divide the width 16"],
        ),
        (
            vec![
                "eval",
                "--model",
                &vit,
                "--arch",
                "vit",
                "--heads",
                "2",
                "--arch-config",
                &wide,
            ],
            vec![
                &vit,
                "blocks.0.attn.k.weight: shape [16, 16] in file, model expects [32, 32]",
                "--arch-config",
            ],
        ),
        (
            vec![
                "eval",
                "--model",
                &vit,
                "--arch",
                "vit",
                "--heads",
                "2",
                "--arch-config",
                &typo,
            ],
            vec![&typo, "\"head\" is not a vit config field"],
        ),
        (
            vec!["eval", "--model", &exported, "--arch", "resnet18"],
            vec!["exported_vit.safetensors is a vit checkpoint"],
        ),
        (
            vec![
                "surrogate",
                "--original",
                &vit,
                "--arch",
                "resnet18",
                "--out",
                &out,
                "--preset",
                "tiny",
            ],
            vec![&vit, "--original-arch", "look like --original-arch vit"],
        ),
        (
            vec![
                "compare", "--a", &resnet, "--b", &vit, "--arch-a", "resnet18", "--out", &out,
            ],
            vec![&vit, "--arch-b", "look like --arch-b vit"],
        ),
        (
            vec![
                "compare", "--a", &resnet, "--b", &vit, "--arch-a", "resnet18", "--arch-b", "vit",
                "--out", &out,
            ],
            vec![&vit, "--heads-b"],
        ),
    ];
    for (args, wants) in cases {
        let (code, _, err) = fastshap(&args);
        assert_ne!(code, 0, "{args:?} succeeded");
        for want in wants {
            assert!(
                err.contains(want),
                "{args:?}: stderr {err:?} lacks {want:?}"
            );
        }
        let lines = err.lines().filter(|l| l.starts_with("error")).count();
        assert_eq!(lines, 1, "{args:?}: expected one error, got {err:?}");
    }
    assert!(
        !dir.path().join("o").exists(),
        "nothing written on a bad original"
    );
}
