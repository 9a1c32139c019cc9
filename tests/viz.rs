//! Visualisation: pixel-level checks of the Shapley and rollout grids (colour signs, symmetric
//! scale, superpixel placement, shared vmax, labels), the font, the SVG plots, and example
//! renders written to target/ for a person to look at.

use fastshap::viz::color::{self, BLUE, RED};
use fastshap::viz::{
    BarOptions, BarSeries, Direction, HeatmapOptions, HeatmapRow, PlotOptions, RolloutOptions,
    RolloutRow, Series, bar_plot, compose, heatmap_grid_layout, line_plot, rollout_grid_layout,
    save_png,
};
use image::{Rgb, RgbImage};
use std::path::PathBuf;

const S: usize = 32;

/// A CHW test image with distinct, non-gray colours per pixel.
fn test_image(seed: u8) -> Vec<u8> {
    (0..3 * S * S)
        .map(|i| ((i * 37 + i / (S * S) * 91 + seed as usize * 13) % 256) as u8)
        .collect()
}

fn px_gray(img: &[u8], y: usize, x: usize) -> f64 {
    let p = S * S;
    color::gray(img[y * S + x], img[p + y * S + x], img[2 * p + y * S + x])
}

/// The pixel at image coordinates (y, x) of panel `c` in row `r`.
fn panel_px(
    out: &RgbImage,
    lay: &fastshap::viz::Layout,
    r: usize,
    c: usize,
    y: usize,
    x: usize,
) -> [u8; 3] {
    let (x0, y0) = lay.panels[r][c];
    let sc = lay.panel_size as usize / S;
    out.get_pixel(x0 + (x * sc + sc / 2) as u32, y0 + (y * sc + sc / 2) as u32)
        .0
}

fn expected(img: &[u8], y: usize, x: usize, alpha: f64, c: [f64; 3], a: f64) -> [u8; 3] {
    color::blend(color::faded(px_gray(img, y, x), alpha), c, a).0
}

/// φ [P, K] with column k set to `f(p)`.
fn phi_from(p: usize, k: usize, f: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    (0..p * k).map(|i| f(i / k, i % k)).collect()
}

#[test]
fn signs_scale_and_zero() {
    let img = test_image(1);
    // Class 0: +1 everywhere, class 1: −1, class 2: 0, class 3: +0.5 (half of the row's max).
    let phi = phi_from(16, 4, |_, k| [1.0, -1.0, 0.0, 0.5][k]);
    let mut opts = HeatmapOptions::new(&["pos", "neg", "zero", "half"]);
    opts.background_alpha = 1.0; // the plain gray, so "zero" is exactly the grayscale image
    let row = HeatmapRow {
        image: &img,
        phi: &phi,
        probs: None,
        surrogate_probs: None,
        title: "img".into(),
    };
    let (out, lay) = heatmap_grid_layout(&[row], &opts).unwrap();
    assert_eq!(lay.panels[0].len(), 5);
    assert_eq!(lay.panel_size, 128);
    for (y, x) in [(0, 0), (5, 17), (31, 31)] {
        let pos = panel_px(&out, &lay, 0, 1, y, x);
        let neg = panel_px(&out, &lay, 0, 2, y, x);
        let zero = panel_px(&out, &lay, 0, 3, y, x);
        let half = panel_px(&out, &lay, 0, 4, y, x);
        assert!(
            pos[0] > pos[1] + 100 && pos[0] > pos[2] + 100,
            "positive not red: {pos:?}"
        );
        assert!(
            neg[2] > neg[0] + 100 && neg[2] > neg[1] + 50,
            "negative not blue: {neg:?}"
        );
        let g = px_gray(&img, y, x).round() as u8;
        assert_eq!(zero, [g, g, g], "zero φ must show the grayscale image");
        assert_eq!(pos, expected(&img, y, x, 1.0, RED, 1.0));
        assert_eq!(neg, expected(&img, y, x, 1.0, BLUE, 1.0));
        assert_eq!(half, expected(&img, y, x, 1.0, RED, 0.5));
        // The first panel is the image itself.
        let o = panel_px(&out, &lay, 0, 0, y, x);
        assert_eq!(
            o,
            [
                img[y * S + x],
                img[S * S + y * S + x],
                img[2 * S * S + y * S + x]
            ]
        );
    }
}

#[test]
fn symmetric_scale_mirrors() {
    let img = test_image(2);
    let phi: Vec<f64> = (0..16).map(|p| (p as f64 - 7.3) * 0.01).collect();
    let neg: Vec<f64> = phi.iter().map(|v| -v).collect();
    let opts = HeatmapOptions::new(&["c"]);
    let a = HeatmapRow {
        image: &img,
        phi: &phi,
        probs: None,
        surrogate_probs: None,
        title: String::new(),
    };
    let b = HeatmapRow {
        phi: &neg,
        ..a.clone()
    };
    let (out, lay) = heatmap_grid_layout(&[a, b], &opts).unwrap();
    let vmax = 7.7 * 0.01; // max |φ| of the row (p = 15), shared by φ and −φ
    for (p, &v) in phi.iter().enumerate() {
        let (y, x) = ((p / 4) * 8 + 3, (p % 4) * 8 + 3);
        let t = v / vmax;
        let (c_pos, c_neg) = if t >= 0.0 { (RED, BLUE) } else { (BLUE, RED) };
        assert_eq!(
            panel_px(&out, &lay, 0, 1, y, x),
            expected(&img, y, x, opts.background_alpha, c_pos, t.abs())
        );
        assert_eq!(
            panel_px(&out, &lay, 1, 1, y, x),
            expected(&img, y, x, opts.background_alpha, c_neg, t.abs())
        );
    }
}

#[test]
fn superpixel_layout() {
    let img = vec![128u8; 3 * S * S];
    let mut opts = HeatmapOptions::new(&["only"]);
    opts.background_alpha = 1.0;
    for (s, p, player, (br, bc)) in [
        (8usize, 16usize, 5usize, (1usize, 1usize)),
        (4, 64, 13, (1, 5)),
        (16, 4, 2, (1, 0)),
    ] {
        let phi: Vec<f64> = (0..p).map(|j| (j == player) as u8 as f64).collect();
        let row = HeatmapRow {
            image: &img,
            phi: &phi,
            probs: None,
            surrogate_probs: None,
            title: String::new(),
        };
        let (out, lay) = heatmap_grid_layout(&[row], &opts).unwrap();
        for y in 0..S {
            for x in 0..S {
                let inside = y / s == br && x / s == bc;
                let px = panel_px(&out, &lay, 0, 1, y, x);
                if inside {
                    assert_eq!(
                        px,
                        [255, 0, 81],
                        "s={s}: ({y},{x}) should be player {player}"
                    );
                } else {
                    assert_eq!(px, [128, 128, 128], "s={s}: ({y},{x}) should be untouched");
                }
            }
        }
    }
}

#[test]
fn fixed_vmax_is_shared() {
    let img = test_image(3);
    let small = vec![0.1; 16];
    let large = vec![0.4; 16];
    let mk = |phi| HeatmapRow {
        image: &img,
        phi,
        probs: None,
        surrogate_probs: None,
        title: String::new(),
    };
    let mut opts = HeatmapOptions::new(&["c"]);
    // Per-row scale: both rows saturate.
    let (out, lay) = heatmap_grid_layout(&[mk(&small), mk(&large)], &opts).unwrap();
    assert_eq!(
        panel_px(&out, &lay, 0, 1, 4, 4),
        panel_px(&out, &lay, 1, 1, 4, 4)
    );
    // Shared vmax 0.8: opacities 1/8 and 1/2, clipped above vmax.
    opts.vmax = Some(0.8);
    let (out, lay) = heatmap_grid_layout(&[mk(&small), mk(&large)], &opts).unwrap();
    let a = opts.background_alpha;
    assert_eq!(
        panel_px(&out, &lay, 0, 1, 4, 4),
        expected(&img, 4, 4, a, RED, 0.125)
    );
    assert_eq!(
        panel_px(&out, &lay, 1, 1, 4, 4),
        expected(&img, 4, 4, a, RED, 0.5)
    );
    opts.vmax = Some(0.2);
    let (out, lay) = heatmap_grid_layout(&[mk(&large)], &opts).unwrap();
    assert_eq!(
        panel_px(&out, &lay, 0, 1, 4, 4),
        expected(&img, 4, 4, a, RED, 1.0)
    );
}

fn dark_pixels(img: &RgbImage, x0: u32, y0: u32, w: u32, h: u32) -> usize {
    let mut n = 0;
    for y in y0..(y0 + h).min(img.height()) {
        for x in x0..(x0 + w).min(img.width()) {
            let p = img.get_pixel(x, y).0;
            n += (p.iter().map(|&c| c as u32).sum::<u32>() < 200) as usize;
        }
    }
    n
}

#[test]
fn labels_and_predicted_box() {
    let img = test_image(4);
    let phi = phi_from(16, 3, |p, k| (p as f64 - 8.0) * (k as f64 - 1.0));
    let probs = [0.1, 0.7, 0.2];
    let mk = |title: &str, probs| HeatmapRow {
        image: &img,
        phi: &phi,
        probs,
        surrogate_probs: None,
        title: title.into(),
    };
    let opts = HeatmapOptions::new(&["cat", "dog", "frog"]);
    let (with, lay) = heatmap_grid_layout(&[mk("true: dog", Some(&probs))], &opts).unwrap();
    let mut blank_opts = opts.clone();
    blank_opts.classes = vec![String::new(); 3];
    let (without, lay2) = heatmap_grid_layout(&[mk("", None)], &blank_opts).unwrap();
    let (lx, ly, lh) = lay.labels[0];
    assert!(lh >= 16);
    for c in 0..4 {
        let (px, _) = lay.panels[0][c];
        assert!(
            dark_pixels(&with, px, ly, lay.panel_size, lh) > 20,
            "no label ink above panel {c}"
        );
    }
    assert_eq!(
        lay2.labels[0].2, 0,
        "no label lines when every label is empty"
    );
    assert_eq!(
        dark_pixels(&without, lx, 0, without.width(), lay2.panels[0][0].1),
        0
    );
    // The predicted class (dog, panel 2) has a frame in the gap; the others have none.
    let ps = lay.panel_size;
    for c in 1..4 {
        let (px, py) = lay.panels[0][c];
        let frame = dark_pixels(&with, px - 4, py - 4, ps + 8, 3);
        if c == 2 {
            assert_eq!(frame, (ps + 8) as usize * 3);
        } else {
            assert_eq!(frame, 0, "panel {c} framed");
        }
    }
    // The colour bar goes from red at the top to blue at the bottom.
    let (bx, by, bw, bh) = lay.colorbars[0];
    let top = with.get_pixel(bx + bw / 2, by + 2).0;
    let bot = with.get_pixel(bx + bw / 2, by + bh - 3).0;
    assert!(top[0] > 200 && top[1] < 60, "bar top {top:?}");
    assert!(bot[2] > 200 && bot[0] < 60, "bar bottom {bot:?}");
}

#[test]
fn font_draws_ascii_and_widths_add_up() {
    use fastshap::viz::font::{ADVANCE, draw_text, text_width};
    assert_eq!(text_width("abc", 2), (3 * ADVANCE - 1) * 2);
    let mut img = RgbImage::from_pixel(200, 20, Rgb([255; 3]));
    let all: String = (' '..='~').collect();
    draw_text(&mut img, 0, 0, &all[..32], 1, Rgb([0; 3]), false);
    // Every printable character but the space has ink.
    for (i, c) in all.chars().take(32).enumerate().skip(1) {
        assert!(
            dark_pixels(&img, i as u32 * ADVANCE, 0, 5, 8) > 0,
            "{c:?} draws nothing"
        );
    }
    assert_eq!(dark_pixels(&img, 0, 0, 5, 8), 0, "space draws ink");
}

#[test]
fn rollout_grid_sequential() {
    let img = test_image(5);
    let a: Vec<f64> = (0..64)
        .map(|j| if j == 9 { 0.5 } else { 0.5 / 63.0 })
        .collect();
    let b: Vec<f64> = vec![1.0 / 16.0; 16];
    let row = RolloutRow {
        image: &img,
        maps: vec![&a, &b],
        title: "img".into(),
    };
    let opts = RolloutOptions::new(&["vit-p4", "vit-p8"]);
    let (out, lay) = rollout_grid_layout(&[row], &opts).unwrap();
    // Patch 9 of the 8×8 map = block (1, 1) of 4×4 pixels: the peak, full dark red.
    let peak = panel_px(&out, &lay, 0, 1, 5, 5);
    assert_eq!(peak, [128, 0, 38]);
    // A uniform map relative to uniform is 1/(64·0.5) of the peak: faint and warm.
    let flat = panel_px(&out, &lay, 0, 2, 20, 20);
    let base = color::faded(px_gray(&img, 20, 20), opts.background_alpha);
    assert!(
        (flat[0] as f64) >= base.round() - 1.0 && flat[2] as f64 <= base + 1.0,
        "{flat:?} vs base {base}"
    );
    assert!(
        rollout_grid_layout(
            &[RolloutRow {
                image: &img,
                maps: vec![&a],
                title: String::new()
            }],
            &opts
        )
        .is_err()
    );
}

#[test]
fn bad_shapes_are_errors() {
    let img = test_image(6);
    let opts = HeatmapOptions::new(&["a", "b"]);
    let mk = |phi| HeatmapRow {
        image: &img,
        phi,
        probs: None,
        surrogate_probs: None,
        title: String::new(),
    };
    assert!(fastshap::viz::heatmap_grid(&[mk(&[0.0; 15])], &opts).is_err()); // not a multiple of K
    assert!(fastshap::viz::heatmap_grid(&[mk(&[0.0; 18])], &opts).is_err()); // P = 9 not square-dividing 32
    let short = [0u8; 5];
    let bad = HeatmapRow {
        image: &short,
        ..mk(&[0.0; 32])
    };
    assert!(fastshap::viz::heatmap_grid(&[bad], &opts).is_err());
}

/// Tags open and close in order (a light XML well-formedness check).
fn assert_balanced(svg: &str) {
    assert!(
        svg.starts_with("<svg") && svg.ends_with("</svg>"),
        "not an svg document"
    );
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let j = rest[i..].find('>').expect("unclosed tag") + i;
        let tag = &rest[i + 1..j];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
        rest = &rest[j + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

fn curves() -> Vec<Series> {
    let x: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
    vec![
        Series::new(
            "FastSHAP <surrogate>",
            x.clone(),
            x.iter().map(|v| 1.0 - (-4.0 * v).exp()).collect(),
        ),
        Series::new(
            "KernelSHAP & co",
            x.clone(),
            x.iter().map(|v| v * v).collect(),
        ),
        Series {
            dashed: true,
            ..Series::new(
                "random",
                x.clone(),
                x.iter()
                    .map(|&v| if v == 0.5 { f64::NAN } else { v })
                    .collect(),
            )
        },
    ]
}

#[test]
fn svg_line_and_bar_plots() {
    let opts = PlotOptions {
        title: "Inclusion".into(),
        x_label: "fraction".into(),
        y_label: "top-1".into(),
        ..Default::default()
    };
    let svg = line_plot(&curves(), &opts);
    assert_balanced(&svg);
    assert!(
        svg.contains("FastSHAP &lt;surrogate&gt;")
            && svg.contains("KernelSHAP &amp; co")
            && svg.contains(">random<")
    );
    assert!(
        !svg.contains("http://") || svg.matches("http://").count() == 1,
        "only the xmlns URI"
    );
    // The NaN splits "random" into two polylines.
    assert_eq!(svg.matches("stroke-dasharray=\"5,3\"/>").count(), 3); // two segments + legend
    for t in ["0.2", "0.4", "1.0"] {
        assert!(svg.contains(&format!(">{t}</text>")), "tick {t} missing");
    }
    let bars = bar_plot(
        &["ViT", "ResNet"],
        &[
            BarSeries {
                name: "AUC".into(),
                values: vec![0.8, -0.1],
                intervals: Some(vec![(0.7, 0.9), (-0.2, 0.0)]),
            },
            BarSeries {
                name: "Pearson".into(),
                values: vec![0.6, 0.5],
                intervals: None,
            },
        ],
        &BarOptions::default(),
    );
    assert_balanced(&bars);
    assert!(bars.contains("AUC") && bars.contains("Pearson") && bars.contains("ResNet"));
    assert_eq!(bars.matches("<rect").count(), 1 + 4 + 2); // background, bars, legend swatches
    let table = fastshap::viz::html_table(&["a", "b<"], &[vec!["1".into(), "x&y".into()]]);
    assert!(table.contains("<th>b&lt;</th>") && table.contains("<td>x&amp;y</td>"));
}

fn target_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Synthetic φ for an example: the true class gets a positive blob at the centre and a negative
/// ring; other classes get weaker, shifted blobs of either sign.
fn synthetic_phi(g: usize, k: usize, label: usize, seed: usize) -> Vec<f64> {
    phi_from(g * g, k, |p, c| {
        let (y, x) = ((p / g) as f64 + 0.5, (p % g) as f64 + 0.5);
        let (cy, cx) = (
            g as f64 * (0.3 + 0.4 * ((c * 7 + seed) % 5) as f64 / 4.0),
            g as f64 * (0.3 + 0.4 * ((c * 3 + seed) % 5) as f64 / 4.0),
        );
        let r2 = ((y - cy).powi(2) + (x - cx).powi(2)) / (g * g) as f64;
        let blob = (-r2 * 12.0).exp();
        if c == label {
            0.3 * blob - 0.08 * (-(r2 - 0.15).powi(2) * 200.0).exp()
        } else {
            let sign = if (c + seed).is_multiple_of(3) {
                1.0
            } else {
                -1.0
            };
            0.08 * sign * blob
        }
    })
}

#[test]
fn example_renders() {
    let (_, test) = fastshap::data::embedded().unwrap();
    let k = test.num_classes();
    let picks = [3usize, 57, 120, 260]; // the test split is sorted by class
    let mut phis = Vec::new();
    let mut probs = Vec::new();
    let mut sprobs = Vec::new();
    for (n, &i) in picks.iter().enumerate() {
        let label = test.label(i) as usize;
        let g = if n % 2 == 0 { 4 } else { 8 };
        phis.push(synthetic_phi(g, k, label, n));
        let mut p: Vec<f64> = (0..k)
            .map(|c| {
                if c == label {
                    6.0
                } else {
                    ((c * 5 + n) % 4) as f64 * 0.5
                }
            })
            .collect();
        let z: f64 = p.iter().sum();
        p.iter_mut().for_each(|v| *v /= z);
        sprobs.push(p.iter().map(|v| v * 0.9 + 0.01).collect::<Vec<f64>>());
        probs.push(p);
    }
    let rows: Vec<HeatmapRow> = picks
        .iter()
        .enumerate()
        .map(|(n, &i)| HeatmapRow {
            image: test.image(i),
            phi: &phis[n],
            probs: Some(&probs[n]),
            surrogate_probs: if n < 2 { Some(&sprobs[n]) } else { None },
            title: test.class_name(i).to_string(),
        })
        .collect();
    let opts = HeatmapOptions::new(&test.classes);
    let grid = fastshap::viz::heatmap_grid(&rows, &opts).unwrap();
    let dir = target_dir();
    save_png(&grid, &dir.join("viz-example.png")).unwrap();

    let mut sub = opts.clone();
    sub.class_subset = Some(vec![3, 5]);
    sub.vmax = Some(0.3);
    let a = fastshap::viz::heatmap_grid(&rows[..2], &sub).unwrap();
    let b = fastshap::viz::heatmap_grid(&rows[2..], &sub).unwrap();
    let both = compose(
        "cat vs dog: model A and model B",
        &[("model A", &a), ("model B", &b)],
        Direction::Vertical,
    );
    save_png(&both, &dir.join("viz-compose.png")).unwrap();

    let maps: Vec<Vec<f64>> = (0..2)
        .map(|m| {
            synthetic_phi(8 / (m + 1), 1, 0, m)
                .iter()
                .map(|v| v.max(0.0) + 0.01)
                .collect()
        })
        .collect();
    let rrows: Vec<RolloutRow> = picks[..2]
        .iter()
        .map(|&i| RolloutRow {
            image: test.image(i),
            maps: maps.iter().map(|m| m.as_slice()).collect(),
            title: test.class_name(i).into(),
        })
        .collect();
    let (roll, _) =
        rollout_grid_layout(&rrows, &RolloutOptions::new(&["vit p4", "vit p8"])).unwrap();
    save_png(&roll, &dir.join("viz-rollout.png")).unwrap();

    let opts = PlotOptions {
        title: "Inclusion curve".into(),
        x_label: "fraction of superpixels".into(),
        y_label: "top-1 agreement".into(),
        ..Default::default()
    };
    let svg = line_plot(&curves(), &opts);
    fastshap::io::write_atomic(&dir.join("viz-example.svg"), svg.as_bytes()).unwrap();
    let epochs: Vec<f64> = (1..=40).map(|e| e as f64).collect();
    let loss = |a: f64| {
        epochs
            .iter()
            .map(|e| a * (-e / 12.0).exp() + 0.3 - 0.4)
            .collect::<Vec<f64>>()
    };
    let opts = PlotOptions {
        title: "Surrogate loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        markers: false,
        ..Default::default()
    };
    let svg = line_plot(
        &[
            Series::new("train", epochs.clone(), loss(2.0)),
            Series::new("val", epochs.clone(), loss(2.2)),
        ],
        &opts,
    );
    fastshap::io::write_atomic(&dir.join("viz-loss.svg"), svg.as_bytes()).unwrap();
    let bars = bar_plot(
        &["ViT", "ResNet", "MAE"],
        &[
            BarSeries {
                name: "inclusion AUC".into(),
                values: vec![0.81, 0.64, -0.05],
                intervals: Some(vec![(0.78, 0.84), (0.6, 0.69), (-0.09, 0.0)]),
            },
            BarSeries {
                name: "exclusion AUC".into(),
                values: vec![0.31, 0.42, 0.2],
                intervals: None,
            },
        ],
        &BarOptions {
            title: "Curve AUCs".into(),
            y_label: "AUC".into(),
            ..Default::default()
        },
    );
    fastshap::io::write_atomic(&dir.join("viz-bars.svg"), bars.as_bytes()).unwrap();
    let back = image::open(dir.join("viz-example.png")).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), grid.dimensions());
}

/// The full-resolution overlay keeps the image's size and puts each superpixel's colour on its
/// share of the image: red where φ > 0, blue where φ < 0, the faded image where φ = 0.
#[test]
fn overlay_covers_the_image_at_its_own_resolution() {
    use fastshap::viz::overlay::overlay_full;
    let img = image::RgbImage::from_pixel(90, 60, image::Rgb([100, 100, 100]));
    // 2×2 grid: + at top-left, − at bottom-right, 0 elsewhere.
    let phi = [1.0, 0.0, 0.0, -1.0];
    let out = overlay_full(&img, &phi, 1.0, 0.35).unwrap();
    assert_eq!(out.dimensions(), (90, 60));
    let [r, g, b] = out.get_pixel(10, 10).0;
    assert!(
        r > 200 && g < 50 && b < 120,
        "top-left is red: {:?}",
        (r, g, b)
    );
    let [r, _, b] = out.get_pixel(80, 50).0;
    assert!(b > 200 && r < 50, "bottom-right is blue: {:?}", (r, b));
    let [r, g, b] = out.get_pixel(80, 10).0;
    assert!(
        r == g && g == b,
        "φ = 0 leaves the faded gray image: {:?}",
        (r, g, b)
    );
    // Cell borders fall where the resize to 32×32 puts them: half the width, half the height.
    assert_ne!(out.get_pixel(44, 10), out.get_pixel(45, 10));
    assert!(overlay_full(&img, &[1.0, 2.0, 3.0], 1.0, 0.35).is_err());
}

/// The gallery page escapes names and captions, lists skipped files, references thumbnails as
/// files, and links its neighbouring pages.
#[test]
fn gallery_page_is_escaped_and_lists_skipped_files() {
    use fastshap::viz::gallery::{GalleryItem, PageNav, gallery_page, page_file};
    let items = [GalleryItem {
        name: "0-<cat>".into(),
        caption: vec!["a & b".into()],
        thumbnail: "0-<cat>.thumb.png".into(),
        links: vec![("overlay".into(), "0-<cat>.overlay.png".into())],
    }];
    let skipped = [("x/\"bad\".jpg".to_string(), "not an image".to_string())];
    let first = PageNav {
        number: 1,
        total: Some(3),
        has_next: true,
        suffix: "",
    };
    let html = gallery_page("t", "intro", &items, &skipped, 2, &first);
    assert!(
        html.contains("0-&lt;cat&gt;") && !html.contains("<cat>"),
        "{html}"
    );
    assert!(html.contains("a &amp; b"));
    assert!(html.contains("3 files could not be read") && html.contains("not an image"));
    assert!(html.contains("… and 2 more"));
    assert!(html.contains("src=\"0-&lt;cat&gt;.thumb.png\""), "{html}");
    assert!(html.contains("href=\"gallery-2.html\">next") && html.contains("gallery-3.html"));
    let second = PageNav {
        number: 2,
        total: None,
        has_next: false,
        suffix: ".shard-0-of-2",
    };
    let html = gallery_page("t", "intro", &items, &[], 0, &second);
    assert!(!html.contains("intro") && !html.contains("could not be read"));
    assert!(
        html.contains("href=\"index.shard-0-of-2.html\">previous"),
        "{html}"
    );
    assert!(!html.contains(">next<"));
    assert_eq!(page_file(7, ""), "gallery-7.html");
}
