//! The image-folder loader. An input that already is an archive (gzip or tar) goes to
//! `load_bytes` as is (layout and tar handling); anything else becomes one image file in a
//! `train/<class>/` folder next to a valid test image, so the PNG/JPEG checks get the bytes.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

/// A valid 32×32 8-bit RGB PNG (a seed of the corpus).
fn good_png() -> &'static [u8] {
    static PNG: &[u8] = include_bytes!("../corpus/image_folder/ok_rgb32.png");
    PNG
}

fuzz_target!(|data: &[u8]| {
    let is_archive =
        data.starts_with(&[0x1f, 0x8b]) || (data.len() > 262 && &data[257..262] == b"ustar");
    if is_archive || data.is_empty() {
        let _ = fastshap::data::load_bytes("fuzz", data);
        return;
    }
    let name = if data[0] & 1 == 0 {
        "top/train/cat/x.png"
    } else {
        "top/train/cat/x.jpg"
    };
    let tar = common::tar_of(&[(name, &data[1..]), ("top/test/cat/y.png", good_png())]);
    let _ = fastshap::data::load_bytes("fuzz", &tar);
});
