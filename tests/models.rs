//! The paper's networks: parameter counts of the full-size models (built, not trained), PyTorch
//! parity on reduced widths (fixtures from tools/torch_fixtures.py), and checkpoint round trips.

use fastshap::checkpoint;
use fastshap::models::*;
use fastshap::nn::{Module, init_rng};
use fastshap::no_grad;

#[test]
fn full_size_parameter_counts() {
    let mut rng = init_rng(0);
    let _g = no_grad();
    let count = |m: &dyn Module| m.parameter_count();
    assert_eq!(
        count(&ResNet::new(ResNetConfig::resnet18(3, 10), &mut rng).unwrap()),
        11_173_962
    );
    assert_eq!(
        count(&ResNet::new(ResNetConfig::resnet18(4, 10), &mut rng).unwrap()),
        11_174_538
    );
    assert_eq!(
        count(&Vit::new(VitConfig::cifar(3), &mut rng).unwrap()),
        6_268_810
    );
    assert_eq!(
        count(&Vit::new(VitConfig::cifar(4), &mut rng).unwrap()),
        6_274_954
    );
    assert_eq!(
        count(&Vit::new(VitConfig::cifar_192_768(3), &mut rng).unwrap()),
        3_138_442
    );
    assert_eq!(
        count(&UNet::new(UNetConfig::fastshap_cifar(), &mut rng).unwrap()),
        1_481_610
    );
    let mae = Mae::new(MaeConfig::vit_tiny(), &mut rng).unwrap();
    assert_eq!(count(&mae), 7_221_900);
    assert_eq!(
        count(&MaeClassifier::from_mae(mae, 10, &mut rng).unwrap()),
        5_392_522
    );
}

fn tiny_resnet(seed: u64) -> ResNet {
    let cfg = ResNetConfig {
        in_channels: 3,
        classes: 10,
        widths: [4, 8, 8, 8],
        blocks: [1, 1, 1, 1],
    };
    ResNet::new(cfg, &mut init_rng(seed)).unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fastshap-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn checkpoint_round_trip_gives_identical_outputs() {
    let _g = no_grad();
    let a = tiny_resnet(1);
    let x = fastshap::Tensor::randn(&[2, 3, 32, 32], 5).unwrap();
    a.forward(&x, true).unwrap(); // move the BN running stats away from their init
    let path = tmp("roundtrip.safetensors");
    let meta =
        std::collections::HashMap::from([("fastshap.arch".to_string(), "resnet18".to_string())]);
    checkpoint::save(&a, meta, &path).unwrap();
    let b = tiny_resnet(2);
    let got_meta = checkpoint::load(&b, &path).unwrap();
    assert_eq!(got_meta["fastshap.arch"], "resnet18");
    assert_eq!(
        a.forward(&x, false).unwrap().to_vec().unwrap(),
        b.forward(&x, false).unwrap().to_vec().unwrap()
    );
}

#[test]
fn checkpoints_in_half_precision_load() {
    // PyTorch users often save f16/bf16: write one by hand and load it into an f32 model.
    let _g = no_grad();
    let a = tiny_resnet(1);
    let host: Vec<(String, Vec<usize>, Vec<f32>)> = a
        .named_tensors()
        .into_iter()
        .map(|(n, t, _)| (n, t.shape().to_vec(), t.to_vec().unwrap()))
        .collect();
    for dtype in [safetensors::Dtype::F16, safetensors::Dtype::BF16] {
        let bytes: Vec<Vec<u8>> = host
            .iter()
            .map(|(_, _, v)| match dtype {
                safetensors::Dtype::F16 => v
                    .iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect(),
                _ => v
                    .iter()
                    .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
                    .collect(),
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = host
            .iter()
            .zip(&bytes)
            .map(|((n, s, _), b)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(dtype, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let path = tmp(&format!("half-{dtype:?}.safetensors"));
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        let b = tiny_resnet(9);
        checkpoint::load(&b, &path).unwrap();
        let w = b.named_tensors()[0].1.to_vec().unwrap();
        let rel = if dtype == safetensors::Dtype::F16 {
            1e-3
        } else {
            1e-2
        };
        for (g, want) in w.iter().zip(&host[0].2) {
            assert!(
                (g - want).abs() <= rel * want.abs().max(1e-2),
                "{dtype:?}: {g} vs {want}"
            );
        }
    }
}

#[test]
fn broken_checkpoints_give_one_clear_error_and_change_nothing() {
    let _g = no_grad();
    let a = tiny_resnet(1);
    let path = tmp("good.safetensors");
    checkpoint::save(&a, Default::default(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    // Truncated file.
    let trunc = tmp("truncated.safetensors");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    let b = tiny_resnet(2);
    let before = b.named_tensors()[0].1.to_vec().unwrap();
    let e = format!("{:#}", checkpoint::load(&b, &trunc).unwrap_err());
    assert!(
        e.contains("truncated.safetensors") && e.contains("not a valid safetensors"),
        "{e}"
    );

    // A different architecture: every mismatch listed in one error, nothing loaded.
    let wide = ResNet::new(
        ResNetConfig {
            in_channels: 4,
            classes: 10,
            widths: [4, 8, 8, 16],
            blocks: [1, 1, 1, 1],
        },
        &mut init_rng(3),
    )
    .unwrap();
    let e = format!("{:#}", checkpoint::load(&wide, &path).unwrap_err());
    assert!(
        e.contains("good.safetensors")
            && e.contains("conv1.weight: shape [4, 3, 3, 3] in file, model expects [4, 4, 3, 3]"),
        "{e}"
    );
    assert!(
        e.contains("layer4.0.conv1.weight"),
        "all mismatches in one error: {e}"
    );

    // A missing tensor and an unexpected one.
    let vit = Vit::new(
        VitConfig {
            in_channels: 3,
            classes: 10,
            image: 32,
            patch: 4,
            dim: 8,
            mlp: 8,
            heads: 2,
            depth: 1,
        },
        &mut init_rng(4),
    )
    .unwrap();
    let e = format!("{:#}", checkpoint::load(&vit, &path).unwrap_err());
    assert!(
        e.contains("missing tensor cls_token") && e.contains("unexpected tensor bn1.weight"),
        "{e}"
    );

    assert_eq!(
        b.named_tensors()[0].1.to_vec().unwrap(),
        before,
        "a failed load changed the model"
    );
}

/// Forward output and input gradient of `forward` on `x` under one kernel family.
fn run_class(
    class: fastshap::gpu::KernelClass,
    x: &fastshap::Tensor,
    forward: &dyn Fn(&fastshap::Tensor) -> fastshap::Tensor,
) -> (Vec<f32>, Vec<f32>) {
    fastshap::gpu::with_kernel_class(class, || {
        let xp = x.param();
        let out = forward(&xp);
        let r = fastshap::Tensor::randn(out.shape(), 99).unwrap();
        out.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
        (out.to_vec().unwrap(), xp.grad().unwrap().to_vec().unwrap())
    })
}

/// Largest difference relative to the largest value of `want` (values far below a tensor's
/// scale are sums that cancel, judged against the scale as in the kernel tests).
fn scaled_err(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

/// Whole networks under both kernel families (barrier-free and tiled kernels, forced per thread)
/// agree: a tiny ResNet (every conv shape: 3×3 s1/s2, 1×1 s2 shortcuts, BatchNorm) and a tiny
/// ViT (T = 65, head dim 32: attention, LayerNorm, softmax-free heads, matmuls), forward and the
/// gradient reaching the input. f32 in different summation orders through ~10 layers: 1e-4 of
/// each tensor's scale.
#[test]
fn networks_agree_across_kernel_classes() {
    use fastshap::gpu::KernelClass::{Cpu, Gpu};
    let x = fastshap::Tensor::randn(&[3, 3, 32, 32], 7).unwrap();
    let resnet = tiny_resnet(3);
    let vit = Vit::new(
        VitConfig {
            in_channels: 3,
            classes: 10,
            image: 32,
            patch: 4,
            dim: 64,
            mlp: 96,
            heads: 2,
            depth: 1,
        },
        &mut init_rng(4),
    )
    .unwrap();
    type Net<'a> = &'a dyn Fn(&fastshap::Tensor) -> fastshap::Tensor;
    let nets: [(&str, Net); 2] = [
        ("resnet", &|x| resnet.forward(x, true).unwrap()),
        ("vit", &|x| vit.forward(x, true).unwrap()),
    ];
    for (name, f) in nets {
        let (want_y, want_g) = run_class(Cpu, &x, f);
        let (got_y, got_g) = run_class(Gpu, &x, f);
        let (ey, eg) = (scaled_err(&got_y, &want_y), scaled_err(&got_g, &want_g));
        assert!(
            ey <= 1e-4 && eg <= 1e-4,
            "{name}: output {ey:.2e}, input grad {eg:.2e}"
        );
    }
}

/// `models::spec` lists every tensor a config's network holds, so checkpoints are checked
/// before anything is built; each plan must equal the built network's names and shapes (in
/// order), for every architecture and the layouts that differ (shortcuts, surrogate channels,
/// fused and separate qkv, MultiConv depths, MAE with and without its decoder).
#[test]
fn plans_list_exactly_the_tensors_networks_hold() {
    let mut rng = init_rng(0);
    let _g = no_grad();
    let names = |m: &dyn Module| -> Vec<(String, Vec<usize>)> {
        m.named_tensors()
            .into_iter()
            .map(|(n, t, _)| (n, t.shape().to_vec()))
            .collect()
    };
    let resnet = ResNetConfig {
        in_channels: 4,
        classes: 7,
        widths: [3, 3, 5, 6],
        blocks: [2, 1, 2, 1],
    };
    resnet.check().unwrap();
    assert_eq!(
        resnet.plan(),
        names(&ResNet::new(resnet.clone(), &mut rng).unwrap())
    );
    let vit = VitConfig {
        in_channels: 3,
        classes: 5,
        image: 32,
        patch: 8,
        dim: 12,
        mlp: 10,
        heads: 3,
        depth: 2,
    };
    vit.check().unwrap();
    assert_eq!(vit.plan(), names(&Vit::new(vit.clone(), &mut rng).unwrap()));
    let mae = MaeConfig {
        dim: 12,
        mlp: 10,
        heads: 2,
        patch: 8,
        encoder_depth: 2,
        decoder_depth: 1,
        ..MaeConfig::vit_tiny()
    };
    mae.check(true).unwrap();
    let built = Mae::new(mae.clone(), &mut rng).unwrap();
    assert_eq!(mae.plan(), names(&built));
    let classifier = MaeClassifier::from_mae(built, 6, &mut rng).unwrap();
    assert_eq!(mae.plan_classifier(6), names(&classifier));
    for convs in [1, 3] {
        let unet = UNetConfig {
            base: 3,
            convs,
            classes: 4,
            superpixel: 4,
            ..UNetConfig::fastshap_cifar()
        };
        unet.check().unwrap();
        assert_eq!(
            unet.plan(),
            names(&UNet::new(unet.clone(), &mut rng).unwrap())
        );
    }
    // The ViT explainer: the surrogate's ViT without its CLS head, plus the per-token head, at
    // one and at four players per patch.
    for superpixel in [8, 4] {
        let vx = VitExplainerConfig::for_backbone(
            VitConfig {
                in_channels: 4,
                ..vit.clone()
            },
            superpixel,
        );
        vx.check().unwrap();
        assert_eq!(
            vx.plan(),
            names(&VitExplainer::new(vx.clone(), &mut rng).unwrap())
        );
    }
    // The ResNet explainer: the surrogate's ResNet without its classifier, plus the per-cell
    // head, at one, four and sixteen players per cell; superpixel 16 (bigger than a cell) is
    // refused by name.
    for superpixel in [8, 4, 2] {
        let rx = ResNetExplainerConfig::for_backbone(resnet.clone(), superpixel);
        rx.check().unwrap();
        assert_eq!(
            rx.plan(),
            names(&ResNetExplainer::new(rx.clone(), &mut rng).unwrap())
        );
    }
    let e = ResNetExplainerConfig::for_backbone(resnet.clone(), 16)
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("superpixel = 16 must divide 8"), "{e}");
    // The bounds name the field.
    let bad = ResNetConfig {
        widths: [100_000, 4, 4, 4],
        ..resnet
    };
    let e = bad.check().unwrap_err().to_string();
    assert!(e.contains("widths[0] = 100000"), "{e}");
}

/// Writes the checkpoint fuzz target's seeds of every role (opt-in: `cargo test --release
/// --test models -- --ignored write_checkpoint_fuzz_seeds`, from the repository root): tiny
/// networks with zero tensors, their metadata as the loaders read it, and a plain state dict.
#[test]
#[ignore]
fn write_checkpoint_fuzz_seeds() {
    use std::collections::HashMap;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/checkpoint");
    let write = |name: &str,
                 plan: &[(String, Vec<usize>)],
                 meta: Option<HashMap<String, String>>| {
        let data: Vec<Vec<u8>> = plan
            .iter()
            .map(|(_, s)| vec![0u8; 4 * s.iter().product::<usize>()])
            .collect();
        let views: Vec<_> = plan
            .iter()
            .zip(&data)
            .map(|((n, s), d)| {
                let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d);
                (n.clone(), v.unwrap())
            })
            .collect();
        std::fs::write(dir.join(name), safetensors::serialize(views, meta).unwrap()).unwrap();
    };
    let m = |pairs: &[(&str, String)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    fn json<T: serde::Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }
    let resnet = ResNetConfig {
        in_channels: 3,
        classes: 2,
        widths: [1, 1, 2, 2],
        blocks: [1, 1, 1, 1],
    };
    let original = m(&[
        ("fastshap.arch", "resnet".into()),
        ("fastshap.config", json(&resnet)),
    ]);
    write("role_original_resnet", &resnet.plan(), Some(original));
    write("role_none_state_dict", &resnet.plan(), None);
    let vit = VitConfig {
        in_channels: 3,
        classes: 2,
        image: 32,
        patch: 16,
        dim: 2,
        mlp: 2,
        heads: 1,
        depth: 1,
    };
    let vit_meta = m(&[
        ("fastshap.arch", "vit".into()),
        ("fastshap.config", json(&vit)),
    ]);
    write("role_original_vit", &vit.plan(), Some(vit_meta));
    let mae = MaeConfig {
        patch: 16,
        dim: 2,
        mlp: 2,
        heads: 1,
        encoder_depth: 1,
        decoder_depth: 1,
        ..MaeConfig::vit_tiny()
    };
    let mae_meta = m(&[
        ("fastshap.arch", "mae".into()),
        ("fastshap.config", json(&mae)),
    ]);
    write("role_mae", &mae.plan(), Some(mae_meta));
    let cls = format!(r#"{{"encoder":{},"classes":2}}"#, json(&mae));
    let cls_meta = m(&[
        ("fastshap.arch", "mae-classifier".into()),
        ("fastshap.config", cls),
    ]);
    write(
        "role_mae_classifier",
        &mae.plan_classifier(2),
        Some(cls_meta),
    );
    let sur = ResNetConfig {
        in_channels: 4,
        ..resnet
    };
    let classes = r#"["a","b"]"#.to_string();
    let sur_meta = m(&[
        ("fastshap.arch", "resnet".into()),
        ("fastshap.config", json(&sur)),
        ("fastshap.role", "surrogate".into()),
        ("fastshap.superpixel", "16".into()),
        ("fastshap.classes", classes.clone()),
        ("fastshap.original", "fifo".into()),
    ]);
    write("role_surrogate", &sur.plan(), Some(sur_meta));
    let unet = UNetConfig {
        base: 1,
        convs: 1,
        classes: 2,
        superpixel: 16,
        in_channels: 3,
    };
    let mut e = fastshap::fastshap::ExplainerConfig::recipe(
        fastshap::train::config::Preset::Tiny,
        std::path::Path::new("dir"),
        "embedded",
    );
    e.unet = unet.clone();
    let e_meta = m(&[
        ("fastshap.arch", "unet".into()),
        ("fastshap.config", json(&unet)),
        ("fastshap.role", "explainer".into()),
        ("fastshap.superpixel", "16".into()),
        ("fastshap.classes", classes),
        ("fastshap.explainer", json(&e)),
        ("fastshap.surrogate_path", "/dev/zero".into()),
    ]);
    write("role_explainer", &unet.plan(), Some(e_meta));
}

/// The ViT explainer places token (ty, tx)'s output (dy, dx, c) on player (ty·r + dy, tx·r + dx):
/// each value encodes where it came from, and every player must hold the code of its own place.
#[test]
fn vit_explainer_puts_each_token_output_on_its_players() {
    let _g = no_grad();
    let (b, grid, r, k) = (2, 3, 2, 5);
    let code = |i: usize, ty: usize, tx: usize, dy: usize, dx: usize, c: usize| {
        (((((i * 7 + ty) * 7 + tx) * 3 + dy) * 3 + dx) * 11 + c) as f32
    };
    let mut out = Vec::new();
    for i in 0..b {
        for ty in 0..grid {
            for tx in 0..grid {
                for dy in 0..r {
                    for dx in 0..r {
                        for c in 0..k {
                            out.push(code(i, ty, tx, dy, dx, c));
                        }
                    }
                }
            }
        }
    }
    let t = fastshap::Tensor::from_slice(&out, &[b, grid * grid, r * r * k]).unwrap();
    let phi = fastshap::models::player_head::tokens_to_players(&t, grid, r, k)
        .unwrap()
        .to_vec()
        .unwrap();
    let side = grid * r;
    for i in 0..b {
        for y in 0..side {
            for x in 0..side {
                for c in 0..k {
                    let got = phi[(i * side * side + y * side + x) * k + c];
                    assert_eq!(
                        got,
                        code(i, y / r, x / r, y % r, x % r, c),
                        "({i}, {y}, {x}, {c})"
                    );
                }
            }
        }
    }
}

/// A ViT explainer started from a surrogate holds the surrogate's weights in its backbone (and
/// refuses a surrogate of another shape).
#[test]
fn vit_explainer_starts_from_the_surrogates_weights() {
    let _g = no_grad();
    let vit = VitConfig {
        in_channels: 4,
        classes: 10,
        image: 32,
        patch: 8,
        dim: 16,
        mlp: 24,
        heads: 2,
        depth: 1,
    };
    let surrogate = Vit::new(vit.clone(), &mut init_rng(1)).unwrap();
    let ex = VitExplainer::new(
        VitExplainerConfig::for_backbone(vit.clone(), 4),
        &mut init_rng(2),
    )
    .unwrap();
    let before = ex.named_tensors()[0].1.to_vec().unwrap();
    ex.init_from(&surrogate).unwrap();
    let theirs = surrogate.named_tensors();
    let ours = ex.named_tensors();
    for (name, t, _) in &theirs {
        if name.starts_with("head.") {
            continue;
        }
        let mine = ours
            .iter()
            .find(|(n, _, _)| n == &format!("backbone.{name}"))
            .unwrap_or_else(|| panic!("backbone.{name} missing"));
        assert_eq!(mine.1.to_vec().unwrap(), t.to_vec().unwrap(), "{name}");
    }
    assert_ne!(
        before,
        ours[0].1.to_vec().unwrap(),
        "init_from changed nothing"
    );
    let other = Vit::new(VitConfig { dim: 8, ..vit }, &mut init_rng(3)).unwrap();
    let e = ex.init_from(&other).unwrap_err().to_string();
    assert!(e.contains("not the explainer's backbone"), "{e}");
}

/// A ResNet explainer started from a surrogate holds the surrogate's trunk (weights and
/// BatchNorm statistics); its φ has one value per player (four per cell at superpixel 4) and
/// class, zero before training (the head's zero start). A surrogate of another shape is refused.
#[test]
fn resnet_explainer_starts_from_the_surrogates_weights() {
    let _g = no_grad();
    let cfg = ResNetConfig {
        in_channels: 4,
        classes: 10,
        widths: [4, 6, 6, 8],
        blocks: [1, 2, 1, 1],
    };
    let surrogate = ResNet::new(cfg.clone(), &mut init_rng(1)).unwrap();
    // Running statistics that are not the defaults, so copying them is seen.
    for (name, t, _) in surrogate.named_tensors() {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            let v: Vec<f32> = (0..t.numel()).map(|i| 0.5 + 0.1 * i as f32).collect();
            t.assign(&fastshap::Tensor::from_slice(&v, t.shape()).unwrap())
                .unwrap();
        }
    }
    let ex = ResNetExplainer::new(
        ResNetExplainerConfig::for_backbone(cfg.clone(), 4),
        &mut init_rng(2),
    )
    .unwrap();
    ex.init_from(&surrogate).unwrap();
    let ours = ex.named_tensors();
    for (name, t, _) in &surrogate.named_tensors() {
        if name.starts_with("linear.") {
            continue;
        }
        let mine = ours
            .iter()
            .find(|(n, _, _)| n == &format!("backbone.{name}"))
            .unwrap_or_else(|| panic!("backbone.{name} missing"));
        assert_eq!(mine.1.to_vec().unwrap(), t.to_vec().unwrap(), "{name}");
    }
    let x: Vec<f32> = (0..2 * 3 * 32 * 32)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let x = fastshap::Tensor::from_slice(&x, &[2, 3, 32, 32]).unwrap();
    let phi = ex.forward(&x).unwrap();
    assert_eq!(phi.shape(), &[2, 64, 10]);
    assert!(phi.to_vec().unwrap().iter().all(|&v| v == 0.0));
    let other = ResNet::new(
        ResNetConfig {
            widths: [4, 6, 6, 4],
            ..cfg
        },
        &mut init_rng(3),
    )
    .unwrap();
    let e = ex.init_from(&other).unwrap_err().to_string();
    assert!(e.contains("not the explainer's backbone"), "{e}");
}
