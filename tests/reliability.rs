//! Reliability through the real `fastshap` binary: a table of bad inputs (each must exit with the
//! expected status, print one clear line naming the file and the problem, and change nothing
//! already written), a full disk (RLIMIT_FSIZE), writers and training runs killed with SIGKILL,
//! a NaN loss, a batch over the adapter's binding limit, and one-line GPU errors.
//!
//! Data-layer details are covered at the library level in tests/data.rs and the
//! lr/batch-size/optimizer flags in tests/train.rs; here every case goes through the CLI.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fastshap::data::{self, CIFAR10_CLASSES, Dataset};
use image::{ImageBuffer, ImageFormat, Luma, Rgb, Rgba};
use safetensors::SafeTensors;

const BIN: &str = env!("CARGO_BIN_EXE_fastshap");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env("FASTSHAP_CACHE", cache_dir());
    c
}

/// The data cache of these tests, away from the user's.
fn cache_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn finish(o: std::process::Output) -> Out {
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        // lavapipe's harmless complaint about the environment is not ours.
        stderr: String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn fastshap(args: &[&str]) -> Out {
    finish(cmd(args).output().unwrap())
}

/// Exit status `code`, no panic or backtrace, and a first line that starts with `error:` and
/// holds every word. `one_line`: nothing else on stderr.
fn assert_fails(case: &str, o: &Out, code: i32, words: &[&str], one_line: bool) {
    let first = o.stderr.lines().next().unwrap_or("");
    assert_eq!(o.code, code, "{case}: exit status; stderr: {}", o.stderr);
    assert!(
        !o.stderr.contains("panicked") && !o.stderr.contains("backtrace"),
        "{case}: panic: {}",
        o.stderr
    );
    assert!(first.starts_with("error:"), "{case}: {}", o.stderr);
    for w in words {
        assert!(first.contains(w), "{case}: {w:?} not in {first:?}");
    }
    if one_line {
        assert_eq!(o.stderr.trim().lines().count(), 1, "{case}: {}", o.stderr);
    }
}

/// Every file under `dir` with its contents, to show nothing was changed.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    m
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn png<P: image::Pixel<Subpixel = S> + image::PixelWithColorType, S: image::Primitive>(
    w: u32,
    h: u32,
    v: S,
) -> Vec<u8>
where
    [S]: image::EncodableLayout,
{
    let img = ImageBuffer::<P, Vec<S>>::from_pixel(
        w,
        h,
        *P::from_slice(&vec![v; P::CHANNEL_COUNT as usize]),
    );
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn good_png() -> Vec<u8> {
    png::<Rgb<u8>, u8>(32, 32, 100)
}

/// An image-folder tree with two classes and one good PNG per class and split.
fn good_tree(root: &Path) {
    for rel in [
        "train/cat/a.png",
        "train/dog/b.png",
        "test/cat/c.png",
        "test/dog/d.png",
    ] {
        write(&root.join(rel), &good_png());
    }
}

/// A binary release of 4 training and 2 test records.
fn bin_release(dir: &Path) -> Vec<u8> {
    let (train, test) = data::embedded().unwrap();
    let pick = |d: &Dataset, n: usize| d.select(&(0..n).collect::<Vec<_>>());
    write(
        &dir.join("data_batch_1.bin"),
        &data::encode_batch(&pick(&train, 4)),
    );
    write(
        &dir.join("batches.meta.txt"),
        CIFAR10_CLASSES.join("\n").as_bytes(),
    );
    data::encode_batch(&pick(&test, 2))
}

/// Runs `train` on `--data src` into an output directory that already holds a file: the run must
/// fail before writing anything.
fn train_on(src: &Path, tmp: &Path) -> (Out, BTreeMap<PathBuf, Vec<u8>>) {
    let out = tmp.join("out");
    write(&out.join("notes.txt"), b"mine");
    let before = snapshot(&out);
    let o = fastshap(&[
        "train",
        "--arch",
        "vit",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--schedule",
        "constant",
        "--quiet",
        "--data",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(snapshot(&out), before, "output directory changed");
    (o, before)
}

// ---------------------------------------------------------------- bad data

#[test]
fn bad_data_table() {
    type Setup = fn(&Path) -> PathBuf;
    let table: Vec<(&str, Setup, Vec<&str>)> = vec![
        (
            "truncated CIFAR binary",
            |t| {
                let d = t.join("bin");
                let test = bin_release(&d);
                write(&d.join("test_batch.bin"), &test[..test.len() - 1]);
                d
            },
            vec!["test_batch.bin", "truncated", "not a multiple of 3073"],
        ),
        (
            "oversized CIFAR binary",
            |t| {
                let d = t.join("bin");
                let mut test = bin_release(&d);
                test.extend_from_slice(&[0; 5]);
                write(&d.join("test_batch.bin"), &test);
                d
            },
            vec!["test_batch.bin", "oversized", "+ 5 bytes"],
        ),
        (
            "JPEG with garbage bytes",
            |t| {
                let d = t.join("imgs");
                good_tree(&d);
                write(
                    &d.join("train/cat/x.jpg"),
                    b"\xff\xd8\xff\xe0garbage garbage",
                );
                d
            },
            vec!["train/cat/x.jpg", "corrupt", "JPEG"],
        ),
        (
            "grayscale PNG",
            |t| {
                let d = t.join("imgs");
                good_tree(&d);
                write(&d.join("train/cat/g.png"), &png::<Luma<u8>, u8>(32, 32, 7));
                d
            },
            vec!["train/cat/g.png", "grayscale", "only 8-bit RGB"],
        ),
        (
            "RGBA PNG",
            |t| {
                let d = t.join("imgs");
                good_tree(&d);
                write(&d.join("test/dog/r.png"), &png::<Rgba<u8>, u8>(32, 32, 7));
                d
            },
            vec!["test/dog/r.png", "RGBA"],
        ),
        (
            "16-bit PNG",
            |t| {
                let d = t.join("imgs");
                good_tree(&d);
                write(
                    &d.join("train/dog/s.png"),
                    &png::<Rgb<u16>, u16>(32, 32, 999),
                );
                d
            },
            vec!["train/dog/s.png", "16-bit RGB"],
        ),
        (
            "PNG not 32x32",
            |t| {
                let d = t.join("imgs");
                good_tree(&d);
                write(&d.join("train/dog/big.png"), &png::<Rgb<u8>, u8>(64, 48, 7));
                d
            },
            vec!["train/dog/big.png", "64x48", "expected 32x32"],
        ),
        (
            "empty image folder",
            |t| {
                let d = t.join("imgs");
                std::fs::create_dir_all(d.join("train")).unwrap();
                std::fs::create_dir_all(d.join("test")).unwrap();
                d
            },
            vec!["imgs", "train/", "no class folders"],
        ),
        (
            "class folder with no images",
            |t| {
                let d = t.join("imgs");
                good_tree(&d);
                write(&d.join("train/owl/readme.txt"), b"no images");
                d
            },
            vec!["imgs", "class folder train/owl has no images"],
        ),
        (
            "missing data path",
            |t| t.join("nowhere"),
            vec!["nowhere", "No such file"],
        ),
    ];
    for (case, setup, words) in table {
        let tmp = tempfile::tempdir().unwrap();
        let src = setup(tmp.path());
        let (o, _) = train_on(&src, tmp.path());
        assert_fails(case, &o, 1, &words, true);
        // `eval --data` reads the same loaders.
        let ck = vit_run().join("best.safetensors");
        let o = fastshap(&[
            "eval",
            "--model",
            ck.to_str().unwrap(),
            "--data",
            src.to_str().unwrap(),
        ]);
        assert_fails(case, &o, 1, &words, true);
        eprintln!("bad data: {case}: ok");
    }
}

// ---------------------------------------------------------------- checkpoints

const TINY: &[&str] = &[
    "--preset",
    "tiny",
    "--schedule",
    "constant",
    "--augment",
    "none",
    "--batch-size",
    "32",
    "--val-limit",
    "32",
    "--quiet",
];

fn train_args<'a>(arch: &'a str, out: &'a str, epochs: &'a str, limit: &'a str) -> Vec<&'a str> {
    let mut a = vec![
        "train",
        "--arch",
        arch,
        "--out",
        out,
        "--epochs",
        epochs,
        "--train-limit",
        limit,
    ];
    a.extend_from_slice(TINY);
    a
}

/// A finished one-epoch tiny ViT run, shared by the tests (read only).
fn vit_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| shared_run("vit"))
}

fn mae_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| shared_run("mae-pretrain"))
}

fn shared_run(arch: &str) -> PathBuf {
    let dir = cache_dir().join(format!("run-{arch}"));
    let o = fastshap(&train_args(arch, dir.to_str().unwrap(), "1", "32"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    dir
}

/// `src`'s tensors (minus `drop`, plus `extra`) with `meta` as a new safetensors file.
fn rewrite(
    src: &Path,
    dst: &Path,
    meta: Option<std::collections::HashMap<String, String>>,
    edit: impl Fn(&str, Vec<usize>) -> Option<(String, Vec<usize>)>,
) {
    let bytes = std::fs::read(src).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned = Vec::new();
    for (name, v) in st.tensors() {
        if let Some((n, shape)) = edit(&name, v.shape().to_vec()) {
            let count: usize = shape.iter().product();
            owned.push((n, shape, vec![0u8; count * 4]));
        }
    }
    let views: Vec<_> = owned
        .iter()
        .map(|(n, s, d)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(dst, safetensors::serialize(views, meta).unwrap()).unwrap();
}

fn meta_of(p: &Path) -> std::collections::HashMap<String, String> {
    fastshap::checkpoint::read_metadata(p).unwrap()
}

#[test]
fn bad_checkpoint_table() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let best = vit_run().join("best.safetensors");
    let mae = mae_run().join("last.safetensors");
    let bytes = std::fs::read(&best).unwrap();
    let keep = |m: std::collections::HashMap<String, String>| Some(m);

    write(&t.join("truncated.safetensors"), &bytes[..bytes.len() / 2]);
    write(&t.join("header-only.safetensors"), &bytes[..40]);
    rewrite(
        &best,
        &t.join("missing.safetensors"),
        keep(meta_of(&best)),
        |n, s| (n != "head.weight").then(|| (n.to_string(), s)),
    );
    rewrite(
        &best,
        &t.join("renamed.safetensors"),
        keep(meta_of(&best)),
        |n, s| Some((n.replace("head.weight", "head.weights"), s)),
    );
    rewrite(
        &best,
        &t.join("shape.safetensors"),
        keep(meta_of(&best)),
        |n, s| Some((n.to_string(), if n == "head.bias" { vec![11] } else { s })),
    );
    let mut resnet_meta = meta_of(&best);
    let resnet_cfg = match fastshap::train::config::TrainConfig::recipe(
        fastshap::train::config::Arch::Resnet18,
        fastshap::train::config::Preset::Tiny,
        "embedded",
    )
    .model
    {
        fastshap::train::config::ModelConfig::ResNet(c) => serde_json::to_string(&c).unwrap(),
        _ => unreachable!(),
    };
    resnet_meta.insert("fastshap.arch".into(), "resnet".into());
    resnet_meta.insert("fastshap.config".into(), resnet_cfg);
    rewrite(
        &best,
        &t.join("says-resnet.safetensors"),
        Some(resnet_meta),
        |n, s| Some((n.to_string(), s)),
    );
    let mut lenet = meta_of(&best);
    lenet.insert("fastshap.arch".into(), "lenet".into());
    rewrite(&best, &t.join("lenet.safetensors"), Some(lenet), |n, s| {
        Some((n.to_string(), s))
    });
    rewrite(&best, &t.join("no-meta.safetensors"), None, |n, s| {
        Some((n.to_string(), s))
    });
    let before = snapshot(t);
    let p = |n: &str| t.join(n).to_str().unwrap().to_string();

    let table: Vec<(&str, String, Vec<&str>, bool)> = vec![
        (
            "truncated",
            p("truncated.safetensors"),
            vec![
                "truncated.safetensors",
                "not a valid safetensors",
                "truncated",
            ],
            true,
        ),
        (
            "header only",
            p("header-only.safetensors"),
            vec!["header-only.safetensors", "not a valid safetensors"],
            true,
        ),
        (
            "missing tensor",
            p("missing.safetensors"),
            vec!["missing.safetensors", "missing tensor head.weight"],
            true,
        ),
        (
            "wrong tensor name",
            p("renamed.safetensors"),
            vec!["renamed.safetensors", "2 problems"],
            false,
        ),
        (
            "wrong shape",
            p("shape.safetensors"),
            vec!["shape.safetensors", "head.bias: shape [11]", "expects [10]"],
            true,
        ),
        (
            "MAE pre-training checkpoint",
            mae.to_str().unwrap().to_string(),
            vec![
                "last.safetensors",
                "MAE pre-training checkpoint",
                "needs a classifier",
            ],
            true,
        ),
        (
            "ViT tensors, metadata says resnet",
            p("says-resnet.safetensors"),
            vec!["says-resnet.safetensors", "does not match the model"],
            false,
        ),
        (
            "unknown architecture",
            p("lenet.safetensors"),
            vec!["lenet"],
            true,
        ),
        (
            "no metadata",
            p("no-meta.safetensors"),
            vec!["no-meta.safetensors", "no fastshap metadata", "pass --arch"],
            true,
        ),
        (
            "missing file",
            p("nothing.safetensors"),
            vec!["nothing.safetensors", "No such file"],
            true,
        ),
    ];
    for (case, path, words, one_line) in table {
        let o = fastshap(&["eval", "--model", &path]);
        assert_fails(case, &o, 1, &words, one_line);
        eprintln!("bad checkpoint: {case}: ok");
    }
    // --init of something that is not a pretrained MAE.
    let out = t.join("ft");
    let mut a = train_args("mae-classifier", out.to_str().unwrap(), "1", "32");
    a.extend(["--init", best.to_str().unwrap()]);
    assert_fails(
        "--init vit",
        &fastshap(&a),
        1,
        &["is a vit checkpoint"],
        true,
    );
    a.pop();
    let trunc = p("truncated.safetensors");
    a.push(&trunc);
    assert_fails(
        "--init truncated",
        &fastshap(&a),
        1,
        &["truncated.safetensors", "not a valid"],
        true,
    );
    assert!(!out.join("last.safetensors").exists());
    // --resume from a run whose last checkpoint is damaged.
    let run = t.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::copy(
        t.join("truncated.safetensors"),
        run.join("last.safetensors"),
    )
    .unwrap();
    let o = fastshap(&["train", "--resume", run.to_str().unwrap()]);
    assert_fails(
        "resume truncated",
        &o,
        1,
        &["last.safetensors", "not a valid"],
        true,
    );
    std::fs::remove_dir_all(&run).unwrap();
    std::fs::remove_dir_all(&out).ok();
    assert_eq!(snapshot(t), before, "checkpoints changed");
}

// ---------------------------------------------------------------- flags, output directories

#[test]
fn bad_flag_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    write(&out.join("notes.txt"), b"mine");
    let before = snapshot(&out);
    let o = out.to_str().unwrap();
    let base = ["train", "--preset", "tiny", "--out", o, "--quiet"];
    // (case, extra args, exit status, words in the first line). --lr -0.1, --batch-size 0 and an
    // unknown optimizer are in tests/train.rs.
    let table: Vec<(&str, Vec<&str>, i32, Vec<&str>)> = vec![
        (
            "unknown arch",
            vec!["--arch", "lenet"],
            2,
            vec!["'lenet'", "--arch"],
        ),
        ("no arch", vec![], 1, vec!["--arch is required"]),
        (
            "zero epochs",
            vec!["--arch", "vit", "--epochs", "0"],
            1,
            vec!["--epochs"],
        ),
        (
            "NaN lr",
            vec!["--arch", "vit", "--lr", "NaN"],
            1,
            vec!["--lr"],
        ),
        (
            "zero lr",
            vec!["--arch", "vit", "--lr", "0"],
            1,
            vec!["--lr", "positive"],
        ),
        (
            "negative weight decay",
            vec!["--arch", "vit", "--weight-decay", "-1"],
            1,
            vec!["--weight-decay"],
        ),
        (
            "label smoothing 1",
            vec!["--arch", "vit", "--label-smoothing", "1"],
            1,
            vec!["--label-smoothing"],
        ),
        (
            "mask ratio 1.5",
            vec!["--arch", "mae-pretrain", "--mask-ratio", "1.5"],
            1,
            vec!["--mask-ratio"],
        ),
        (
            "warmup past the end",
            vec!["--arch", "vit", "--epochs", "3"],
            1,
            vec!["--warmup", "below --epochs (3)"],
        ),
        (
            "train limit 0",
            vec!["--arch", "vit", "--train-limit", "0"],
            1,
            vec!["--train-limit"],
        ),
        (
            "negative clip",
            vec!["--arch", "vit", "--clip-grad", "-1"],
            1,
            vec!["--clip-grad"],
        ),
        (
            "negative batch",
            vec!["--arch", "vit", "--batch-size", "-4"],
            2,
            vec!["--batch-size"],
        ),
        (
            "init without mae-classifier",
            vec!["--arch", "vit", "--init", "x.safetensors"],
            1,
            vec!["--init"],
        ),
    ];
    for (case, extra, code, words) in table {
        let mut args = base.to_vec();
        args.extend(extra);
        // clap's own messages add usage lines after the first; ours are one line.
        assert_fails(case, &fastshap(&args), code, &words, code != 2);
        eprintln!("bad flag: {case}: ok");
    }
    let ck = vit_run().join("best.safetensors");
    let o = fastshap(&["eval", "--model", ck.to_str().unwrap(), "--batch-size", "0"]);
    assert_fails("eval batch 0", &o, 1, &["--batch-size"], true);
    let o = fastshap(&["--backend", "opengl", "devices"]);
    assert_fails("unknown backend", &o, 2, &["'opengl'"], false);
    assert_eq!(snapshot(&out), before);
}

#[test]
fn unwritable_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    // A path under a regular file can never be created, even by root.
    let file = tmp.path().join("plain-file");
    write(&file, b"x");
    let out = file.join("run");
    let o = fastshap(&train_args("vit", out.to_str().unwrap(), "1", "32"));
    assert_fails(
        "out under a file",
        &o,
        1,
        &["cannot create", "plain-file/run", "Not a directory"],
        true,
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    // A read-only directory blocks writes unless we run as root (CAP_DAC_OVERRIDE), which the
    // probe detects; then this variant is skipped and the case above stands for it.
    use std::os::unix::fs::PermissionsExt;
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::File::create(ro.join("probe")).is_ok() {
        eprintln!("running as root: chmod does not block writes; read-only case skipped");
    } else {
        let out = ro.join("run");
        let o = fastshap(&train_args("vit", out.to_str().unwrap(), "1", "32"));
        assert_fails(
            "read-only out",
            &o,
            1,
            &["cannot create", "Permission denied"],
            true,
        );
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

// ---------------------------------------------------------------- full disk

/// Runs `fastshap args` with files limited to `kib` KiB (RLIMIT_FSIZE via `ulimit -f`) and
/// SIGXFSZ ignored, so a write past the limit fails with EFBIG like a full disk does.
fn with_file_limit(kib: u64, args: &[&str]) -> Out {
    let mut script = format!("trap '' XFSZ; ulimit -f {}; exec \"$0\"", kib * 2);
    for i in 1..=args.len() {
        script += &format!(" \"${i}\"");
    }
    // dash counts `ulimit -f` in 512-byte blocks, hence kib × 2.
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).arg(BIN).args(args);
    c.env("FASTSHAP_CACHE", cache_dir());
    finish(c.output().unwrap())
}

fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.ends_with(".tmp"), "temp file left behind: {n}");
    }
}

#[test]
fn full_disk_keeps_old_files() {
    let tmp = tempfile::tempdir().unwrap();
    // The atomic writer alone: a 1 MiB file where only 64 KiB fit.
    let f = tmp.path().join("report.json");
    write(&f, b"old contents");
    let o = with_file_limit(64, &["__write-atomic", f.to_str().unwrap(), "1048576", "7"]);
    assert_fails(
        "write_atomic EFBIG",
        &o,
        1,
        &["report.json", "File too large"],
        true,
    );
    assert_eq!(std::fs::read(&f).unwrap(), b"old contents");
    no_temp_files(tmp.path());

    // A training run that resumes into a full disk: its checkpoints (≈ 240 KiB) do not fit.
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    let mut a = train_args("vit", r, "2", "64");
    a.extend(["--stop-after-epoch", "1"]);
    let o = fastshap(&a);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let keep: Vec<_> = [
        "last.safetensors",
        "best.safetensors",
        "optim-1.safetensors",
    ]
    .iter()
    .map(|n| (n.to_string(), std::fs::read(run.join(n)).unwrap()))
    .collect();
    let o = with_file_limit(100, &["train", "--resume", r, "--quiet"]);
    assert_fails(
        "resume EFBIG",
        &o,
        1,
        &["cannot write", "run/", "File too large"],
        true,
    );
    for (n, bytes) in &keep {
        assert_eq!(&std::fs::read(run.join(n)).unwrap(), bytes, "{n} changed");
    }
    no_temp_files(&run);
    // With space again the run finishes from epoch 1.
    let o = fastshap(&["train", "--resume", r]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("resuming after epoch 1"), "{}", o.stdout);
    assert_eq!(
        meta_of(&run.join("last.safetensors"))["fastshap.epoch"],
        "2"
    );
}

// ---------------------------------------------------------------- kill -9

/// SplitMix64: random kill moments without a dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e3779b97f4a7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

#[test]
fn killed_writer_leaves_old_file_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("big.bin");
    const OLD: usize = 1 << 20;
    const NEW: usize = 48 << 20;
    let write_new = || {
        cmd(&[
            "__write-atomic",
            target.to_str().unwrap(),
            &NEW.to_string(),
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    };
    // How long one uninterrupted write takes, so kills land before, during and after it.
    let t0 = Instant::now();
    assert!(write_new().wait().unwrap().success());
    let full = t0.elapsed();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let (mut old_seen, mut new_seen) = (0, 0);
    for _ in 0..40 {
        std::fs::write(&target, vec![1u8; OLD]).unwrap();
        let mut child = write_new();
        let wait = full.mul_f64((splitmix(&mut seed) % 1000) as f64 / 800.0);
        std::thread::sleep(wait);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let got = std::fs::read(&target).unwrap();
        match got.len() {
            OLD if got.iter().all(|&b| b == 1) => old_seen += 1,
            NEW if got.iter().all(|&b| b == 2) => new_seen += 1,
            n => panic!("half-written target: {n} bytes after a kill at {wait:?}"),
        }
    }
    eprintln!(
        "40 kills (one write takes {full:?}): old file intact {old_seen}×, new file complete \
         {new_seen}×, never a partial file"
    );
    assert!(old_seen > 0, "no kill landed during a write");
}

#[test]
fn kill_9_during_training_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    let mut child = cmd(&train_args("vit", r, "3", "64"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let last = run.join("last.safetensors");
    let t0 = Instant::now();
    // The checkpoint appears by rename, so once it exists it is complete.
    while !last.exists() {
        assert!(t0.elapsed() < Duration::from_secs(300), "no checkpoint");
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved: usize = meta_of(&last)["fastshap.epoch"].parse().unwrap();
    assert!((1..3).contains(&saved), "killed after epoch {saved}");
    let o = fastshap(&["train", "--resume", r]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains(&format!("resuming after epoch {saved}")),
        "{}",
        o.stdout
    );
    assert_eq!(meta_of(&last)["fastshap.epoch"], "3");
    // Every epoch once, in order, with the step count of 2 batches per epoch.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let epochs: Vec<u64> = rows.iter().map(|m| m["epoch"].as_u64().unwrap()).collect();
    let steps: Vec<u64> = rows.iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(epochs, [1, 2, 3]);
    assert_eq!(steps, [2, 4, 6]);
}

// ---------------------------------------------------------------- numerical faults

#[test]
fn nan_loss_names_the_step_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    let mut a = train_args("vit", r, "3", "64");
    a.extend(["--fault-nan-at-step", "3"]);
    let o = fastshap(&a);
    assert_fails(
        "NaN at step 3",
        &o,
        1,
        &[
            "NaN",
            "epoch 2 step 2",
            "global step 3",
            "last.safetensors",
            "(epoch 1)",
        ],
        true,
    );
    let last = run.join("last.safetensors");
    assert_eq!(meta_of(&last)["fastshap.epoch"], "1");
    let o = fastshap(&["eval", "--model", last.to_str().unwrap()]);
    assert_eq!(o.code, 0, "the kept checkpoint loads: {}", o.stderr);
}

// ---------------------------------------------------------------- device limits

#[test]
fn batch_over_the_binding_limit_suggests_one_that_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    // The full-size ViT's activations at batch 2000 exceed a 128 MiB storage binding; the check
    // runs before anything is submitted, and the dry-run bisection costs only host time.
    let t0 = Instant::now();
    let o = fastshap(&[
        "train",
        "--arch",
        "vit",
        "--preset",
        "full",
        "--schedule",
        "constant",
        "--epochs",
        "1",
        "--batch-size",
        "2000",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let limit = fastshap(&["devices"]).stdout;
    if !limit.contains("max storage binding 128 MiB") {
        eprintln!("adapter has a larger binding limit; skipped:\n{limit}");
        return;
    }
    assert_fails(
        "batch 2000",
        &o,
        1,
        &[
            "--batch-size 2000 is too large",
            "storage-binding limit of 128 MiB",
        ],
        true,
    );
    let n: usize = o
        .stderr
        .split("the largest batch that fits is ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no suggestion: {}", o.stderr));
    assert!(n > 0 && n < 2000, "{n}");
    assert!(o.stderr.contains(&format!("--batch-size {n} or smaller")));
    eprintln!("suggested batch {n} in {:?}", t0.elapsed());
    assert!(!out.join("last.safetensors").exists());
}

#[test]
fn gpu_errors_print_one_line() {
    let src = || -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other(
            "Not enough memory left.\n  In a set_bind_group\n",
        ))
    };
    let cases = [
        (
            wgpu::Error::OutOfMemory { source: src() },
            "out of GPU memory",
        ),
        (
            wgpu::Error::Internal {
                source: src(),
                description: "Device lost\n  lavapipe".into(),
            },
            "device lost",
        ),
        (
            wgpu::Error::Validation {
                source: src(),
                description: "Buffer binding 1\n  is too large".into(),
            },
            "bug in fastshap",
        ),
    ];
    for (e, word) in cases {
        let line = fastshap::gpu::describe_gpu_error(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("error: ") && line.contains(word), "{line}");
    }
}

// ---------------------------------------------------------------- hostile checkpoint metadata

/// A safetensors file written by hand, so a header can lie: `tensors` are (name, dtype, shape,
/// data bytes); offsets follow the bytes, whatever the shape says.
fn handmade(path: &Path, meta: &[(&str, String)], tensors: &[(String, &str, Vec<usize>, usize)]) {
    let mut header = serde_json::Map::new();
    let meta: serde_json::Map<String, serde_json::Value> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    header.insert("__metadata__".into(), meta.into());
    let mut at = 0;
    for (name, dtype, shape, bytes) in tensors {
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [at, at + bytes]}),
        );
        at += bytes;
    }
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out.extend(vec![0u8; at]);
    write(path, &out);
}

/// Every tensor of `plan` as zeros (F32): a file that matches its network exactly.
fn from_plan(plan: &[(String, Vec<usize>)]) -> Vec<(String, &'static str, Vec<usize>, usize)> {
    plan.iter()
        .map(|(n, s)| (n.clone(), "F32", s.clone(), 4 * s.iter().product::<usize>()))
        .collect()
}

fn unet(base: usize, classes: usize) -> fastshap::models::UNetConfig {
    fastshap::models::UNetConfig {
        base,
        convs: 1,
        classes,
        ..fastshap::models::UNetConfig::fastshap_cifar()
    }
}

/// Explainer metadata for `cfg`, recording `surrogate` as its surrogate.
fn explainer_meta(
    cfg: &fastshap::models::UNetConfig,
    surrogate: &str,
) -> Vec<(&'static str, String)> {
    let mut e = fastshap::fastshap::ExplainerConfig::recipe(
        fastshap::train::config::Preset::Tiny,
        Path::new(surrogate),
        "embedded",
    );
    e.unet = cfg.clone();
    vec![
        ("fastshap.arch", "unet".into()),
        ("fastshap.config", serde_json::to_string(cfg).unwrap()),
        ("fastshap.role", "explainer".into()),
        ("fastshap.superpixel", cfg.superpixel.to_string()),
        (
            "fastshap.classes",
            serde_json::to_string(&CIFAR10_CLASSES).unwrap(),
        ),
        ("fastshap.explainer", serde_json::to_string(&e).unwrap()),
        ("fastshap.surrogate_path", surrogate.into()),
    ]
}

/// Issue 27: a checkpoint's metadata is checked against its tensors, sane bounds and the
/// device's limits before anything is allocated, for every role; each case is one error naming
/// the file and the field or tensor, exit 1 (not an allocation abort), in about a second.
#[test]
fn hostile_checkpoint_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let p = |n: &str| t.join(n).to_str().unwrap().to_string();
    let sixteen = vec![("conv1.weight".to_string(), "F32", vec![2, 2], 16)];
    let huge = r#"{"in_channels":3,"classes":10,"widths":[100000,100000,100000,100000],"blocks":[100,100,100,100]}"#;
    handmade(
        &t.join("huge.safetensors"),
        &[
            ("fastshap.arch", "resnet".into()),
            ("fastshap.config", huge.into()),
        ],
        &sixteen,
    );
    let tiny = r#"{"in_channels":3,"classes":10,"widths":[4,4,4,4],"blocks":[1,1,1,1]}"#;
    let tiny_cfg: fastshap::models::ResNetConfig = serde_json::from_str(tiny).unwrap();
    let mut lying = from_plan(&tiny_cfg.plan());
    lying[0].3 = 16; // conv1.weight [4, 3, 3, 3] claims 432 bytes, holds 16
    let resnet_meta = [
        ("fastshap.arch", "resnet".to_string()),
        ("fastshap.config", tiny.into()),
    ];
    handmade(&t.join("short-tensor.safetensors"), &resnet_meta, &lying);
    let mut f64s = from_plan(&tiny_cfg.plan());
    f64s[1] = (f64s[1].0.clone(), "F64", f64s[1].2.clone(), 2 * f64s[1].3);
    handmade(&t.join("f64.safetensors"), &resnet_meta, &f64s);
    let vit = r#"{"in_channels":3,"classes":10,"image":32,"patch":4,"dim":8,"mlp":8,"heads":0,"depth":1}"#;
    handmade(
        &t.join("zero-heads.safetensors"),
        &[
            ("fastshap.arch", "vit".into()),
            ("fastshap.config", vit.into()),
        ],
        &sixteen,
    );
    // A plain state dict whose first block claims 100,000 channels in 16 bytes (`--arch`
    // inference reads the widths off these shapes).
    let mut dict = from_plan(&tiny_cfg.plan());
    let first = dict
        .iter()
        .position(|t| t.0 == "layer1.0.conv1.weight")
        .unwrap();
    dict[first] = (dict[first].0.clone(), "F32", vec![100000, 4, 3, 3], 16);
    handmade(&t.join("dict.safetensors"), &[], &dict);
    // A ViT whose head (100,000 classes × 16,384) is 6.1 GiB: over any adapter's largest
    // storage binding (4 GiB at most), though within the parameter bound.
    let wide_vit = r#"{"in_channels":1,"classes":100000,"image":32,"patch":1,"dim":16384,"mlp":8,"heads":1,"depth":0}"#;
    handmade(
        &t.join("wide-vit.safetensors"),
        &[
            ("fastshap.arch", "vit".into()),
            ("fastshap.config", wide_vit.into()),
        ],
        &sixteen,
    );
    // Explainers: a UNet over the width bound, and one recording /dev/zero as its surrogate.
    let wide = unet(5000, 10);
    handmade(
        &t.join("wide-explainer.safetensors"),
        &explainer_meta(&wide, "/dev/zero"),
        &from_plan(&wide.plan()[..2]),
    );
    let small = unet(2, 10);
    handmade(
        &t.join("explainer.safetensors"),
        &explainer_meta(&small, "/dev/zero"),
        &from_plan(&small.plan()),
    );
    let sur_cfg = r#"{"in_channels":4,"classes":10,"widths":[100000,4,4,4],"blocks":[1,1,1,1]}"#;
    handmade(
        &t.join("surrogate.safetensors"),
        &[
            ("fastshap.arch", "resnet".into()),
            ("fastshap.config", sur_cfg.into()),
            ("fastshap.role", "surrogate".into()),
            ("fastshap.superpixel", "3".into()),
            (
                "fastshap.classes",
                serde_json::to_string(&CIFAR10_CLASSES).unwrap(),
            ),
        ],
        &sixteen,
    );
    let mae = r#"{"in_channels":3,"image":32,"patch":2,"dim":100000,"heads":1,"mlp":8,"encoder_depth":1,"decoder_depth":1,"mask_ratio":0.75}"#;
    handmade(
        &t.join("mae.safetensors"),
        &[
            ("fastshap.arch", "mae".into()),
            ("fastshap.config", mae.into()),
        ],
        &sixteen,
    );
    write(&t.join("img.png"), &good_png());
    let before = snapshot(t);
    let out = p("out");
    let img = p("img.png");
    let explain = |e: &str, extra: &[&str]| {
        let mut a = vec!["explain", "--explainer", e, "--out", &out, "--quiet"];
        a.extend_from_slice(extra);
        a.push(&img);
        fastshap(&a)
    };
    let eval = |f: &str, extra: &[&str]| {
        let mut a = vec!["eval", "--model", f];
        a.extend_from_slice(extra);
        fastshap(&a)
    };
    let (huge_p, short_p, f64_p, heads_p, dict_p) = (
        p("huge.safetensors"),
        p("short-tensor.safetensors"),
        p("f64.safetensors"),
        p("zero-heads.safetensors"),
        p("dict.safetensors"),
    );
    let (ft, init) = (p("ft"), p("mae.safetensors"));
    let mut init_args = train_args("mae-classifier", &ft, "1", "8");
    init_args.extend(["--init", &init]);
    let started = Instant::now();
    let cases: Vec<(&str, Out, Vec<&str>)> = vec![
        (
            "widths 100000, 100 blocks, one 16-byte tensor",
            eval(&huge_p, &[]),
            vec!["huge.safetensors", "widths[0] = 100000", "sane range"],
        ),
        (
            "a tensor shorter than its shape",
            eval(&short_p, &[]),
            vec![
                "short-tensor.safetensors",
                "conv1.weight",
                "needs 432 bytes",
            ],
        ),
        (
            "an F64 tensor",
            eval(&f64_p, &[]),
            vec!["f64.safetensors", "dtype F64"],
        ),
        (
            "zero attention heads",
            eval(&heads_p, &[]),
            vec!["zero-heads.safetensors", "heads = 0"],
        ),
        (
            "--arch inference from lying shapes",
            eval(&dict_p, &["--arch", "resnet18"]),
            vec!["dict.safetensors", "widths[0] = 100000"],
        ),
        (
            "a tensor over the device's largest buffer",
            eval(&p("wide-vit.safetensors"), &[]),
            vec!["wide-vit.safetensors", "head.weight", "largest buffer"],
        ),
        (
            "explainer with base 5000",
            explain(&p("wide-explainer.safetensors"), &[]),
            vec!["wide-explainer.safetensors", "base = 5000"],
        ),
        (
            "surrogate recorded as /dev/zero",
            explain(&p("explainer.safetensors"), &[]),
            vec!["/dev/zero", "not a regular file"],
        ),
        (
            "surrogate with superpixel 3",
            explain(
                &p("explainer.safetensors"),
                &["--surrogate", &p("surrogate.safetensors")],
            ),
            vec!["surrogate.safetensors", "fastshap.superpixel"],
        ),
        (
            "MAE --init with dim 100000",
            fastshap(&init_args),
            vec!["mae.safetensors", "dim = 100000"],
        ),
    ];
    for (case, o, words) in &cases {
        assert_fails(case, o, 1, words, false);
        assert!(o.stderr.lines().count() <= 25, "{case}: {}", o.stderr);
        eprintln!("hostile checkpoint: {case}: ok");
    }
    eprintln!(
        "{} cases in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(!t.join("out").join("summary.csv").exists());
    std::fs::remove_dir_all(t.join("out")).ok();
    std::fs::remove_dir_all(t.join("ft")).ok();
    assert_eq!(snapshot(t), before, "checkpoints changed");
}

// ---------------------------------------------------------------- explain: folders and shards

/// `plan`'s tensors with small seeded values (running variances 1), as F32.
fn seeded_tensors(plan: &[(String, Vec<usize>)], seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::new();
    for (name, shape) in plan {
        for _ in 0..shape.iter().product::<usize>() {
            let v = if name.ends_with("running_var") {
                1.0
            } else {
                (splitmix(&mut state) >> 40) as f32 / (1u64 << 24) as f32 * 0.6 - 0.3
            };
            out.extend(v.to_le_bytes());
        }
    }
    out
}

/// A safetensors file of `plan` with seeded values and `meta`.
fn seeded_checkpoint(path: &Path, meta: &[(&str, String)], plan: &[(String, Vec<usize>)]) {
    let data = seeded_tensors(plan, path.to_string_lossy().len() as u64);
    let mut at = 0;
    let views: Vec<_> = plan
        .iter()
        .map(|(n, s)| {
            let bytes = 4 * s.iter().product::<usize>();
            let v = safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                s.clone(),
                &data[at..at + bytes],
            )
            .unwrap();
            at += bytes;
            (n.clone(), v)
        })
        .collect();
    let meta = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    write(path, &safetensors::serialize(views, Some(meta)).unwrap());
}

/// A tiny surrogate and explainer (seeded weights, superpixel 8) in `dir`: the explainer's path.
fn tiny_explainer(dir: &Path) -> String {
    let sur = fastshap::models::ResNetConfig {
        in_channels: 4,
        classes: 10,
        widths: [2, 2, 2, 2],
        blocks: [1, 1, 1, 1],
    };
    let sur_path = dir.join("sur.safetensors");
    seeded_checkpoint(
        &sur_path,
        &[
            ("fastshap.arch", "resnet".into()),
            ("fastshap.config", serde_json::to_string(&sur).unwrap()),
            ("fastshap.role", "surrogate".into()),
            ("fastshap.superpixel", "8".into()),
            (
                "fastshap.classes",
                serde_json::to_string(&CIFAR10_CLASSES).unwrap(),
            ),
        ],
        &sur.plan(),
    );
    let mut unet = unet(2, 10);
    unet.superpixel = 8;
    let exp = dir.join("exp.safetensors");
    seeded_checkpoint(
        &exp,
        &explainer_meta(&unet, sur_path.to_str().unwrap()),
        &unet.plan(),
    );
    exp.to_str().unwrap().to_string()
}

/// Every file of `dir` whose name passes `keep`, with its bytes.
fn files_of(dir: &Path, keep: impl Fn(&str) -> bool) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| keep(&p.file_name().unwrap().to_string_lossy()))
        .map(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            (n, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Issues 27 and 23: `explain --shard K/N` explains a contiguous run of the sorted list; the
/// shards together write exactly the per-image files of one whole run, and their summaries'
/// rows in K order are the whole run's. Bad shard specs are one error, exit 1.
#[test]
fn explain_shards_add_up_to_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let exp = tiny_explainer(t);
    for i in 0..7u8 {
        write(
            &t.join("imgs").join(format!("{i}.png")),
            &png::<Rgb<u8>, u8>(32 + 9 * i as u32, 32, 40 * i),
        );
    }
    let imgs = t.join("imgs");
    let run = |out: &str, extra: &[&str]| {
        let out = t.join(out);
        let mut a = vec![
            "explain",
            "--explainer",
            &exp,
            "--quiet",
            "--batch-size",
            "2",
        ];
        let (o, i) = (out.to_str().unwrap(), imgs.to_str().unwrap());
        a.extend(["--out", o, i]);
        a.extend_from_slice(extra);
        let r = fastshap(&a);
        assert_eq!(r.code, 0, "{extra:?}: {}", r.stderr);
        r
    };
    run("whole", &[]);
    for k in 0..3 {
        run("shards", &["--shard", &format!("{k}/3")]);
    }
    let per_image = |n: &str| n.contains('-') && !n.contains("shard") && !n.starts_with("grid");
    let whole = files_of(&t.join("whole"), per_image);
    let shards = files_of(&t.join("shards"), per_image);
    // .phi.safetensors, .json, .png, .thumb.png each, .overlay.png for the 6 wider than 32.
    assert_eq!(whole.len(), 7 * 4 + 6, "{:?}", whole.keys());
    assert_eq!(
        whole.keys().collect::<Vec<_>>(),
        shards.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &whole {
        assert!(
            shards[name] == *bytes,
            "{name} differs between the shards and one run"
        );
    }
    let rows = |f: &Path| -> Vec<String> {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .skip(1)
            .map(String::from)
            .collect()
    };
    let joined: Vec<String> = (0..3)
        .flat_map(|k| rows(&t.join("shards").join(format!("summary.shard-{k}-of-3.csv"))))
        .collect();
    assert_eq!(joined, rows(&t.join("whole").join("summary.csv")));
    for bad in ["3/3", "0/0", "1", "a/2", "5/2"] {
        let o = t.join("bad");
        let o = fastshap(&[
            "explain",
            "--explainer",
            &exp,
            "--out",
            o.to_str().unwrap(),
            "--shard",
            bad,
            imgs.to_str().unwrap(),
        ]);
        assert_fails(bad, &o, 1, &["--shard", "K/N"], true);
    }
    // More shards than images: an empty shard says so and succeeds.
    let o = fastshap(&[
        "explain",
        "--explainer",
        &exp,
        "--out",
        t.join("many").to_str().unwrap(),
        "--shard",
        "0/10",
        imgs.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("no images"), "{}", o.stdout);
}

/// Issue 27: each decode is limited in file bytes and pixels, a non-regular file is refused,
/// and one bad file never stops the rest: the good images are explained, each bad one listed
/// with its reason, exit 0.
#[test]
fn explain_skips_hostile_images_and_explains_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let exp = tiny_explainer(t);
    let imgs = t.join("imgs");
    write(&imgs.join("a-good.png"), &good_png());
    write(&imgs.join("b-good.jpg"), &{
        let mut out = Cursor::new(Vec::new());
        ImageBuffer::<Rgb<u8>, _>::from_pixel(48, 40, Rgb([10, 200, 30]))
            .write_to(&mut out, ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    });
    // A 30000×30000 PNG header in a few bytes: refused from its header, never decoded.
    let mut bomb = png::<Rgb<u8>, u8>(1, 1, 0);
    bomb[16..24].copy_from_slice(&[0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30]);
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    write(&imgs.join("c-bomb.png"), &bomb);
    let big = std::fs::File::create(imgs.join("d-big.png")).unwrap();
    big.set_len(65 << 20).unwrap(); // sparse: no disk used
    write(&imgs.join("e-truncated.png"), &good_png()[..60]);
    let fifo = t.join("f-fifo.png");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = t.join("out");
    let started = Instant::now();
    let o = fastshap(&[
        "explain",
        "--explainer",
        &exp,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        imgs.to_str().unwrap(),
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("explained 2 images"), "{}", o.stdout);
    for words in [
        &["c-bomb.png", "30000×30000", "megapixels are not decoded"][..],
        &["d-big.png", "over 64 MiB are not decoded"],
        &["e-truncated.png"],
        &["f-fifo.png", "not a regular file"],
    ] {
        let line = o.stderr.lines().find(|l| l.contains(words[0]));
        assert!(
            line.is_some_and(|l| words.iter().all(|w| l.contains(w))),
            "{words:?} in {}",
            o.stderr
        );
    }
    assert!(o.stderr.contains("skipped 4 of 6"), "{}", o.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(html.matches("class=\"card\"").count(), 2);
    assert!(html.contains("src=\"0-a-good.thumb.png\""), "{html}");
    assert!(out.join("0-a-good.thumb.png").exists());
    assert!(html.contains("c-bomb.png") && html.contains("4 files could not be read"));
}
