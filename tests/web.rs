//! `fastshap web` end to end in a real browser: a small explainer's site is built, loaded in
//! headless Chromium (WebGPU on SwiftShader), several images (PNG and JPEG, 32×32 and larger)
//! are put into its file input as a visitor would, and the φ and probabilities the page computes
//! on the browser's GPU are compared with `fastshap explain` on the same files, natively.
//!
//! Needs the wasm engine (tools/build_web.sh → target/web-pkg) and Chromium; skipped where
//! either is missing unless CI asked for them (`FASTSHAP_REQUIRE_CHROMIUM`, `FASTSHAP_REQUIRE_WEB`,
//! both set by .ci/run after it builds the engine).

#[path = "common/browser.rs"]
mod browser;
mod common;

use common::fastshap_cli;
use fastshap::models::ResNetConfig;
use fastshap::train::Model;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const PKG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/web-pkg");

fn have_engine() -> bool {
    let have = Path::new(PKG).join("fastshap_web_bg.wasm").is_file();
    if !have {
        assert!(
            std::env::var_os("FASTSHAP_REQUIRE_WEB").is_none(),
            "FASTSHAP_REQUIRE_WEB is set but {PKG} has no engine: run tools/build_web.sh"
        );
        eprintln!("{PKG} not built (tools/build_web.sh): browser test skipped");
    }
    have
}

/// A small original → surrogate → explainer chain through the CLI (seconds, not a good model:
/// the test is about the browser computing what the native build computes).
fn small_explainer(dir: &Path) -> String {
    let d = |s: &str| dir.join(s).to_string_lossy().into_owned();
    let cfg = ResNetConfig {
        widths: [8, 16, 16, 16],
        blocks: [1, 1, 1, 1],
        ..ResNetConfig::resnet18(3, 10)
    };
    let model =
        Model::ResNet(fastshap::models::ResNet::new(cfg, &mut fastshap::nn::init_rng(5)).unwrap());
    common::save_confident(&model, "linear.", &dir.join("original.safetensors"));
    let quick = [
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--train-limit",
        "64",
        "--val-limit",
        "32",
        "--data",
        "embedded",
        "--quiet",
    ];
    let (orig, sur) = (d("original.safetensors"), d("sur"));
    let mut args = vec!["surrogate", "--original", &orig, "--arch", "resnet18"];
    args.extend(["--superpixel", "4", "--out", &sur]);
    args.extend(quick);
    let (code, _, err) = fastshap_cli(&args);
    assert_eq!(code, 0, "surrogate failed: {err}");
    let (sur_best, exp) = (d("sur/best.safetensors"), d("exp"));
    let mut args = vec!["explainer", "--surrogate", &sur_best, "--out", &exp];
    args.extend(quick);
    let (code, _, err) = fastshap_cli(&args);
    assert_eq!(code, 0, "explainer failed: {err}");
    d("exp/best.safetensors")
}

/// Test images from the embedded data: as they are (PNG), enlarged to 50×40 (PNG, resized
/// back by both builds) and as a JPEG; plus a file that is not an image.
fn write_images(dir: &Path) -> Vec<String> {
    let (_, test) = fastshap::data::load_source("embedded").unwrap();
    let rgb = |i: usize| {
        let chw = test.image(i);
        image::RgbImage::from_fn(32, 32, |x, y| {
            let at = |c: usize| chw[c * 1024 + y as usize * 32 + x as usize];
            image::Rgb([at(0), at(1), at(2)])
        })
    };
    let mut names = Vec::new();
    rgb(3).save(dir.join("plane.png")).unwrap();
    names.push("plane.png".to_string());
    let big = image::imageops::resize(&rgb(11), 50, 40, image::imageops::FilterType::Nearest);
    big.save(dir.join("large.png")).unwrap();
    names.push("large.png".to_string());
    rgb(20).save(dir.join("photo.jpg")).unwrap();
    names.push("photo.jpg".to_string());
    names
}

fn phi_file(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let v = st.tensor("phi").unwrap();
    v.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// max |got − want| / max |want|: φ of a small explainer spans a few orders of magnitude, and
/// the browser runs other kernel classes (other summation orders) than lavapipe.
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want
        .iter()
        .fold(0f64, |m, v| m.max(v.abs() as f64))
        .max(1e-30);
    let diff = got
        .iter()
        .zip(want)
        .fold(0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    diff / scale
}

/// The page as a visitor sees it after explaining: a picture with the heatmaps' colours in it,
/// not a blank page or an error. Kept at target/web-site.png for a look.
fn check_screenshot(shot: &Path) {
    let img = image::open(shot)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()))
        .to_rgb8();
    assert!(
        img.width() >= 1000 && img.height() >= 1000,
        "{:?}",
        img.dimensions()
    );
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 200,
        "{} colours: blank render?",
        colours.len()
    );
    // Heatmap red or blue: each image's largest |φ| takes a saturated end of the diverging map
    // (the page's chrome has none).
    let reddish = img
        .pixels()
        .filter(|p| p.0[0] > 200 && p.0[2] < 120)
        .count();
    let bluish = img
        .pixels()
        .filter(|p| p.0[2] > 200 && p.0[0] < 120)
        .count();
    assert!(
        reddish + bluish > 500,
        "heatmaps missing: {reddish} red, {bluish} blue px"
    );
    let _ = std::fs::copy(
        shot,
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/web-site.png"),
    );
}

#[test]
fn site_explains_in_chromium_as_the_native_build_does() {
    if !have_engine() || !browser::have_chromium("the browser test of `fastshap web`") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let explainer = small_explainer(tmp.path());
    let imgs = tmp.path().join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    let names = write_images(&imgs);
    std::fs::write(imgs.join("notes.txt"), "not an image").unwrap();

    let native = tmp.path().join("native");
    let mut args = vec!["explain", "--explainer", &explainer, "--out"];
    let native_s = native.to_string_lossy().into_owned();
    args.push(&native_s);
    let paths: Vec<String> = names
        .iter()
        .map(|n| imgs.join(n).to_string_lossy().into_owned())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let (code, _, err) = fastshap_cli(&args);
    assert_eq!(code, 0, "explain failed: {err}");

    let site = tmp.path().join("site");
    let site_s = site.to_string_lossy().into_owned();
    let (code, out, err) = fastshap_cli(&["web", "--explainer", &explainer, "--out", &site_s]);
    assert_eq!(code, 0, "web failed: {err}");
    assert!(out.contains("index.html"), "{out}");

    let mut files = HashMap::new();
    for e in std::fs::read_dir(&site).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let mime = match p.extension().and_then(|x| x.to_str()) {
            Some("html") => "text/html",
            Some("js") => "text/javascript",
            Some("wasm") => "application/wasm",
            _ => "application/octet-stream",
        };
        files.insert(name, browser::Served::new(std::fs::read(&p).unwrap(), mime));
    }
    let mut dropped = names.clone();
    dropped.push("notes.txt".into());
    for n in &dropped {
        files.insert(
            format!("check/{n}"),
            browser::Served::new(
                std::fs::read(imgs.join(n)).unwrap(),
                "application/octet-stream",
            ),
        );
    }
    files.insert(
        "check-images.json".into(),
        browser::Served::new(serde_json::to_vec(&dropped).unwrap(), "application/json"),
    );
    files.insert(
        "check.html".into(),
        browser::Served::new(include_str!("web/site_check.html"), "text/html"),
    );
    let shot = tmp.path().join("site.png");
    let flags = [
        "--window-size=1100,1100".to_string(),
        "--hide-scrollbars".to_string(),
        format!("--screenshot={}", shot.display()),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let body = browser::run_page_at("check.html", files, Duration::from_secs(300), &flags);
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        report["ready"], true,
        "page not ready: {}",
        report["errors"]
    );
    eprintln!("page: {}", report["status"]);

    // The file that is not an image: one message on the page, naming it; the others explained.
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].as_str().unwrap().starts_with("notes.txt: "),
        "{errors:?}"
    );
    assert!(report["errorShown"].as_str().unwrap().contains("notes.txt"));
    assert_eq!(report["shown"].as_u64(), Some(names.len() as u64));

    check_screenshot(&shot);

    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), names.len());
    for (n, (name, r)) in names.iter().zip(results).enumerate() {
        assert_eq!(r["name"].as_str(), Some(name.as_str()));
        let stem = Path::new(name).file_stem().unwrap().to_string_lossy();
        let want = phi_file(&native.join(format!("{n}-{stem}.phi.safetensors")));
        let got: Vec<f32> = r["phi"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let e = rel_err(&got, &want);
        eprintln!(
            "{name}: φ rel. error {e:.2e}, {:.1} ms in the page",
            r["ms"]
        );
        assert!(
            e <= 1e-4,
            "{name}: φ differs from `fastshap explain` by {e:.2e}"
        );
        assert!(want.iter().any(|v| *v != 0.0), "{name}: φ all zero");
    }
}

/// `fastshap web` refuses, in one line naming the problem, before writing anything: no engine
/// built, or an explainer checkpoint that does not exist.
#[test]
fn web_errors_are_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("site");
    let out_s = out.to_string_lossy().into_owned();
    let missing = tmp.path().join("no-such.safetensors");
    let missing_s = missing.to_string_lossy().into_owned();
    let empty_pkg = tmp.path().to_string_lossy().into_owned();
    let cases: [(Vec<&str>, &str); 2] = [
        (
            vec![
                "web",
                "--explainer",
                &missing_s,
                "--out",
                &out_s,
                "--pkg",
                &empty_pkg,
            ],
            "tools/build_web.sh",
        ),
        (
            vec!["web", "--explainer", &missing_s, "--out", &out_s],
            "no-such.safetensors",
        ),
    ];
    for (args, want) in cases {
        if want == "no-such.safetensors" && !have_engine() {
            continue;
        }
        let (code, _, err) = fastshap_cli(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{err}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
