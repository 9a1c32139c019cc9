//! PyTorch parity: each fixture in tests/fixtures/torch/ (written by tools/torch_fixtures.py)
//! holds a reduced-width network's weights, an input, the outputs in train and eval mode, the
//! gradients of Σ out ⊙ R for the input and every parameter, and BN running statistics after the
//! training pass. We load the weights by name and compare everything.

use fastshap::Tensor;
use fastshap::models::*;
use fastshap::nn::{Module, init_rng};
use safetensors::SafeTensors;
use std::collections::HashMap;

struct Fixture {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    config: serde_json::Value,
}

fn fixture(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/torch/{name}.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let config = serde_json::from_str(&meta.metadata().as_ref().unwrap()["config"]).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            (
                n,
                (
                    v.shape().to_vec(),
                    bytemuck::pod_collect_to_vec::<u8, f32>(v.data()),
                ),
            )
        })
        .collect();
    Fixture { tensors, config }
}

impl Fixture {
    fn get(&self, name: &str) -> Tensor {
        let (s, d) = self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"));
        Tensor::from_slice(d, s).unwrap()
    }
    fn host(&self, name: &str) -> &[f32] {
        &self.tensors[name].1
    }
    /// Copies the PyTorch weights into `model` by name; every model tensor must be present.
    fn load_into(&self, model: &dyn Module) {
        for (name, t, _) in model.named_tensors() {
            let (s, d) = self
                .tensors
                .get(&format!("p.{name}"))
                .unwrap_or_else(|| panic!("fixture lacks p.{name}"));
            assert_eq!(s.as_slice(), t.shape(), "{name}");
            t.assign(&Tensor::from_slice(d, s).unwrap()).unwrap();
        }
        let ours = model.named_tensors().len();
        let theirs = self.tensors.keys().filter(|k| k.starts_with("p.")).count();
        assert_eq!(
            ours, theirs,
            "tensor count differs from PyTorch's state_dict"
        );
    }
}

/// max |a−b| / max|b| — errors judged against each tensor's scale.
fn close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    close_or_zero(what, got, want, tol, 0.0)
}

/// As [`close`], but a reference whose largest value is below `zero` counts as exactly zero.
fn close_or_zero(what: &str, got: &[f32], want: &[f32], tol: f32, zero: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    if scale <= zero.max(1e-30) {
        // Exactly-zero gradients (attention's key bias, which softmax cancels; a conv bias
        // before train-mode BatchNorm, which the batch mean cancels) leave only rounding noise
        // in both frameworks: require ours to be noise too.
        let ours = got.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            ours <= 10.0 * zero.max(1e-7),
            "{what}: PyTorch's is zero (max {scale:.1e}) but ours reaches {ours:.1e}"
        );
        return;
    }
    let err = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale;
    assert!(err <= tol, "{what}: relative error {err:.2e} > {tol:.0e}");
}

/// Runs train (with backward) and eval passes and compares with the fixture.
fn check(name: &str, model: &dyn Module, forward: &dyn Fn(&Tensor, bool) -> Tensor) {
    let f = fixture(name);
    f.load_into(model);
    for p in model.parameters() {
        p.zero_grad();
    }
    let x = f.get("input").param();
    let out = forward(&x, true);
    close(
        &format!("{name} train output"),
        &out.to_vec().unwrap(),
        f.host("out_train"),
        1e-4,
    );
    out.mul(&f.get("r"))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    close(
        &format!("{name} d/d input"),
        &x.grad().unwrap().to_vec().unwrap(),
        f.host("g.input"),
        1e-4,
    );
    // Gradients below a millionth of the largest are rounding noise around an exact zero.
    let zero = 1e-6
        * f.tensors
            .iter()
            .filter(|(k, _)| k.starts_with("g."))
            .flat_map(|(_, (_, d))| d)
            .fold(0f32, |m, v| m.max(v.abs()));
    for (pname, t, kind) in model.named_tensors() {
        if kind == fastshap::nn::Kind::Param {
            let g = t
                .grad()
                .unwrap_or_else(|| panic!("{name}: {pname} got no gradient"));
            let want = f.host(&format!("g.{pname}"));
            close_or_zero(
                &format!("{name} d/d {pname}"),
                &g.to_vec().unwrap(),
                want,
                1e-4,
                zero,
            );
        } else if let Some((_, after)) = f.tensors.get(&format!("after.{pname}")) {
            close(
                &format!("{name} {pname} after a training pass"),
                &t.to_vec().unwrap(),
                after,
                1e-4,
            );
        }
    }
    let _g = fastshap::no_grad();
    let eval = forward(&f.get("input"), false);
    close(
        &format!("{name} eval output"),
        &eval.to_vec().unwrap(),
        f.host("out_eval"),
        1e-4,
    );
}

fn cfg<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(fixture(name).config).unwrap()
}

#[test]
fn resnet_matches_pytorch() {
    for name in ["resnet", "resnet_surrogate"] {
        let m = ResNet::new(cfg(name), &mut init_rng(1)).unwrap();
        check(name, &m, &|x, train| m.forward(x, train).unwrap());
    }
}

#[test]
fn vit_matches_pytorch() {
    let m = Vit::new(cfg("vit"), &mut init_rng(1)).unwrap();
    check("vit", &m, &|x, train| m.forward(x, train).unwrap());
}

#[test]
fn unet_matches_pytorch() {
    let m = UNet::new(cfg("unet"), &mut init_rng(1)).unwrap();
    check("unet", &m, &|x, train| m.forward(x, train).unwrap());
}

#[test]
fn mae_matches_pytorch_with_a_fixed_mask() {
    let f = fixture("mae");
    let shuffles: Vec<Vec<u32>> = f
        .host("shuffles")
        .chunks(256)
        .map(|c| c.iter().map(|&v| v as u32).collect())
        .collect();
    let m = Mae::new(cfg("mae"), &mut init_rng(1)).unwrap();
    check("mae", &m, &|x, _| {
        m.forward(x, &shuffles).unwrap().loss.reshape(&[1]).unwrap()
    });
    check("mae_pred", &m, &|x, _| {
        m.forward(x, &shuffles).unwrap().pred
    });
}

#[test]
fn mae_classifier_matches_pytorch() {
    let c: serde_json::Value = fixture("mae_classifier").config;
    let mc: MaeConfig = serde_json::from_value(c).unwrap();
    let mut rng = init_rng(1);
    let m = MaeClassifier::from_mae(Mae::new(mc, &mut rng).unwrap(), 10, &mut rng).unwrap();
    check("mae_classifier", &m, &|x, train| {
        m.forward(x, train).unwrap()
    });
}

/// A bare PyTorch `state_dict` (no fastshap metadata, as a PyTorch user saves it) is built from
/// the flags its fixture records (`--arch`, `--heads`) and the tensors' shapes, and gives
/// PyTorch's eval-mode logits. The same ViT written by `fastshap_torch.export` needs no flags.
#[test]
fn plain_state_dicts_load_through_arch_and_match_pytorch() {
    use clap::ValueEnum;
    use fastshap::train::{ArchHint, ClassifierArch, load_classifier};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch");
    let cases = [
        ("plain_resnet18", "resnet", 10),
        ("plain_vit", "vit", 10),
        ("plain_mae_classifier", "mae-classifier", 5),
        ("exported_vit", "vit", 10),
    ];
    for (name, arch, classes) in cases {
        let expected = if name == "exported_vit" {
            "plain_vit"
        } else {
            name
        };
        let bytes = std::fs::read(dir.join(format!("{expected}.expected.safetensors"))).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let flags: Vec<String> =
            serde_json::from_str(&meta.metadata().as_ref().unwrap()["flags"]).unwrap();
        let mut hint = ArchHint::default();
        if name != "exported_vit" {
            for pair in flags.chunks(2) {
                match pair[0].as_str() {
                    "--arch" => {
                        hint.arch = Some(ClassifierArch::from_str(&pair[1], false).unwrap())
                    }
                    "--heads" => hint.heads = Some(pair[1].parse().unwrap()),
                    other => panic!("unknown flag {other}"),
                }
            }
        }
        let path = dir.join(format!("{name}.safetensors"));
        let (model, how) = load_classifier(&path, &hint).unwrap();
        assert_eq!(how.inferred, name != "exported_vit", "{name}");
        assert_eq!(how.spec.arch, arch, "{name}");
        assert_eq!(model.classes(), Some(classes), "{name}");
        let host = |n: &str| {
            let v = st.tensor(n).unwrap();
            (
                v.shape().to_vec(),
                bytemuck::pod_collect_to_vec::<u8, f32>(v.data()),
            )
        };
        let (xs, x) = host("input");
        let _g = fastshap::no_grad();
        let logits = model
            .logits(&Tensor::from_slice(&x, &xs).unwrap(), false)
            .unwrap();
        close(
            &format!("{name} logits"),
            &logits.to_vec().unwrap(),
            &host("logits").1,
            1e-4,
        );
    }
}
