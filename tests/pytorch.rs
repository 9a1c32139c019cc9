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
    // Not on a terminal (a log): one line per quarter, with a rate and an ETA.
    let (code, out, err) = fastshap(&[&args[..], &["--batch-size", "10"]].concat());
    assert_eq!(code, 0, "{err}");
    for q in [
        "10/40 images (25%)",
        "20/40 images (50%)",
        "30/40 images (75%)",
    ] {
        assert!(out.contains(&format!("eval: {q}")), "{q}: {out}");
    }
    assert!(out.contains("ETA"), "{out}");

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
    // A state dict cut short (an interrupted copy): named as truncated before any work.
    let bytes = std::fs::read(&resnet).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let cut = cut.to_string_lossy().into_owned();
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
            vec!["eval", "--model", &cut, "--arch", "resnet18"],
            vec![&cut, "truncated"],
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

/// Writes the image folder of the end-to-end test: a 32×32 PNG, a 120×90 JPEG and a 64×64
/// grayscale PNG in a subfolder, a 50×40 RGBA PNG with an upper-case extension, a broken JPEG,
/// a text file (ignored) and a hidden file (ignored).
fn image_folder(root: &std::path::Path) {
    use image::{GrayImage, RgbImage, RgbaImage};
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let px = |x: u32, y: u32, c: u32| ((x * 37 + y * 11 + c * 85) % 256) as u8;
    RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([px(x, y, 0), px(x, y, 1), px(x, y, 2)])
    })
    .save(root.join("a.png"))
    .unwrap();
    RgbImage::from_fn(120, 90, |x, y| {
        image::Rgb([px(x, y, 2), px(y, x, 1), px(x, x, 0)])
    })
    .save(root.join("sub/b.jpg"))
    .unwrap();
    GrayImage::from_fn(64, 64, |x, y| image::Luma([px(x, y, 1)]))
        .save(root.join("sub/gray.png"))
        .unwrap();
    RgbaImage::from_fn(50, 40, |x, y| {
        image::Rgba([px(x, y, 0), 9, px(y, x, 2), 128])
    })
    .save_with_format(root.join("rgba.PNG"), image::ImageFormat::Png)
    .unwrap();
    std::fs::write(root.join("broken.jpg"), b"not a jpeg").unwrap();
    std::fs::write(root.join("notes.txt"), b"not an image").unwrap();
    std::fs::write(root.join(".hidden.png"), b"skipped: hidden").unwrap();
}

/// The README's path: a PyTorch state dict → surrogate (`--original-arch`) → explainer →
/// `explain FOLDER`: every readable image explained (the original's predictions through the
/// architecture the surrogate recorded), the broken file listed, summary.csv, index.html and
/// full-resolution overlays for images larger than 32×32.
#[test]
fn state_dict_to_explanations_of_a_folder() {
    let t0 = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
    image_folder(&dir.path().join("imgs"));
    let quick = [
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--train-limit",
        "32",
        "--val-limit",
        "16",
        "--data",
        "embedded",
        "--quiet",
    ];
    let original = fixture("plain_resnet18.safetensors");
    let (sur, exp) = (d("sur"), d("exp"));
    let mut args = vec![
        "surrogate",
        "--original",
        &original,
        "--original-arch",
        "resnet18",
    ];
    args.extend(["--arch", "resnet18", "--superpixel", "8", "--out", &sur]);
    args.extend(quick);
    let (code, _, err) = fastshap(&args);
    assert_eq!(code, 0, "surrogate failed: {err}");
    let sur_best = d("sur/best.safetensors");
    let mut args = vec!["explainer", "--surrogate", &sur_best, "--out", &exp];
    args.extend(quick);
    let (code, _, err) = fastshap(&args);
    assert_eq!(code, 0, "explainer failed: {err}");
    let (exp_best, imgs, out) = (d("exp/best.safetensors"), d("imgs"), d("out"));
    let (code, stdout, err) = fastshap(&[
        "explain",
        "--explainer",
        &exp_best,
        &imgs,
        "--out",
        &out,
        "--batch-size",
        "3",
    ]);
    assert_eq!(code, 0, "explain failed: {err}");
    eprintln!(
        "state dict → explanations: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(stdout.contains("explained 4 images"), "{stdout}");
    assert!(
        stdout.contains("explain: 5 images in"),
        "throughput line: {stdout}"
    );
    assert!(
        err.contains("skipped 1 of 5") && err.contains("broken.jpg"),
        "the broken file is listed: {err}"
    );
    let out = dir.path().join("out");
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let rows: Vec<Vec<&str>> = summary.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 5, "header + 4 images: {summary}");
    assert_eq!(
        rows[0][..5],
        [
            "image",
            "source",
            "predicted",
            "probability",
            "predicted_by"
        ]
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    // Sorted by path; broken.jpg (index 1) is skipped; numbering stays that of the list.
    assert_eq!(names, ["0-a", "2-rgba", "3-b", "4-gray"], "{summary}");
    for r in &rows[1..] {
        // The original's predictions: the surrogate recorded its architecture.
        assert_eq!(r[4], "original", "{summary}");
        let prob: f64 = r[3].parse().unwrap();
        assert!((0.0..=1.0).contains(&prob));
        let (pos, neg): (f64, f64) = (r[8].parse().unwrap(), r[12].parse().unwrap());
        assert!(pos >= neg, "{r:?}");
        let (row, col): (usize, usize) = (r[6].parse().unwrap(), r[7].parse().unwrap());
        assert!(row < 4 && col < 4, "superpixel 8 → a 4×4 grid: {r:?}");
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{}.json", r[0]))).unwrap(),
        )
        .unwrap();
        assert_eq!(json["original_probs"].as_array().unwrap().len(), 10);
        assert!(out.join(format!("{}.png", r[0])).exists());
    }
    // Overlays at the image's own size, only for images larger than 32×32.
    let overlay = |n: &str| image::open(out.join(format!("{n}.overlay.png")));
    assert_eq!(
        image::GenericImageView::dimensions(&overlay("3-b").unwrap()),
        (120, 90)
    );
    assert_eq!(
        image::GenericImageView::dimensions(&overlay("2-rgba").unwrap()),
        (50, 40)
    );
    assert!(overlay("0-a").is_err(), "a 32×32 image gets no overlay");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(html.matches("class=\"card\"").count(), 4);
    assert!(
        html.contains("broken.jpg"),
        "skipped files listed in the gallery"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    assert!(out.join("grid.png").exists());

    // Another original (here the same state dict) through --original/--arch; --arch alone is
    // refused, since it describes --original.
    let (a_png, out3) = (d("imgs/a.png"), d("out3"));
    let with_original = [
        "explain",
        "--explainer",
        &exp_best,
        &a_png,
        "--out",
        &out3,
        "--original",
        &original,
        "--arch",
        "resnet18",
    ];
    let (code, _, err) = fastshap(&with_original);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out3/0-a.json")).unwrap())
            .unwrap();
    assert_eq!(json["original"], original.as_str());
    let (code, _, err) = fastshap(&[&with_original[..6], &["--arch", "resnet18"]].concat());
    assert_ne!(code, 0);
    assert!(err.contains("give --original too"), "{err}");

    // Nothing readable: one error listing the files.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("x.png"), b"no png").unwrap();
    std::fs::write(broken.join("y.jpg"), b"no jpeg").unwrap();
    let (broken, out2) = (broken.to_string_lossy(), d("out2"));
    let (code, _, err) = fastshap(&["explain", "--explainer", &exp_best, &broken, "--out", &out2]);
    assert_ne!(code, 0);
    assert!(
        err.contains("none of the 2 images could be read")
            && err.contains("x.png")
            && err.contains("y.jpg"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
}

/// A folder without images is one clear error, before anything is read or written.
#[test]
fn explain_refuses_folders_without_readable_images() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("deeper")).unwrap();
    std::fs::write(empty.join("deeper/readme.txt"), b"x").unwrap();
    let out = dir.path().join("o");
    let (empty_s, out_s) = (empty.to_string_lossy(), out.to_string_lossy());
    // The folder is checked before the explainer is read: any file stands in for it.
    let exp = fixture("plain_vit.safetensors");
    let (code, _, err) = fastshap(&["explain", "--explainer", &exp, &empty_s, "--out", &out_s]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&*empty_s) && err.contains("no JPEG or PNG images"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
    assert!(!out.exists());
}

/// `compare` takes state dicts through --arch-a/--arch-b; `compare` and `tables` show progress
/// and end with a throughput line, which --quiet drops.
#[test]
fn compare_and_tables_take_state_dicts_and_talk() {
    let dir = tempfile::tempdir().unwrap();
    let (resnet, vit, exported) = (
        fixture("plain_resnet18.safetensors"),
        fixture("plain_vit.safetensors"),
        fixture("exported_vit.safetensors"),
    );
    let out = dir.path().join("c").to_string_lossy().into_owned();
    let args = [
        "compare",
        "--a",
        &resnet,
        "--arch-a",
        "resnet18",
        "--b",
        &vit,
        "--arch-b",
        "vit",
        "--heads-b",
        "2",
        "--limit",
        "30",
        "--out",
        &out,
    ];
    let (code, stdout, err) = fastshap(&args);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("compare: 60 images in"), "{stdout}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c/subsets.json")).unwrap())
            .unwrap();
    assert_eq!(info["test_images"], 30);
    let (code, stdout, err) = fastshap(&[&args[..], &["--quiet"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(!stdout.contains("images in"), "{stdout}");

    let out = dir.path().join("t").to_string_lossy().into_owned();
    let originals = format!("ViT={exported}");
    let args = [
        "tables",
        "--originals",
        &originals,
        "--limit",
        "30",
        "--out",
        &out,
    ];
    let (code, stdout, err) = fastshap(&args);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("tables: 30 images in"), "{stdout}");
    let (code, stdout, err) = fastshap(&[&args[..], &["--quiet"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(!stdout.contains("images in"), "{stdout}");
}

/// Writes a safetensors file of zero tensors with these names and shapes (no metadata).
fn state_dict(path: &std::path::Path, tensors: &[(&str, &[usize])]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, s)| vec![0u8; 4 * s.iter().product::<usize>()])
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s), b)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.to_vec(), b);
            (n.to_string(), v.unwrap())
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// State dicts of networks fastshap does not build are named for what they are (read from the
/// header alone, no GPU).
#[test]
fn foreign_state_dicts_are_recognised() {
    use fastshap::train::{ArchHint, ClassifierArch, arch::resolve};
    let dir = tempfile::tempdir().unwrap();
    let err = |tensors: &[(&str, &[usize])], arch: Option<ClassifierArch>| {
        let p = dir.path().join("x.safetensors");
        state_dict(&p, tensors);
        let hint = ArchHint {
            arch,
            ..Default::default()
        };
        format!("{:#}", resolve(&p, &hint).unwrap_err())
    };
    let torchvision: &[(&str, &[usize])] = &[
        ("conv1.weight", &[64, 3, 7, 7]),
        ("layer1.0.conv1.weight", &[64, 64, 3, 3]),
        ("fc.weight", &[1000, 512]),
    ];
    let e = err(torchvision, None);
    assert!(e.contains("torchvision's ImageNet ResNet"), "{e}");
    let e = err(torchvision, Some(ClassifierArch::Resnet18));
    assert!(
        e.contains("conv1.weight has shape [64, 3, 7, 7], a 7×7 stem"),
        "{e}"
    );
    let e = err(&[("module.conv1.weight", &[4, 3, 3, 3])], None);
    assert!(
        e.contains("DataParallel") && e.contains("model.module.state_dict()"),
        "{e}"
    );
    let e = err(&[("encoder.patchify.weight", &[16, 3, 2, 2])], None);
    assert!(e.contains("MAE pre-training checkpoint"), "{e}");
    // A ResNet whose stages skip a block number.
    let gap: &[(&str, &[usize])] = &[
        ("conv1.weight", &[4, 3, 3, 3]),
        ("layer1.0.conv1.weight", &[4, 4, 3, 3]),
        ("layer1.2.conv1.weight", &[4, 4, 3, 3]),
    ];
    let e = err(gap, Some(ClassifierArch::Resnet18));
    assert!(e.contains("layer1.N groups are not numbered 0…1"), "{e}");
}
