//! The CIFAR-10 data layer: readers (binary release, image folders, tar.gz), bad-data messages,
//! the cache, the embedded subset, augmentation and the loader. CPU only.

use fastshap::data::{
    self, Augment, CIFAR10_CLASSES, Dataset, IMAGE_BYTES, Loader, LoaderConfig, SIDE, augment,
    autoaugment, cache,
};
use image::{ImageBuffer, ImageFormat, Rgb};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn embedded() -> (Dataset, Dataset) {
    data::embedded().unwrap()
}

fn err_of<T>(r: anyhow::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} should mention {p:?}");
    }
}

/// A .tar.gz of everything under `dir`, inside a top folder `top`.
fn tar_gz(dir: &Path, top: &str, out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        f,
        flate2::Compression::fast(),
    ));
    b.append_dir_all(top, dir).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

// ---------------------------------------------------------------- embedded subset

#[test]
fn embedded_subset_is_balanced() {
    let (train, test) = embedded();
    assert_eq!((train.len(), test.len()), (2000, 500));
    assert_eq!(train.class_counts(), vec![200; 10]);
    assert_eq!(test.class_counts(), vec![50; 10]);
    assert_eq!(train.classes, CIFAR10_CLASSES.map(String::from).to_vec());
    assert_eq!(train.images.len(), 2000 * IMAGE_BYTES);
    assert_eq!(train.class_name(0), "airplane");
    // Real photographs, not blank data: plenty of distinct values per image.
    let distinct: HashSet<u8> = train.image(1234).iter().copied().collect();
    assert!(distinct.len() > 50);
}

/// The full archive (if this checkout has ../shared/data) loads with the right counts, the
/// embedded subset is its balanced subset, and the cache makes the second load fast.
#[test]
fn full_archive_loads_caches_and_contains_the_subset() {
    // $FASTSHAP_CIFAR10 overrides where the full archive is (e.g. from a worktree).
    let src = std::env::var_os("FASTSHAP_CIFAR10").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar10-jpeg.tar.gz"),
        PathBuf::from,
    );
    if !src.exists() {
        eprintln!("skipped: {} not present", src.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let (train, test) = cache::load_cached(&src, tmp.path()).unwrap();
    let first = t.elapsed();
    let t = std::time::Instant::now();
    let (train2, test2) = cache::load_cached(&src, tmp.path()).unwrap();
    let cached = t.elapsed();
    eprintln!(
        "full CIFAR-10: first load (tar.gz + decode + cache write) {first:?}, cached {cached:?}"
    );
    assert_eq!((train.len(), test.len()), (50000, 10000));
    assert_eq!(train.class_counts(), vec![5000; 10]);
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert!(train == train2 && test == test2);
    let (etrain, etest) = embedded();
    assert!(train.balanced_subset(200).unwrap() == etrain);
    assert!(test.balanced_subset(50).unwrap() == etest);
}

// ---------------------------------------------------------------- official binary format

fn write_bin_release(dir: &Path, train: &Dataset, test: &Dataset) {
    std::fs::create_dir_all(dir).unwrap();
    let half = train.len() / 2;
    let parts = [
        train.select(&(0..half).collect::<Vec<_>>()),
        train.select(&(half..train.len()).collect::<Vec<_>>()),
    ];
    for (i, p) in parts.iter().enumerate() {
        std::fs::write(
            dir.join(format!("data_batch_{}.bin", i + 1)),
            data::encode_batch(p),
        )
        .unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), data::encode_batch(test)).unwrap();
    std::fs::write(
        dir.join("batches.meta.txt"),
        CIFAR10_CLASSES.join("\n") + "\n\n",
    )
    .unwrap();
}

fn small_subset() -> (Dataset, Dataset) {
    let (train, test) = embedded();
    (
        train.select(&(0..2000).step_by(37).collect::<Vec<_>>()),
        test.select(&(0..500).step_by(41).collect::<Vec<_>>()),
    )
}

#[test]
fn binary_release_from_dir_parent_and_tar_gz() {
    let (train, test) = small_subset();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("cifar-10-batches-bin");
    write_bin_release(&bin, &train, &test);
    for path in [bin.clone(), tmp.path().to_path_buf()] {
        let (tr, te) = data::load_uncached(&path).unwrap();
        assert!(tr == train && te == test, "{}", path.display());
    }
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    tar_gz(&bin, "cifar-10-batches-bin", &archive);
    let (tr, te) = data::load_uncached(&archive).unwrap();
    assert!(tr == train && te == test);
}

#[test]
fn binary_release_bad_data_is_named() {
    let (train, test) = small_subset();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let batch = data::encode_batch(&test);

    write_bin_release(&dir, &train, &test);
    std::fs::write(dir.join("test_batch.bin"), &batch[..batch.len() - 1]).unwrap();
    let msg = err_of(data::load_uncached(&dir));
    assert_mentions(
        &msg,
        &["test_batch.bin", "not a multiple of 3073", "truncated"],
    );

    let mut big = batch.clone();
    big.extend_from_slice(&[7; 5]);
    std::fs::write(dir.join("test_batch.bin"), &big).unwrap();
    let msg = err_of(data::load_uncached(&dir));
    assert_mentions(
        &msg,
        &[
            "test_batch.bin",
            "not a multiple of 3073",
            "oversized",
            "+ 5 bytes",
        ],
    );

    let mut bad = batch.clone();
    bad[3 * 3073] = 10;
    std::fs::write(dir.join("test_batch.bin"), &bad).unwrap();
    let msg = err_of(data::load_uncached(&dir));
    assert_mentions(&msg, &["test_batch.bin", "record 3 has label 10"]);

    // The same problem found inside an archive names the archive and the member.
    let archive = tmp.path().join("bad.tar.gz");
    tar_gz(&dir, "cifar-10-batches-bin", &archive);
    let msg = err_of(data::load_uncached(&archive));
    assert_mentions(
        &msg,
        &[
            "bad.tar.gz:cifar-10-batches-bin/test_batch.bin",
            "record 3 has label 10",
        ],
    );

    std::fs::remove_file(dir.join("test_batch.bin")).unwrap();
    assert_mentions(&err_of(data::load_uncached(&dir)), &["no test_batch.bin"]);
}

#[test]
fn unknown_source_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    assert_mentions(
        &err_of(data::load_uncached(tmp.path())),
        &["not a CIFAR-10 directory"],
    );
    let f = tmp.path().join("x.bin");
    std::fs::write(&f, b"hello").unwrap();
    assert_mentions(
        &err_of(data::load_uncached(&f)),
        &["x.bin", "not a CIFAR-10 source"],
    );
    assert_mentions(
        &err_of(data::load_uncached(&tmp.path().join("missing"))),
        &["missing"],
    );
}

// ---------------------------------------------------------------- image folders

/// CHW image with distinct values per channel and position.
fn pattern(seed: u8) -> Vec<u8> {
    (0..IMAGE_BYTES)
        .map(|i| {
            (i as u8)
                .wrapping_mul(7)
                .wrapping_add(seed.wrapping_mul(31))
        })
        .collect()
}

fn hwc(chw: &[u8]) -> Vec<u8> {
    let n = SIDE * SIDE;
    (0..n)
        .flat_map(|p| [chw[p], chw[n + p], chw[2 * n + p]])
        .collect()
}

fn encode(chw: &[u8], fmt: ImageFormat) -> Vec<u8> {
    let img = ImageBuffer::<Rgb<u8>, _>::from_raw(32, 32, hwc(chw)).unwrap();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, fmt).unwrap();
    out.into_inner()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A good image-folder tree: classes "b_dog", "a_cat" (sorted → a_cat = 0), PNG and JPEG.
fn good_tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut pngs = Vec::new();
    for (k, (split, class, name)) in [
        ("train", "b_dog", "2.png"),
        ("train", "b_dog", "1.png"),
        ("train", "a_cat", "x.png"),
        ("test", "a_cat", "t.png"),
        ("test", "b_dog", "u.png"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = root.join(split).join(class).join(name);
        let img = pattern(k as u8);
        write(&p, &encode(&img, ImageFormat::Png));
        pngs.push((p, img));
    }
    write(
        &root.join("train/a_cat/y.JPG"),
        &encode(&pattern(9), ImageFormat::Jpeg),
    );
    write(&root.join("train/a_cat/notes.txt"), b"ignored");
    pngs
}

#[test]
fn image_folders_from_dir_and_tar_gz() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imgs");
    good_tree(&root);
    let (train, test) = data::load_uncached(&root).unwrap();
    assert_eq!(train.classes, vec!["a_cat", "b_dog"]);
    // Order: class, then file name: a_cat/x.png, a_cat/y.JPG, b_dog/1.png, b_dog/2.png.
    assert_eq!(train.labels, vec![0, 0, 1, 1]);
    assert_eq!(train.image(0), &pattern(2)[..], "PNG is lossless");
    assert_eq!(train.image(2), &pattern(1)[..]);
    assert_eq!(train.image(3), &pattern(0)[..]);
    // JPEG is lossy: close, not equal.
    let err: f64 = train
        .image(1)
        .iter()
        .zip(pattern(9))
        .map(|(&a, b)| (a as f64 - b as f64).abs())
        .sum::<f64>()
        / IMAGE_BYTES as f64;
    assert!(err < 40.0, "mean abs JPEG error {err}");
    assert_eq!(test.labels, vec![0, 1]);
    assert_eq!(test.image(1), &pattern(4)[..]);

    let archive = tmp.path().join("imgs.tar.gz");
    tar_gz(&root, "some/top", &archive);
    let (tr, te) = data::load_uncached(&archive).unwrap();
    assert!(tr == train && te == test);
}

fn png_of<P: image::Pixel<Subpixel = S> + image::PixelWithColorType, S: image::Primitive>(
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

#[test]
fn image_folder_bad_data_is_named() {
    use image::{Luma, Rgba};
    let bad_files: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "train/a_cat/broken.jpg",
            b"\xff\xd8\xff\xe0 not really a jpeg".to_vec(),
            vec!["corrupt", "JPEG"],
        ),
        (
            "train/a_cat/gray.png",
            png_of::<Luma<u8>, u8>(32, 32, 9),
            vec!["PNG is 8-bit grayscale", "only 8-bit RGB"],
        ),
        (
            "test/b_dog/alpha.png",
            png_of::<Rgba<u8>, u8>(32, 32, 9),
            vec!["RGBA", "refused rather than converted"],
        ),
        (
            "train/b_dog/deep.png",
            png_of::<Rgb<u16>, u16>(32, 32, 999),
            vec!["16-bit RGB"],
        ),
        (
            "train/b_dog/big.png",
            png_of::<Rgb<u8>, u8>(33, 30, 9),
            vec!["33x30", "expected 32x32"],
        ),
    ];
    for (rel, bytes, words) in bad_files {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("imgs");
        good_tree(&root);
        write(&root.join(rel), &bytes);
        let msg = err_of(data::load_uncached(&root));
        let file = rel.rsplit('/').next().unwrap();
        assert_mentions(&msg, &words);
        assert!(
            msg.contains(&root.join(rel).display().to_string()),
            "{msg:?} should name {rel}"
        );
        // From a tar.gz the message names the archive and the member.
        let archive = tmp.path().join("imgs.tar.gz");
        tar_gz(&root, "top", &archive);
        let msg = err_of(data::load_uncached(&archive));
        assert_mentions(&msg, &words);
        assert_mentions(&msg, &["imgs.tar.gz:top/", file]);
    }
}

#[test]
fn image_folder_bad_layout_is_named() {
    // Class folder with no images (only a non-image file), in a directory and in a tar.gz.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imgs");
    good_tree(&root);
    write(&root.join("test/c_owl/readme.txt"), b"no images here");
    write(
        &root.join("train/c_owl/0.png"),
        &encode(&pattern(3), ImageFormat::Png),
    );
    let msg = err_of(data::load_uncached(&root));
    assert_mentions(&msg, &["class folder test/c_owl has no images"]);
    let archive = tmp.path().join("imgs.tar.gz");
    tar_gz(&root, "top", &archive);
    assert_mentions(
        &err_of(data::load_uncached(&archive)),
        &["class folder top/test/c_owl has no images"],
    );

    // Classes that differ between train and test.
    std::fs::remove_dir_all(root.join("test/c_owl")).unwrap();
    assert_mentions(
        &err_of(data::load_uncached(&root)),
        &["different classes", "c_owl"],
    );

    // An empty image folder: train/ and test/ with no class folders.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("train")).unwrap();
    std::fs::create_dir_all(empty.join("test")).unwrap();
    assert_mentions(
        &err_of(data::load_uncached(&empty)),
        &["empty", "train/", "no class folders"],
    );
    let archive = tmp.path().join("empty.tar.gz");
    tar_gz(&empty, "e", &archive);
    assert_mentions(
        &err_of(data::load_uncached(&archive)),
        &["empty.tar.gz", "train/", "no class folders"],
    );
}

// ---------------------------------------------------------------- cache

#[test]
fn cache_round_trip_and_rebuild() {
    let (train, test) = small_subset();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("cifar-10-batches-bin");
    write_bin_release(&src, &train, &test);
    let dir = tmp.path().join("cache");
    let load = || cache::load_cached(&src, &dir).unwrap();

    assert!(load() == (train.clone(), test.clone()));
    let file = cache::cache_file(&dir, &src).unwrap();
    let good = std::fs::read(&file).unwrap();
    assert!(cache::decode("c", &good).unwrap() == (train.clone(), test.clone()));
    assert!(
        load() == (train.clone(), test.clone()),
        "second load from cache"
    );
    // The compact file is itself a loadable source.
    assert!(data::load_uncached(&file).unwrap() == (train.clone(), test.clone()));

    // A flipped payload byte fails the checksum; the cache is rebuilt.
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    assert_mentions(
        &err_of(cache::decode("c.fsds", &bad)),
        &["c.fsds", "checksum"],
    );
    std::fs::write(&file, &bad).unwrap();
    assert!(load() == (train.clone(), test.clone()));
    assert_eq!(std::fs::read(&file).unwrap(), good, "rebuilt");

    // A truncated cache is rebuilt too.
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    assert_mentions(&err_of(cache::decode("c", &good[..100])), &["truncated"]);
    assert!(load() == (train.clone(), test.clone()));
    assert_eq!(std::fs::read(&file).unwrap(), good);

    // A changed source no longer matches its cache key: reloaded, not served stale.
    let fewer = test.select(&[0, 1, 2]);
    std::fs::write(src.join("test_batch.bin"), data::encode_batch(&fewer)).unwrap();
    let (_, te) = load();
    assert!(te == fewer);
    assert!(
        cache::decode("c", &std::fs::read(&file).unwrap())
            .unwrap()
            .1
            == fewer
    );
}

// ---------------------------------------------------------------- normalisation, augmentation

#[test]
fn batch_normalises_per_channel() {
    let (_, test) = embedded();
    let (x, y) = test.batch(&[7, 3]);
    assert_eq!(x.len(), 2 * IMAGE_BYTES);
    assert_eq!(y, vec![test.labels[7] as u32, test.labels[3] as u32]);
    for (k, &i) in [7usize, 3].iter().enumerate() {
        for (j, &px) in test.image(i).iter().enumerate() {
            let c = j / (SIDE * SIDE);
            let want = (px as f32 / 255.0 - data::MEAN[c]) / data::STD[c];
            assert!((x[k * IMAGE_BYTES + j] - want).abs() < 1e-5);
        }
    }
}

#[test]
fn crop_and_flip_do_what_they_say() {
    let img = pattern(5);
    let at = |im: &[u8], c: usize, y: usize, x: usize| im[(c * SIDE + y) * SIDE + x];

    let mut same = img.clone();
    augment::crop(&mut same, 4, 4, 4);
    assert_eq!(same, img, "centred crop is the identity");

    // Window at the padded image's top-left: content moves down-right by 4, zeros above/left.
    let mut c = img.clone();
    augment::crop(&mut c, 4, 0, 0);
    for ch in 0..3 {
        for y in 0..SIDE {
            for x in 0..SIDE {
                let want = if y < 4 || x < 4 {
                    0
                } else {
                    at(&img, ch, y - 4, x - 4)
                };
                assert_eq!(at(&c, ch, y, x), want);
            }
        }
    }
    // Window at the bottom-right, offset (8, 6): content moves up by 4 and left by 2.
    let mut c = img.clone();
    augment::crop(&mut c, 4, 8, 6);
    assert_eq!(at(&c, 1, 0, 0), at(&img, 1, 4, 2));
    assert_eq!(at(&c, 2, 27, 29), at(&img, 2, 31, 31));
    assert_eq!(at(&c, 0, 28, 5), 0);
    assert_eq!(at(&c, 0, 5, 30), 0);

    let mut f = img.clone();
    augment::hflip(&mut f);
    for ch in 0..3 {
        for y in 0..SIDE {
            for x in 0..SIDE {
                assert_eq!(at(&f, ch, y, x), at(&img, ch, y, SIDE - 1 - x));
            }
        }
    }

    // A STANDARD augmentation is always one of the 81 crops, flipped or not; all 162 outcomes
    // are reachable, and both flips occur.
    let mut outcomes = HashSet::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for _ in 0..3000 {
        let mut a = img.clone();
        Augment::STANDARD.apply(&mut a, &mut rng);
        let found = (0..9)
            .flat_map(|t| (0..9).flat_map(move |l| [(t, l, false), (t, l, true)]))
            .find(|&(t, l, fl)| {
                let mut b = img.clone();
                augment::crop(&mut b, 4, t, l);
                if fl {
                    augment::hflip(&mut b);
                }
                b == a
            });
        outcomes.insert(found.expect("not a crop/flip of the input"));
    }
    assert_eq!(outcomes.len(), 162);
}

#[test]
fn augmentation_is_deterministic_per_seed() {
    let (train, _) = embedded();
    let idx: Vec<usize> = (0..64).map(|i| i * 31).collect();
    let run = |seed| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        train.batch_augmented(&idx, &Augment::AUTOAUGMENT, &mut rng)
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3).0, run(4).0);
    assert_eq!(run(3).1, train.batch(&idx).1, "labels untouched");
    assert_ne!(run(3).0, train.batch(&idx).0);
}

// ---------------------------------------------------------------- AutoAugment ops

fn apply(img: &[u8], op: autoaugment::Op, m: f64) -> Vec<u8> {
    let mut out = img.to_vec();
    autoaugment::apply_op(&mut out, op, m);
    out
}

#[test]
fn autoaugment_policy_and_bins() {
    use autoaugment::{CIFAR10_POLICY, Op::*, magnitude};
    assert_eq!(CIFAR10_POLICY.len(), 25);
    assert_eq!(
        CIFAR10_POLICY[1],
        [(Rotate, 0.7, Some(2)), (TranslateX, 0.3, Some(9))]
    );
    assert_eq!(
        CIFAR10_POLICY[22],
        [(AutoContrast, 0.9, None), (Solarize, 0.8, Some(3))]
    );
    let post: Vec<f64> = (0..10).map(|b| magnitude(Posterize, b).0).collect();
    assert_eq!(post, vec![8.0, 8.0, 7.0, 7.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0]);
    assert!((magnitude(TranslateX, 9).0 - 150.0 / 331.0 * 32.0).abs() < 1e-12);
    assert_eq!(magnitude(Solarize, 0), (255.0, false));
    assert_eq!(magnitude(Rotate, 3), (10.0, true));
    assert!((magnitude(Sharpness, 9).0 - 0.9).abs() < 1e-12);
}

#[test]
fn autoaugment_ops_on_known_images() {
    use autoaugment::Op::*;
    let img = pattern(11);
    let at = |im: &[u8], c: usize, y: usize, x: usize| im[(c * SIDE + y) * SIDE + x];
    // Identity settings.
    for (op, m) in [
        (ShearX, 0.0),
        (ShearY, 0.0),
        (TranslateX, 0.0),
        (Rotate, 0.0),
        (Brightness, 0.0),
        (Color, 0.0),
        (Contrast, 0.0),
        (Sharpness, 0.0),
        (Posterize, 8.0),
        (Solarize, 256.0),
    ] {
        assert_eq!(apply(&img, op, m), img, "{op:?}");
    }
    assert_eq!(apply(&apply(&img, Invert, 0.0), Invert, 0.0), img);
    assert_eq!(apply(&img, Invert, 0.0)[5], 255 - img[5]);

    // Translate by +3.7 moves right by 3 (int() truncation), zero fill.
    let t = apply(&img, TranslateX, 3.7);
    assert_eq!(at(&t, 1, 9, 10), at(&img, 1, 9, 7));
    assert_eq!(at(&t, 1, 9, 2), 0);
    let t = apply(&img, TranslateY, -5.0);
    assert_eq!(at(&t, 2, 10, 4), at(&img, 2, 15, 4));
    assert_eq!(at(&t, 2, 28, 4), 0);

    // Rotate +90° is counter-clockwise: the top-left pixel goes to the bottom-left.
    let r = apply(&img, Rotate, 90.0);
    for (y, x) in [(0, 0), (3, 17), (31, 8)] {
        assert_eq!(at(&r, 0, 31 - x, y), at(&img, 0, y, x));
    }
    // ShearX about the top-left corner: row i shifts by m·(i + 0.5), rounded.
    let s = apply(&img, ShearX, 0.3);
    assert_eq!(at(&s, 0, 0, 10), at(&img, 0, 0, 10));
    assert_eq!(at(&s, 0, 20, 10), at(&img, 0, 20, 16)); // 10 + 0.3·20.5 = 16.15
    assert_eq!(at(&s, 0, 31, 30), 0); // 30 + 9.45 is outside
    let s = apply(&img, ShearY, -0.3);
    assert_eq!(at(&s, 0, 20, 10), at(&img, 0, 17, 10)); // 20 − 0.3·10.5 = 16.85

    // Posterize 5 bits keeps the top 5; solarize inverts pixels at or above the threshold.
    assert!(
        apply(&img, Posterize, 5.0)
            .iter()
            .zip(&img)
            .all(|(&a, &b)| a == b & 0xf8)
    );
    assert!(
        apply(&img, Solarize, 128.0)
            .iter()
            .zip(&img)
            .all(|(&a, &b)| a == if b >= 128 { 255 - b } else { b })
    );

    // Brightness 0.5 halves (truncating); Contrast blends with the mean gray.
    assert!(
        apply(&img, Brightness, -0.5)
            .iter()
            .zip(&img)
            .all(|(&a, &b)| a == b / 2)
    );
    let flat: Vec<u8> = vec![100; IMAGE_BYTES];
    assert_eq!(apply(&flat, Contrast, 0.9), flat);
    assert_eq!(apply(&flat, Sharpness, 0.9), flat);
    assert_eq!(
        apply(&flat, Color, -0.9)[0],
        99,
        "gray of (100,100,100) is 99.99 truncated"
    );

    // AutoContrast stretches each channel to [0, 255].
    let narrow: Vec<u8> = (0..IMAGE_BYTES).map(|i| 100 + (i % 51) as u8).collect();
    let ac = apply(&narrow, AutoContrast, 0.0);
    for c in 0..3 {
        let p = &ac[c * 1024..(c + 1) * 1024];
        assert_eq!(
            (*p.iter().min().unwrap(), *p.iter().max().unwrap()),
            (0, 255)
        );
    }
    // Equalize flattens a skewed histogram: values spread over the range, order kept.
    let skewed: Vec<u8> = (0..IMAGE_BYTES).map(|i| ((i % 1024) / 64) as u8).collect();
    let eq = apply(&skewed, Equalize, 0.0);
    assert_eq!(eq[0], 0);
    assert!(eq[1023] > 230, "{}", eq[1023]);
    assert!(eq[..1024].windows(2).all(|w| w[0] <= w[1]));
    // Sharpness at factor 0 is the blur: interior of a single bright pixel becomes 13ths.
    let mut dot = vec![0u8; IMAGE_BYTES];
    dot[10 * SIDE + 10] = 130;
    let b = apply(&dot, Sharpness, -1.0);
    assert_eq!((b[10 * SIDE + 10], b[10 * SIDE + 11], b[0]), (50, 10, 0));
}

// ---------------------------------------------------------------- loader

#[test]
fn loader_yields_every_index_once_per_epoch_and_resumes() {
    let (_, test) = embedded();
    let n = test.len();
    let data = Arc::new(test);
    let mut cfg = LoaderConfig::new(64, 7);
    cfg.augment = Augment::AUTOAUGMENT;
    let mut loader = Loader::new(data.clone(), cfg).unwrap();
    assert_eq!(loader.batches_per_epoch(), 8); // 7 × 64 + 52
    let mut orders = Vec::new();
    let mut all = Vec::new();
    for epoch in 0..2u64 {
        let mut seen = Vec::new();
        for (b, batch) in loader.epoch().enumerate() {
            assert_eq!((batch.epoch, batch.batch), (epoch, b));
            assert_eq!(batch.images.len(), batch.len() * IMAGE_BYTES);
            let want: Vec<u32> = batch
                .indices
                .iter()
                .map(|&i| data.labels[i] as u32)
                .collect();
            assert_eq!(batch.labels, want);
            seen.extend(batch.indices.iter().copied());
            all.push(batch);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (0..n).collect::<Vec<_>>(),
            "every index once in epoch {epoch}"
        );
        orders.push(seen);
    }
    assert_ne!(orders[0], orders[1], "reshuffled per epoch");
    assert_ne!(orders[0], (0..n).collect::<Vec<_>>());

    // Resume mid-epoch from a saved state: identical batches, augmentation included.
    let mut first = Loader::new(data.clone(), cfg).unwrap();
    for _ in 0..11 {
        first.next_batch();
    }
    let state = first.state();
    assert_eq!((state.epoch, state.batch), (1, 3));
    drop(first);
    let mut resumed = Loader::resume(data.clone(), cfg, state).unwrap();
    for want in &all[11..] {
        let got = resumed.next_batch();
        assert_eq!(
            (got.epoch, got.batch, &got.indices),
            (want.epoch, want.batch, &want.indices)
        );
        assert_eq!(got.images, want.images);
    }

    // drop_last and no shuffle.
    let mut cfg = LoaderConfig::new(64, 7);
    cfg.drop_last = true;
    cfg.shuffle = false;
    let mut l = Loader::new(data.clone(), cfg).unwrap();
    assert_eq!(l.batches_per_epoch(), 7);
    let b = l.next_batch();
    assert_eq!(b.indices, (0..64).collect::<Vec<_>>());
    assert_eq!(b.images, data.batch(&b.indices).0);
    assert!(Loader::new(data.clone(), LoaderConfig::new(0, 1)).is_err());
}
