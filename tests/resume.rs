//! Long runs survive, through the real `fastshap` binary: surrogate and explainer runs killed
//! with SIGKILL at a random moment and resumed with `--resume` give the same metrics, epoch by
//! epoch, and the same weights, bit for bit, as runs never interrupted; kills that land while
//! checkpoints are written never leave `last` or `best` unloadable; a NaN from a forced op (or
//! its gradient) stops the run naming the step, the op and its layer, keeping the last good
//! checkpoint. (The classifier trainer's own resume tests are in tests/train.rs and
//! tests/reliability.rs; the reproduce stage's in src/reproduce/stages.rs.)

mod common;

use fastshap::fastshap::explainer::{self, Explainer};
use fastshap::fastshap::surrogate::{self, Surrogate};
use fastshap::models::ResNetConfig;
use fastshap::nn::{Module, init_rng};
use fastshap::ops::optim::{Adam, Optimizer};
use fastshap::train::{Model, state};
use safetensors::SafeTensors;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fastshap");

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

/// (exit code, stdout, stderr without lavapipe's environment complaint).
fn fastshap(args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = common::fastshap_cli(args);
    let err = err
        .lines()
        .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
        .collect::<Vec<_>>()
        .join("\n");
    (code, out, err)
}

fn tmp_root() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// A tiny random ResNet original with confident predictions.
fn original() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let cfg = ResNetConfig {
            widths: [8, 16, 16, 16],
            blocks: [1, 1, 1, 1],
            ..ResNetConfig::resnet18(3, 10)
        };
        let model = Model::ResNet(fastshap::models::ResNet::new(cfg, &mut init_rng(5)).unwrap());
        let path = tmp_root().join("original.safetensors");
        common::save_confident(&model, "linear.", &path);
        path
    })
}

/// A tiny surrogate run: crop-flip augmentation, shuffling, Adam, the plateau schedule.
fn surrogate_args(out: &Path, epochs: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "surrogate",
        "--original",
        original().to_str().unwrap(),
        "--arch",
        "vit-192",
        "--preset",
        "tiny",
        "--superpixel",
        "8",
        "--batch-size",
        "16",
        "--train-limit",
        "32",
        "--val-limit",
        "16",
        "--patience",
        "0",
        "--seed",
        "3",
        "--epochs",
        epochs,
    ]
    .map(String::from)
    .to_vec();
    // The run directory last: the tests find it there.
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    a
}

fn explainer_args(out: &Path, epochs: &str, extra: &[&str]) -> Vec<String> {
    let sur = surrogate_reference().0.join(state::BEST);
    let mut a: Vec<String> = [
        "explainer",
        "--surrogate",
        sur.to_str().unwrap(),
        "--preset",
        "tiny",
        "--batch-size",
        "16",
        "--train-limit",
        "32",
        "--val-limit",
        "16",
        "--augment",
        "crop-flip",
        "--patience",
        "0",
        "--seed",
        "4",
        "--epochs",
        epochs,
    ]
    .map(String::from)
    .to_vec();
    // The run directory last: the tests find it there.
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// An uninterrupted run of `args` (shared by the tests) and how long one epoch of it took.
fn reference(args: Vec<String>) -> (PathBuf, Duration) {
    let t0 = Instant::now();
    let (code, _, err) = fastshap(&strs(&args));
    assert_eq!(code, 0, "{err}");
    let out = PathBuf::from(args.last().unwrap());
    (out, t0.elapsed() / EPOCHS as u32)
}

const EPOCHS: usize = 3;

fn surrogate_reference() -> &'static (PathBuf, Duration) {
    static R: OnceLock<(PathBuf, Duration)> = OnceLock::new();
    R.get_or_init(|| {
        reference(surrogate_args(
            &tmp_root().join("sur-ref"),
            "3",
            &["--quiet"],
        ))
    })
}

fn explainer_reference() -> &'static (PathBuf, Duration) {
    static R: OnceLock<(PathBuf, Duration)> = OnceLock::new();
    R.get_or_init(|| {
        reference(explainer_args(
            &tmp_root().join("exp-ref"),
            "3",
            &["--quiet"],
        ))
    })
}

/// `metrics.jsonl` without the timing fields.
fn comparable(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(state::METRICS))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let m = v.as_object_mut().unwrap();
            m.remove("images_per_s");
            m.remove("seconds");
            v
        })
        .collect()
}

/// Every tensor of a checkpoint, as raw bytes.
fn tensors(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, t)| (n, t.data().to_vec()))
        .collect()
}

/// SplitMix64: random kill moments without a dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e3779b97f4a7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// What a run directory must always offer: `best` and `last` load as models, and `last` with its
/// optimizer file restores a resumable run.
fn assert_loadable(dir: &Path, role: &str) {
    let (best, last) = (dir.join(state::BEST), dir.join(state::LAST));
    if role == "surrogate" {
        Surrogate::load(&best).expect("best loads");
        let s = Surrogate::load(&last).expect("last loads");
        let r = surrogate::read_resume(dir).unwrap();
        let mut opt = Optimizer::adam(s.model.parameters(), 1e-3, Adam::default()).unwrap();
        state::restore(&r, &s.model, &mut opt).expect("last restores with its optimizer");
    } else {
        Explainer::load(&best).expect("best loads");
        let (e, _) = Explainer::load(&last).expect("last loads");
        let r = explainer::read_resume(dir).unwrap();
        let mut opt = Optimizer::adam(e.module().parameters(), 1e-3, Adam::default()).unwrap();
        state::restore(&r, e.module(), &mut opt).expect("last restores with its optimizer");
    }
}

/// Starts `args`, kills it (SIGKILL) at a random moment after its first checkpoint, checks
/// what it left loads, resumes it to the end and compares it with `reference`.
fn kill_resume_compare(args: Vec<String>, reference: &(PathBuf, Duration), role: &str) {
    let out = PathBuf::from(args.last().unwrap());
    let mut child = cmd(&strs(&args))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let last = out.join(state::LAST);
    let t0 = Instant::now();
    // The checkpoint appears by rename, so once it exists it is complete.
    while !last.exists() {
        assert!(t0.elapsed() < Duration::from_secs(300), "no checkpoint");
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Anywhere in the next epoch and a half: mid-step, mid-validation or mid-save.
    let mut seed = time_seed();
    let wait = reference
        .1
        .mul_f64((splitmix(&mut seed) % 1000) as f64 / 666.0);
    std::thread::sleep(wait);
    let finished = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_loadable(&out, role);
    let saved: usize = fastshap::checkpoint::read_metadata(&last).unwrap()["fastshap.epoch"]
        .parse()
        .unwrap();
    eprintln!("{role}: killed {wait:?} after the first checkpoint, at epoch {saved}");
    let (code, stdout, err) = fastshap(&[role, "--resume", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    if !finished {
        assert!(
            stdout.contains(&format!("resuming after epoch {saved}")),
            "{stdout}"
        );
    }
    let got = comparable(&out);
    assert_eq!(got.len(), EPOCHS, "{got:?}");
    assert_eq!(got, comparable(&reference.0));
    for f in [state::LAST, state::BEST] {
        assert!(
            tensors(&out.join(f)) == tensors(&reference.0.join(f)),
            "{f} differs from the uninterrupted run's"
        );
    }
}

#[test]
fn surrogate_killed_with_sigkill_resumes_bit_identically() {
    let reference = surrogate_reference();
    let args = surrogate_args(&tmp_root().join("sur-killed"), "3", &["--quiet"]);
    kill_resume_compare(args, reference, "surrogate");
}

#[test]
fn explainer_killed_with_sigkill_resumes_bit_identically() {
    let reference = explainer_reference();
    let args = explainer_args(&tmp_root().join("exp-killed"), "3", &["--quiet"]);
    kill_resume_compare(args, reference, "explainer");
}

/// Temp files of atomic writes in `dir` (`.last.safetensors.PID.tmp`).
fn temps(dir: &Path) -> Vec<String> {
    let Ok(d) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Kills a run of one-step epochs (SIGKILL) the moment one of its checkpoint writes is under
/// way (its temp file exists), again and again, resuming in between: after every kill `last`
/// and `best` load; the run ends with every epoch once.
#[test]
fn kills_during_checkpoint_writes_leave_loadable_last_and_best() {
    let dir = tmp_root().join("sur-many-kills");
    let epochs = 12;
    let mut fresh = surrogate_args(
        &dir,
        &epochs.to_string(),
        &["--quiet", "--early-stop", "100"],
    );
    for (flag, value) in [("--train-limit", "16"), ("--val-limit", "8")] {
        let i = fresh.iter().position(|a| a == flag).unwrap();
        fresh[i + 1] = value.to_string();
    }
    let resume = ["surrogate", "--resume", dir.to_str().unwrap(), "--quiet"];
    let mut seed = time_seed();
    let mut killed_writing = Vec::new();
    let t0 = Instant::now();
    while killed_writing.len() < 5 && t0.elapsed() < Duration::from_secs(90) {
        let args = if dir.join(state::LAST).exists() {
            resume.iter().map(|s| s.to_string()).collect()
        } else {
            fresh.clone()
        };
        // Left by earlier kills (the run removes them when it starts).
        let stale = temps(&dir);
        let mut child = cmd(&strs(&args)).stdout(Stdio::null()).spawn().unwrap();
        // Kill during the k-th write seen: the optimizer file, best or last of some epoch.
        let k = 1 + splitmix(&mut seed) % 5;
        let mut seen = std::collections::HashSet::new();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "{args:?}: {status}");
                break true;
            }
            seen.extend(temps(&dir).into_iter().filter(|t| !stale.contains(t)));
            if seen.len() as u64 >= k {
                break false;
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        if finished {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Still there after the kill: the write was cut short.
        killed_writing.extend(temps(&dir).into_iter().filter(|t| !stale.contains(t)));
        if dir.join(state::LAST).exists() {
            assert_loadable(&dir, "surrogate");
        }
    }
    eprintln!("killed while writing: {killed_writing:?}");
    assert!(!killed_writing.is_empty(), "no kill landed during a write");
    let (code, _, err) = if dir.join(state::LAST).exists() {
        fastshap(&resume)
    } else {
        fastshap(&strs(&fresh))
    };
    assert_eq!(code, 0, "{err}");
    let epochs_seen: Vec<u64> = comparable(&dir)
        .iter()
        .map(|m| m["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs_seen, (1..=epochs as u64).collect::<Vec<_>>());
    assert_loadable(&dir, "surrogate");
    assert_eq!(
        temps(&dir),
        Vec::<String>::new(),
        "temp files left after the resume"
    );
}

/// Runs `args` expecting a NaN stop: one `error:` line holding every word, `last` kept at
/// epoch 1 and loadable.
fn assert_nan_stop(args: Vec<String>, role: &str, words: &[&str]) {
    let out = PathBuf::from(args.last().unwrap());
    let (code, _, err) = fastshap(&strs(&args));
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for w in words {
        assert!(err.contains(w), "{role}: no {w:?} in {err}");
    }
    let meta = fastshap::checkpoint::read_metadata(&out.join(state::LAST)).unwrap();
    assert_eq!(meta["fastshap.epoch"], "1");
    assert_loadable(&out, role);
}

#[test]
fn nan_stops_naming_the_step_op_and_layer() {
    // Two steps per epoch: global step 3 is epoch 2's second.
    let at3 = ["--quiet", "--fault-nan-at-step", "3", "--fault-nan-op"];
    // A NaN from the surrogate's classifier head (its output: the loss is NaN).
    let mut extra = at3.to_vec();
    extra.push("matmul@head");
    assert_nan_stop(
        surrogate_args(&tmp_root().join("sur-nan"), "3", &extra),
        "surrogate",
        &[
            "surrogate training loss is NaN at epoch 2 step 2 (global step 3)",
            "NaN first produced by op matmul in layer head",
            "last.safetensors (epoch 1) is kept",
        ],
    );
    // A NaN in the gradient of the explainer's second conv block: the loss stays finite.
    let mut extra = at3.to_vec();
    extra.push("grad:conv2d@down1.conv.0");
    assert_nan_stop(
        explainer_args(&tmp_root().join("exp-nan"), "3", &extra),
        "explainer",
        &[
            "explainer training weights are not finite after epoch 2 step 2 (global step 3; every loss was finite)",
            "NaN first produced by the gradient of op conv2d in layer down1.conv.0",
            "(epoch 1) is kept",
        ],
    );
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let dir = tmp_root().join("refusals");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let (code, _, err) = fastshap(&["surrogate", "--resume", d]);
    assert_eq!(code, 1);
    assert!(err.contains("finished no epoch"), "{err}");
    // A fresh run into a directory holding one is refused, naming --resume.
    let (code, _, err) = fastshap(&strs(&surrogate_args(&surrogate_reference().0, "3", &[])));
    assert_eq!(code, 1);
    assert!(err.contains("--resume"), "{err}");
    // --resume takes every setting from the run: other settings are refused by the parser.
    let (code, _, err) = fastshap(&["explainer", "--resume", d, "--out", d]);
    assert_ne!(code, 0);
    assert!(err.contains("--out"), "{err}");
}
