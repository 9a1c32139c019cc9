//! A 5×8 bitmap font for labels (printable ASCII), kept as readable ASCII art in
//! `font5x8.txt` so no system font and no font crate is needed. Glyphs scale by pixel
//! replication, which keeps them crisp in PNGs.

use image::{Rgb, RgbImage};
use std::sync::OnceLock;

pub const GLYPH_W: u32 = 5;
pub const GLYPH_H: u32 = 8;
/// Horizontal advance per character (one blank column between glyphs), before scaling.
pub const ADVANCE: u32 = GLYPH_W + 1;

/// Row bitmaps of the 95 printable ASCII characters (bit 4 = leftmost column).
fn glyphs() -> &'static [[u8; 8]; 95] {
    static GLYPHS: OnceLock<[[u8; 8]; 95]> = OnceLock::new();
    GLYPHS.get_or_init(|| {
        let mut out = [[0u8; 8]; 95];
        let mut seen = [false; 95];
        let mut cur: Option<usize> = None;
        let mut row = 0;
        for line in include_str!("font5x8.txt").lines() {
            if line.is_empty() || (line.starts_with('#') && line.len() != GLYPH_W as usize) {
                continue; // blank line or comment
            }
            if let Some(name) = line.strip_prefix('=') {
                let c = if name == "space" {
                    ' '
                } else {
                    let mut it = name.chars();
                    let c = it.next().expect("font: empty glyph name");
                    assert!(it.next().is_none(), "font: bad glyph name {name:?}");
                    c
                };
                let i = c as usize - 32;
                assert!(!seen[i], "font: {c:?} defined twice");
                seen[i] = true;
                cur = Some(i);
                row = 0;
                continue;
            }
            let i = cur.expect("font: rows before the first glyph name");
            assert!(
                row < 8 && line.len() == GLYPH_W as usize,
                "font: bad row {line:?}"
            );
            out[i][row] = line
                .bytes()
                .fold(0u8, |acc, b| (acc << 1) | (b == b'#') as u8);
            row += 1;
        }
        assert!(seen.iter().all(|&s| s), "font: missing glyphs");
        out
    })
}

/// The glyph rows for `c`; characters outside printable ASCII map to look-alikes (the Unicode
/// minus and φ, which labels use) or an open box.
fn glyph(c: char) -> [u8; 8] {
    let c = match c {
        '−' | '–' => '-',
        '·' | '×' => '*',
        c => c,
    };
    if (' '..='~').contains(&c) {
        glyphs()[c as usize - 32]
    } else {
        [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F, 0]
    }
}

/// Width in pixels of `text` at `scale`, without the trailing blank column.
pub fn text_width(text: &str, scale: u32) -> u32 {
    let n = text.chars().count() as u32;
    (n * ADVANCE).saturating_sub(1) * scale
}

pub fn text_height(scale: u32) -> u32 {
    GLYPH_H * scale
}

/// Draws `text` with its top-left corner at (x, y); pixels outside the image are clipped.
/// `bold` draws every glyph a second time one scaled pixel to the right.
pub fn draw_text(
    img: &mut RgbImage,
    x: i64,
    y: i64,
    text: &str,
    scale: u32,
    color: Rgb<u8>,
    bold: bool,
) {
    let s = scale as i64;
    for (ci, c) in text.chars().enumerate() {
        let g = glyph(c);
        let gx = x + ci as i64 * (ADVANCE as i64) * s;
        for (r, bits) in g.iter().enumerate() {
            for col in 0..GLYPH_W as i64 {
                if bits >> (GLYPH_W as i64 - 1 - col) & 1 == 0 {
                    continue;
                }
                let passes = if bold { 2 } else { 1 };
                for b in 0..passes {
                    let px = gx + (col + b) * s;
                    fill_rect(img, px, y + r as i64 * s, s, s, color);
                }
            }
        }
    }
}

/// Fills a rectangle, clipped to the image.
pub fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: Rgb<u8>) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    for yy in y.max(0)..(y + h).min(ih) {
        for xx in x.max(0)..(x + w).min(iw) {
            img.put_pixel(xx as u32, yy as u32, color);
        }
    }
}
