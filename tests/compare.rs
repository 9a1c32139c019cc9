//! `compare` and `tables` on lavapipe with tiny random models (no training, so the test is
//! quick): the four agreement subsets partition the test set and match predictions computed
//! directly; Table 1's row is the surrogate run's best epoch; the commands write Markdown, CSV
//! and PNGs that parse; bad inputs fail with one clear error line.

mod common;
use common::fastshap_cli;

use fastshap::data::{CIFAR10_CLASSES, embedded};
use fastshap::fastshap::compare::{
    Explained, SUBSET_SLUGS, TestSet, partition, pick, predict, side_by_side, table3,
};
use fastshap::fastshap::explainer::tiny_config;
use fastshap::fastshap::surrogate::{META_ORIGINAL, SurrogateMetrics, load_original};
use fastshap::fastshap::tables::{PAPER_TABLE1, Table, best_surrogate_epoch, paper_row};
use fastshap::fastshap::{
    Explainer, META_CLASSES, META_ROLE, META_SUPERPIXEL, Surrogate, SurrogateModel,
};
use fastshap::models::{ResNet, ResNetConfig};
use fastshap::nn::init_rng;
use fastshap::train::run_dir::resolve_checkpoint;
use fastshap::train::{Model, state};
use fastshap::viz::HeatmapOptions;
use fastshap::{Tensor, checkpoint};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn tiny_resnet(in_channels: usize, classes: usize, seed: u64) -> Model {
    let cfg = ResNetConfig {
        widths: [8, 16, 16, 16],
        blocks: [1, 1, 1, 1],
        ..ResNetConfig::resnet18(in_channels, classes)
    };
    Model::ResNet(ResNet::new(cfg, &mut init_rng(seed)).unwrap())
}

/// A random original whose last layer is scaled up so its predictions vary between images
/// (a random network's are near uniform and nearly constant): subsets of every kind appear.
fn original(path: &Path, classes: usize, seed: u64) {
    let model = tiny_resnet(3, classes, seed);
    common::save_confident(&model, "linear.", path);
}

fn classes() -> Vec<String> {
    CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
}

/// An untrained surrogate checkpoint of `orig` with superpixel 8, as `fastshap surrogate`
/// would write it.
fn surrogate(path: &Path, orig: &Path, seed: u64) {
    let model = tiny_resnet(4, 10, seed);
    let mut meta = model.metadata();
    meta.insert(META_ROLE.into(), "surrogate".into());
    meta.insert(META_SUPERPIXEL.into(), "8".into());
    meta.insert(
        META_CLASSES.into(),
        serde_json::to_string(&classes()).unwrap(),
    );
    meta.insert(META_ORIGINAL.into(), orig.to_string_lossy().into_owned());
    checkpoint::save(&model, meta, path).unwrap();
}

/// An untrained tiny explainer of the surrogate at `sur`, saved in run directory `dir`.
fn explainer(dir: &Path, sur: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let s = Surrogate::load(sur).unwrap();
    let mut c = tiny_config(&s);
    c.surrogate = sur.to_path_buf();
    let e = Explainer::new(c, classes()).unwrap();
    checkpoint::save(
        e.module(),
        e.metadata(sur, 1).unwrap(),
        &dir.join(state::BEST),
    )
    .unwrap();
}

/// Originals A (seed 1), B (seed 2), a 5-class original; surrogates A, A' (another seed) and
/// B; explainers of each.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let p = |s: &str| root.join(s);
        std::fs::create_dir_all(p("a")).unwrap();
        original(&p("a/best.safetensors"), 10, 1);
        original(&p("b.safetensors"), 10, 2);
        original(&p("five.safetensors"), 5, 3);
        surrogate(&p("sur-a.safetensors"), &p("a/best.safetensors"), 11);
        surrogate(&p("sur-a2.safetensors"), &p("a/best.safetensors"), 12);
        surrogate(&p("sur-b.safetensors"), &p("b.safetensors"), 13);
        explainer(&p("exp-a"), &p("sur-a.safetensors"));
        explainer(&p("exp-a2"), &p("sur-a2.safetensors"));
        explainer(&p("exp-b"), &p("sur-b.safetensors"));
        Fixture { _dir: dir, root }
    }
    fn s(&self, rel: &str) -> String {
        self.root.join(rel).to_string_lossy().into_owned()
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, c| if v[c] > v[b] { c } else { b })
}

#[test]
fn subsets_partition_the_test_set_and_grids_render() {
    let t0 = Instant::now();
    let f = Fixture::new();
    let (_, full) = embedded().unwrap();
    let test = TestSet::new(&full, Some(100));
    assert_eq!(test.data.len(), 100);
    assert_eq!(test.data.label(7), full.label(test.index[7]));
    let a = load_original(&resolve_checkpoint(&f.root.join("a"), "a").unwrap()).unwrap();
    let b = load_original(&f.root.join("b.safetensors")).unwrap();
    let (pa, pb) = (
        predict(&a, &test.data, 32).unwrap(),
        predict(&b, &test.data, 32).unwrap(),
    );
    // Predictions computed directly, one batch of all 100 images.
    let x = Tensor::from_slice(
        &test.data.batch(&(0..100).collect::<Vec<_>>()).0,
        &[100, 3, 32, 32],
    )
    .unwrap();
    let direct = |m: &Model| -> Vec<usize> {
        let l = m.logits(&x, false).unwrap().to_vec().unwrap();
        l.chunks(10).map(argmax).collect()
    };
    let (da, db) = (direct(&a), direct(&b));
    assert_eq!(pa.pred, da);
    assert_eq!(pb.pred, db);
    let subsets = partition(&test.data.labels, &pa.pred, &pb.pred).unwrap();
    assert_eq!(subsets.iter().map(Vec::len).sum::<usize>(), 100);
    for i in 0..100 {
        let l = test.data.label(i) as usize;
        let want = 2 * (da[i] == l) as usize + (db[i] == l) as usize;
        assert!(subsets[want].contains(&i), "image {i} not in subset {want}");
    }
    eprintln!(
        "subset sizes {:?}",
        subsets.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let t = table3(&subsets);
    assert_eq!(t.rows.len(), 4);
    assert_eq!(t.rows[3][3], "8732");
    assert!(t.markdown().starts_with("| subset | images |"));
    assert_eq!(t.csv().lines().count(), 5);

    let picked = pick(&(0..10).collect::<Vec<_>>(), 4);
    assert_eq!(picked, vec![0, 2, 5, 7]);
    assert_eq!(pick(&[3, 4], 4), vec![3, 4]);

    let load = |e: &str| {
        let (ex, sur) = Explainer::load(&f.root.join(e).join(state::BEST)).unwrap();
        (ex, Surrogate::load(&sur).unwrap())
    };
    let ((ea, sa), (eb, sb)) = (load("exp-a"), load("exp-b"));
    assert_eq!(sa.classes(), 10);
    let left = Explained {
        name: "A".into(),
        predictions: &pa,
        explainer: &ea,
        surrogate: &sa,
    };
    let right = Explained {
        name: "B".into(),
        predictions: &pb,
        explainer: &eb,
        surrogate: &sb,
    };
    let img = side_by_side(
        "t",
        &left,
        &right,
        &test,
        &[0, 50],
        &HeatmapOptions::new(&classes()),
    )
    .unwrap();
    // Two grids of 11 panels (≥ 128 px each at scale 4) side by side, two rows each.
    assert!(img.width() > 2 * 11 * 128 && img.height() > 2 * 128);
    eprintln!("library test: {:.1} s", t0.elapsed().as_secs_f64());
}

fn metrics(epoch: usize, masked: f64) -> SurrogateMetrics {
    SurrogateMetrics {
        epoch,
        step: epoch as u64 * 10,
        train_loss: 1.0 / epoch as f64,
        val_masked_loss: masked,
        val_ce: 2.0 + epoch as f64,
        val_acc: 0.1 * epoch as f64,
        val_kl: 0.5 * epoch as f64,
        lr: 1e-3,
        images_per_s: 1.0,
        seconds: 1.0,
    }
}

fn write_metrics(dir: &Path, lines: &[SurrogateMetrics]) {
    std::fs::create_dir_all(dir).unwrap();
    let text: String = lines
        .iter()
        .map(|m| serde_json::to_string(m).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join(state::METRICS), text).unwrap();
}

#[test]
fn table1_reads_the_best_epoch_and_matches_paper_rows() {
    let dir = tempfile::tempdir().unwrap();
    // No checkpoint: the lowest masked validation loss, first of ties.
    let run = dir.path().join("r1");
    write_metrics(
        &run,
        &[
            metrics(1, 3.0),
            metrics(2, 1.0),
            metrics(3, 1.0),
            metrics(4, 2.0),
        ],
    );
    assert_eq!(best_surrogate_epoch(&run).unwrap().epoch, 2);
    // A best checkpoint records its epoch, which wins.
    let orig = dir.path().join("o.safetensors");
    original(&orig, 10, 1);
    surrogate(&run.join(state::BEST), &orig, 2);
    let mut meta = checkpoint::read_metadata(&run.join(state::BEST)).unwrap();
    meta.insert("fastshap.epoch".into(), "4".into());
    let m = tiny_resnet(4, 10, 2);
    checkpoint::save(&m, meta, &run.join(state::BEST)).unwrap();
    assert_eq!(best_surrogate_epoch(&run).unwrap().epoch, 4);
    assert_eq!(
        best_surrogate_epoch(&run.join(state::BEST)).unwrap().epoch,
        4
    );

    let names = || PAPER_TABLE1.iter().map(|r| r.0);
    assert_eq!(paper_row("resnet by vit", names()), Some(1));
    assert_eq!(paper_row("ResNet18 by ResNet18", names()), Some(0));
    assert_eq!(paper_row("MAE by ViT(192/768)", names()), Some(5));
    assert_eq!(paper_row("MAE by ViT", names()), None, "ambiguous");
    assert_eq!(paper_row("tiny", names()), None);

    let mut t = Table::new(&["a", "b"]);
    t.rows.push(vec!["x,y".into(), "say \"hi\"".into()]);
    assert_eq!(t.csv(), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    t.rows[0][0] = "p|q".into();
    assert_eq!(
        t.markdown(),
        "| a | b |\n|---|---|\n| p\\|q | say \"hi\" |\n"
    );
}

/// CSV rows (RFC 4180 quoting; no line breaks inside the fields written here).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let split = |l: &str| {
        let (mut cells, mut cur, mut quoted, mut chars) =
            (Vec::new(), String::new(), false, l.chars().peekable());
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => cells.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        cells.push(cur);
        cells
    };
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(split)
        .collect()
}

#[test]
fn cli_compare_and_tables() {
    let f = Fixture::new();
    let out = f.s("out");
    let t0 = Instant::now();
    let (code, stdout, err) = fastshap_cli(&[
        "compare",
        "--a",
        &f.s("a"),
        "--b",
        &f.s("b.safetensors"),
        "--name-a",
        "ResNet",
        "--data",
        "embedded",
        "--limit",
        "100",
        "--per-subset",
        "2",
        "--explainer-a",
        &f.s("exp-a"),
        "--explainer-b",
        &f.s("exp-b/best.safetensors"),
        "--explainer-c",
        &f.s("exp-a2"),
        "--out",
        &out,
    ]);
    assert_eq!(code, 0, "compare failed: {err}");
    eprintln!(
        "compare CLI: {:.1} s; {}",
        t0.elapsed().as_secs_f64(),
        stdout.trim()
    );
    assert!(!err.contains("note:"), "the explainers match: {err}");
    let out = PathBuf::from(out);
    let md = std::fs::read_to_string(out.join("table3.md")).unwrap();
    assert!(md.contains("| subset | images | share | images (paper) | share (paper) |"));
    let rows = csv_rows(&out.join("table3.csv"));
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0][0], "subset");
    assert_eq!(rows[2][0], "A wrong, B correct");
    let sizes: Vec<usize> = rows[1..].iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 100);
    let paper: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(paper, ["347", "328", "593", "8732"]);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("subsets.json")).unwrap()).unwrap();
    assert_eq!(info["test_images"], 100);
    assert_eq!(info["a"]["name"], "ResNet");
    assert_eq!(info["b"]["name"], "b");
    for (slug, &n) in SUBSET_SLUGS.iter().zip(&sizes) {
        assert_eq!(info["subsets"][slug].as_array().unwrap().len(), n);
        let png = out.join(format!("task2-{slug}.png"));
        assert_eq!(png.exists(), n > 0, "{slug}: {n} images");
        if n > 0 {
            let img = image::open(&png).unwrap();
            assert!(img.width() > 2 * 11 * 128, "{slug}: {}", img.width());
        }
    }
    let task3 = image::open(out.join("task3.png")).unwrap();
    assert!(task3.height() > 128);

    // Tables 1 and 2.
    let sur_run = f.root.join("sur-run");
    write_metrics(&sur_run, &[metrics(1, 2.0), metrics(2, 1.0)]);
    let tout = f.s("tables");
    let (originals, surrogates) = (
        format!("ResNet18={},MyNet={}", f.s("a"), f.s("b.safetensors")),
        format!("ResNet by ViT={}", sur_run.display()),
    );
    let t1 = Instant::now();
    let (code, stdout, err) = fastshap_cli(&[
        "tables",
        "--originals",
        &originals,
        "--surrogates",
        &surrogates,
        "--data",
        "embedded",
        "--limit",
        "100",
        "--out",
        &tout,
    ]);
    assert_eq!(code, 0, "tables failed: {err}");
    eprintln!("tables CLI: {:.1} s", t1.elapsed().as_secs_f64());
    assert!(stdout.contains("Table 2"), "{stdout}");
    let tout = PathBuf::from(tout);
    let t2 = csv_rows(&tout.join("table2.csv"));
    assert_eq!(t2.len(), 3);
    assert_eq!(t2[1][0], "ResNet18");
    assert_eq!((t2[1][3].as_str(), t2[1][5].as_str()), ("0.4417", "0.9325"));
    assert_eq!((t2[2][3].as_str(), t2[2][5].as_str()), ("–", "–"));
    // Table 2 agrees with the agreement subsets: A is correct on subsets 3 and 4.
    let acc: f64 = t2[1][4].parse().unwrap();
    assert!((acc - (sizes[2] + sizes[3]) as f64 / 100.0).abs() < 1e-9);
    for r in &t2[1..] {
        let loss: f64 = r[2].parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0);
    }
    let t1 = csv_rows(&tout.join("table1.csv"));
    assert_eq!(t1.len(), 2);
    assert_eq!(t1[1][..3], ["ResNet by ViT", "2", "4.0000"]);
    assert_eq!(t1[1][3], "1.6850");
    assert!(
        std::fs::read_to_string(tout.join("table1.md"))
            .unwrap()
            .contains("| original by surrogate | best epoch |")
    );
}

/// A missing run, models of different class counts, a bad NAME=RUN and a non-run fail with one
/// clear error line.
#[test]
fn cli_rejects_bad_inputs() {
    let f = Fixture::new();
    let out = f.s("o");
    let (a, five, missing) = (f.s("a"), f.s("five.safetensors"), f.s("nope"));
    let not_a_run = format!("x={a}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["compare", "--a", &missing, "--b", &a, "--out", &out],
            "does not exist",
        ),
        (
            vec!["compare", "--a", &a, "--b", &five, "--out", &out],
            "must classify the same classes",
        ),
        (
            vec![
                "compare",
                "--a",
                &a,
                "--b",
                &a,
                "--out",
                &out,
                "--explainer-b",
                &a,
            ],
            "--explainer-b needs --explainer-a",
        ),
        (
            vec!["tables", "--originals", &a, "--out", &out],
            "expected NAME=RUN",
        ),
        (
            vec!["tables", "--surrogates", &not_a_run, "--out", &out],
            "metrics.jsonl",
        ),
        (vec!["tables", "--out", &out], "nothing to tabulate"),
    ];
    for (args, want) in cases {
        let (code, _, err) = fastshap_cli(&args);
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(
            err.contains(want),
            "{args:?}: stderr {err:?} lacks {want:?}"
        );
        let lines = err.lines().filter(|l| l.starts_with("error")).count();
        assert_eq!(lines, 1, "{args:?}: expected one error line, got {err:?}");
    }
}
