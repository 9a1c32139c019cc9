//! `fastshap reproduce` / `demo`: the whole pipeline at the smoke preset, killed midway and
//! resumed, and the report holding every table and figure.

mod common;
use common::fastshap_cli as fastshap;
use fastshap::fastshap::explainer::ExplainerConfig;
use fastshap::reproduce::{
    FIDELITY_TABLE, FidelityPlan, Plan, ReproOptions, ReproPreset, STAGE_DONE, reproduce,
    stage_list, stages_of,
};
use fastshap::time::utc;
use fastshap::train::config::Arch;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Every `stage.json` under `dir`, by stage directory.
fn finished(dir: &Path) -> BTreeMap<String, String> {
    stage_list()
        .iter()
        .filter_map(|s| {
            let p = dir.join(&s.dir).join(STAGE_DONE);
            std::fs::read_to_string(p).ok().map(|t| (s.dir.clone(), t))
        })
        .collect()
}

#[test]
fn smoke_reproduction_survives_a_kill_and_reports_every_table_and_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap();

    // Kill the first run (SIGKILL) once its fifth stage (the first surrogate) has finished.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fastshap"))
        .args(["reproduce", "--preset", "smoke", "--quiet", "--out", out_s])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = out.join("surrogates/resnet-by-resnet").join(STAGE_DONE);
    let t0 = Instant::now();
    while !marker.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "stage 5 never finished"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("reproduce ended before it was killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = finished(&out);
    assert!(before.len() >= 5, "{:?}", before.keys());
    assert!(
        before.len() < stage_list().len(),
        "the kill came too late to interrupt anything"
    );
    // A report of the unfinished run says the heatmaps' explainers are not evaluated yet.
    let early = fastshap::report::write_report(&out).unwrap();
    let early = std::fs::read_to_string(early).unwrap();
    assert!(
        early.contains("resnet-by-resnet: not evaluated yet"),
        "no \"not evaluated yet\" note in the unfinished run's report"
    );

    // Another preset into the same directory is refused, before any work.
    let (code, _, err) = fastshap(&["reproduce", "--preset", "tiny", "--out", out_s]);
    assert_ne!(code, 0);
    assert!(err.contains("other settings"), "{err}");

    // `demo` is the same pipeline on the embedded data: it resumes the smoke run.
    let (code, stdout, err) = fastshap(&["demo", "--preset", "smoke", "--out", out_s]);
    assert_eq!(code, 0, "{err}\n{stdout}");
    assert!(stdout.contains("self-check passed"), "{stdout}");
    let after = finished(&out);
    for (dir, text) in &before {
        assert_eq!(
            after.get(dir),
            Some(text),
            "{dir} was redone after the resume"
        );
        let name = &stage_list()
            .into_iter()
            .find(|s| &s.dir == dir)
            .unwrap()
            .name;
        assert!(
            stdout.contains(&format!("{name}: done in an earlier run, skipped")),
            "{name} not reported as skipped:\n{stdout}"
        );
    }
    assert_eq!(
        after.len(),
        stage_list().len(),
        "unfinished: {:?}",
        stage_list()
            .iter()
            .filter(|s| !after.contains_key(&s.dir))
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
    let log = std::fs::read_to_string(out.join("run.log")).unwrap();
    let all = format!("all {} stages done", stage_list().len());
    assert!(log.contains("skipped") && log.contains(&all), "{log}");

    // The report: one file, every expected section, every image decodable, no network.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let ids = fastshap::report::expected_ids(&out).unwrap();
    for id in &ids {
        assert!(html.contains(&format!("id=\"{id}\"")), "report lacks {id}");
    }
    for must in [
        "table1",
        "table2",
        "table3",
        "task1-resnet-by-resnet",
        "task1-vit-by-vit",
        "task1-vit-by-resnet",
        "task1-mae-by-resnet",
        "task3-vit",
        "eval-resnet-by-resnet",
        "eval-vit-by-resnet",
        "table1-fidelity",
        "rollout-vit-by-vit",
        "curves-originals-resnet",
        "curves-surrogates-mae-by-vit192",
        "curves-explainers-vit-by-vit",
    ] {
        assert!(ids.iter().any(|i| i == must), "expected_ids lacks {must}");
    }
    seeds_comparison(&out, &html);
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let mut pngs = 0;
    for part in html.split("data:image/png;base64,").skip(1) {
        let b64: String = part.chars().take_while(|c| *c != '"').collect();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        image::load_from_memory(&bytes).expect("an inline PNG decodes");
        pngs += 1;
    }
    // Task 1 (4) + task 2 (≥ 1 non-empty subset) + task 3 + rollouts (2) at least.
    assert!(pngs >= 8, "{pngs} images");
    browser_check(&out.join("report.html"));
}

/// The seed's comparison: a row per explained pairing beside Table 1, each explainer judged on
/// the preset's images against exact values, shown right after Table 1, and every heatmap
/// figure followed by what its explainer's evaluation says.
fn seeds_comparison(out: &Path, html: &str) {
    let plan = Plan::new(ReproPreset::Smoke);
    assert!(plan.eval_images >= 20, "{}", plan.eval_images);
    let csv = std::fs::read_to_string(
        out.join("tables")
            .join(FIDELITY_TABLE)
            .with_extension("csv"),
    )
    .unwrap();
    let rows = fastshap::report::parse_csv(&csv);
    let (head, rows) = rows.split_first().unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("reproduce.json")).unwrap())
            .unwrap();
    let explained = meta["settings"]["explained"].as_array().unwrap();
    assert_eq!(rows.len(), explained.len(), "{csv}");
    assert_eq!(explained.len(), 4);
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let truth = format!("{} (exact)", plan.eval_images);
    for r in rows {
        assert_eq!(r[col("images (truth)")], truth, "{r:?}");
        assert_eq!(
            r[col("truth converged")],
            format!("{0}/{0}", plan.eval_images)
        );
        assert!(
            r[col("FastSHAP Pearson")].contains('['),
            "no interval: {r:?}"
        );
        let right = &r[col("right at this budget?")];
        assert!(right == "yes" || right.starts_with("no: "), "{right}");
    }
    let at = |id: &str| html.find(&format!("id=\"{id}\"")).unwrap();
    assert!(at("table1") < at("table1-fidelity") && at("table1-fidelity") < at("table3"));
    // Task 1 (4 figures), task 2 (one note per explainer: 2) and task 3 (2).
    let notes = format!(
        "{0} images against exact ({0}/{0} converged)",
        plan.eval_images
    );
    assert!(html.matches(&notes).count() >= 8, "heatmap notes missing");
}

/// Renders the report in headless Chromium (tools/check_report.sh) and checks the screenshot
/// is a tall page with content, not a blank or an error page. Skipped only where Chromium is
/// absent and CI did not ask for it (`FASTSHAP_REQUIRE_CHROMIUM`, set by .ci/run).
fn browser_check(report: &Path) {
    let have = std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("FASTSHAP_REQUIRE_CHROMIUM").is_none(),
            "FASTSHAP_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("chromium not installed: browser check of the report skipped");
        return;
    }
    let shot = report.with_file_name("screenshot.png");
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tools/check_report.sh"
    ))
    .arg(report)
    .arg(&shot)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "check_report.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    assert!(img.height() > 4000, "page only {} px tall", img.height());
    // A rendered page has many distinct colours (heatmaps, plots); a blank one has one.
    let colours: std::collections::HashSet<[u8; 3]> =
        img.pixels().step_by(97).map(|p| p.0).collect();
    assert!(
        colours.len() > 200,
        "{} colours: blank render?",
        colours.len()
    );
}

#[test]
fn every_preset_builds_valid_training_configs() {
    for preset in [
        ReproPreset::Smoke,
        ReproPreset::Tiny,
        ReproPreset::Short,
        ReproPreset::Paper,
        ReproPreset::Cpu,
        ReproPreset::Demo,
    ] {
        let plan = Plan::new(preset);
        let p = Path::new("x.safetensors");
        for arch in [
            Arch::Resnet18,
            Arch::Vit,
            Arch::MaePretrain,
            Arch::MaeClassifier,
        ] {
            plan.original_config(arch, "embedded", Some(p))
                .validate()
                .unwrap_or_else(|e| panic!("{preset:?} {arch:?}: {e:#}"));
        }
        for arch in [
            fastshap::fastshap::surrogate::SurrogateArch::Resnet18,
            fastshap::fastshap::surrogate::SurrogateArch::Vit,
            fastshap::fastshap::surrogate::SurrogateArch::Vit192,
        ] {
            plan.surrogate_config(arch, p, "embedded")
                .validate()
                .unwrap_or_else(|e| panic!("{preset:?} {arch:?}: {e:#}"));
        }
        let e: ExplainerConfig = plan.explainer_config(p, "embedded");
        let mut e = e;
        e.unet.superpixel = plan.superpixel;
        e.validate()
            .unwrap_or_else(|err| panic!("{preset:?} explainer: {err:#}"));
    }
    // The tiny preset is what the issue asks for: superpixel 4, small widths.
    assert_eq!(Plan::new(ReproPreset::Tiny).superpixel, 4);
    assert_eq!(Plan::new(ReproPreset::Paper).superpixel, 2);
}

#[test]
fn utc_formats_known_instants() {
    let at = |s: u64| utc(UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(at(0), "1970-01-01 00:00:00");
    assert_eq!(at(951_782_400), "2000-02-29 00:00:00");
    assert_eq!(at(1_798_761_599), "2026-12-31 23:59:59");
}

#[test]
fn bad_data_fails_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let missing = tmp.path().join("no-such-cifar");
    let (code, _, err) = fastshap(&[
        "reproduce",
        "--preset",
        "smoke",
        "--data",
        missing.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-cifar"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Nothing recorded, so the corrected command is not refused as "other settings".
    assert!(!out.join("reproduce.json").exists());
    assert!(!out.join("run.log").exists());
}

/// The fidelity experiment (presets `cpu` and `demo`) at the smallest budgets: its four stages
/// run, `summary.json` holds the answer (originals' accuracy, the surrogate's KL, the explainer
/// against exact values beside its untrained self), and the report leads with it and leaves out
/// the paper-only sections.
/// The fidelity experiment at the smallest fixed budgets (the smoke preset with a fidelity
/// plan: the measured presets would size themselves). P = 4 (superpixel 16): the same stages
/// and files as P = 16, with 16 coalitions per image for the exact values instead of 65,536
/// (tests/evaluate.rs covers P = 16).
fn fidelity_smoke_plan() -> Plan {
    let mut plan = Plan::new(ReproPreset::Smoke);
    plan.superpixel = 16;
    plan.eval_images = 2;
    plan.bootstrap = 50;
    let mut f = FidelityPlan::new();
    f.surrogate.dim = 16;
    f.surrogate.mlp = 32;
    f.unet_base = 4;
    f.explainer_samples = 4;
    f.kernelshap_images = 1;
    f.budgets = vec![16, 64];
    plan.fidelity = Some(f);
    plan
}

#[test]
fn fidelity_experiment_writes_its_answer_first() {
    let plan = fidelity_smoke_plan();
    let stages = stages_of(&plan);
    let kinds: Vec<&str> = stages.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["original", "surrogate", "explainer", "evaluation"]);
    let tmp = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let opts = ReproOptions {
        quiet: true,
        ..ReproOptions::default()
    };
    let report = reproduce(&plan, "embedded", tmp.path(), &opts).unwrap();
    eprintln!("fidelity smoke run: {:.1} s", t0.elapsed().as_secs_f64());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap())
            .unwrap();
    assert!(
        summary["originals"]["resnet"]["test_accuracy"].is_number(),
        "{summary}"
    );
    let slug = fastshap::reproduce::fidelity_slug(&plan);
    let sur = &summary["surrogates"][slug];
    assert!(sur["val_kl"].as_f64().unwrap() >= 0.0, "{summary}");
    let e = &summary["explainers"][slug];
    assert_eq!(e["ground_truth"], "exact");
    assert_eq!(e["players"], 4);
    for key in [
        "pearson_explained_class",
        "untrained_pearson_explained_class",
        "l2_explained_class",
    ] {
        let s = &e[key];
        assert!(
            s["lo"].as_f64().unwrap() <= s["mean"].as_f64().unwrap() + 1e-12,
            "{key}: {s}"
        );
    }
    assert!(e["ms_per_image"].as_f64().unwrap() > 0.0);
    assert!(e["auc"].as_array().unwrap().len() >= 6, "{e}");
    let html = std::fs::read_to_string(&report).unwrap();
    let answer = html.find("id=\"answer\"").expect("an answer section");
    let config = html
        .find("id=\"configuration\"")
        .expect("a configuration section");
    assert!(answer < config, "the answer comes first");
    assert!(!html.contains("id=\"table1\"") && !html.contains("id=\"task2\""));
    for id in fastshap::report::expected_ids(tmp.path()).unwrap() {
        assert!(html.contains(&format!("id=\"{id}\"")), "missing id {id}");
    }
    assert!(
        html.contains("error vs game evaluations"),
        "the budget plot"
    );
    // The explainer kept snapshots (the preset's plan): its learning curve, in the summary
    // (untrained self first, then by step) and the report.
    let points = e["learning_curve"]["points"]
        .as_array()
        .expect("a learning curve");
    assert!(points.len() >= 2 && points[0]["step"] == 0, "{e}");
    assert!(
        e["learning_curve"]["verdict"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{e}"
    );
    assert!(
        html.contains("Learning curve") && html.contains("against training steps"),
        "the learning curve section"
    );
}

/// The same experiment through a ResNet surrogate (`reproduce --surrogate-arch resnet`): the
/// surrogate trained is a ResNet, and the answer holds its explainer against exact values.
#[test]
fn fidelity_experiment_runs_through_a_resnet_surrogate() {
    let mut plan = fidelity_smoke_plan().with_resnet_surrogate().unwrap();
    let f = plan.fidelity.as_mut().unwrap();
    let r = f.resnet_surrogate.as_mut().unwrap();
    r.widths = [4, 4, 8, 8];
    let tmp = tempfile::tempdir().unwrap();
    let opts = ReproOptions {
        quiet: true,
        ..ReproOptions::default()
    };
    reproduce(&plan, "embedded", tmp.path(), &opts).unwrap();
    let slug = fastshap::reproduce::fidelity_slug(&plan);
    assert_eq!(slug, "resnet-by-resnet16");
    let sur = fastshap::fastshap::Surrogate::load(
        &tmp.path()
            .join("surrogates")
            .join(slug)
            .join("best.safetensors"),
    )
    .unwrap();
    assert!(matches!(sur.model, fastshap::train::Model::ResNet(_)));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap())
            .unwrap();
    let e = &summary["explainers"][slug];
    assert_eq!(e["ground_truth"], "exact", "{summary}");
    assert_eq!(e["players"], 4);
    assert!(e["pearson_explained_class"]["mean"].is_number(), "{e}");
}
