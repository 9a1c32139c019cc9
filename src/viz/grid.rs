//! The raster layout shared by the Shapley and rollout grids: rows of panels (an image, or an
//! image with a superpixel overlay), two label lines above each panel, an optional box around
//! the highlighted panel and a vertical colour bar at the end of each row. Also the composition
//! of finished grids under titles.

use super::color::{self, ColorMap};
use super::font::{draw_text, fill_rect, text_height, text_width};
use anyhow::{Result, bail};
use image::{Rgb, RgbImage};

pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
pub const INK: Rgb<u8> = Rgb([25, 25, 25]);
const MUTED: Rgb<u8> = Rgb([90, 90, 90]);
/// Gap between panels and around the grid.
const PAD: u32 = 10;
const BAR_W: u32 = 14;

pub(crate) struct Panel<'a> {
    /// uint8 CHW RGB, 3·S·S bytes.
    pub image: &'a [u8],
    /// g·g values, row-major over a g×g grid of equal blocks, drawn with the row's scale.
    pub overlay: Option<Vec<f64>>,
    /// Two label lines; line 0 is bold and underlined when `highlight`.
    pub lines: [String; 2],
    pub highlight: bool,
}

pub(crate) struct Row<'a> {
    pub panels: Vec<Panel<'a>>,
    pub cmap: ColorMap,
    pub vmax: f64,
}

pub(crate) struct Style {
    pub scale: u32,
    pub background_alpha: f64,
    pub colorbar: bool,
    pub colorbar_caption: String,
}

/// Side S of a uint8 CHW RGB image of 3·S² bytes.
pub(crate) fn image_side(image: &[u8]) -> Result<usize> {
    let s = ((image.len() / 3) as f64).sqrt().round() as usize;
    if s == 0 || 3 * s * s != image.len() {
        bail!("image: need 3·S·S bytes (CHW RGB), got {}", image.len());
    }
    Ok(s)
}

/// Side g of a g×g map.
pub(crate) fn map_side(values: &[f64], what: &str) -> Result<usize> {
    let g = (values.len() as f64).sqrt().round() as usize;
    if g == 0 || g * g != values.len() {
        bail!(
            "{what}: need g·g values for a square grid, got {}",
            values.len()
        );
    }
    Ok(g)
}

/// Compact numbers for labels: three significant digits, scientific below 0.01.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a < 1.0 {
        format!("{v:.3}")
    } else if a < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// The largest label scale (2, else 1) at which every text fits in `width` pixels.
fn fit_scale<'a>(texts: impl Iterator<Item = &'a String> + Clone, width: u32) -> u32 {
    if texts.clone().all(|t| text_width(t, 2) <= width) {
        2
    } else {
        1
    }
}

fn draw_panel(
    img: &mut RgbImage,
    x0: u32,
    y0: u32,
    p: &Panel,
    row: &Row,
    style: &Style,
) -> Result<()> {
    let side = image_side(p.image)?;
    let plane = side * side;
    let g = match &p.overlay {
        Some(v) => map_side(v, "overlay")?,
        None => 0,
    };
    let sc = style.scale as usize;
    for y in 0..side {
        for x in 0..side {
            let (r, gr, b) = (
                p.image[y * side + x],
                p.image[plane + y * side + x],
                p.image[2 * plane + y * side + x],
            );
            let px = match &p.overlay {
                None => Rgb([r, gr, b]),
                Some(v) => {
                    // Nearest-neighbour upsampling: pixel (y, x) belongs to block (y·g/S, x·g/S).
                    let value = v[(y * g / side) * g + x * g / side];
                    let base = color::faded(color::gray(r, gr, b), style.background_alpha);
                    let (c, a) = row.cmap.rgba(value, row.vmax);
                    color::blend(base, c, a)
                }
            };
            for dy in 0..sc {
                for dx in 0..sc {
                    img.put_pixel(x0 + (x * sc + dx) as u32, y0 + (y * sc + dy) as u32, px);
                }
            }
        }
    }
    Ok(())
}

/// Vertical colour bar of height `h` at (x, y): +vmax at the top, vmin at the bottom, with the
/// end values and 0 written beside it.
fn draw_colorbar(img: &mut RgbImage, x: u32, y: u32, h: u32, row: &Row, ts: u32) {
    let vmin = row.cmap.vmin(row.vmax);
    for yy in 0..h {
        let v = row.vmax - (row.vmax - vmin) * (yy as f64 + 0.5) / h as f64;
        let (c, a) = row.cmap.rgba(v, row.vmax);
        let px = color::blend(255.0, c, a);
        fill_rect(img, x as i64, (y + yy) as i64, BAR_W as i64, 1, px);
    }
    // A thin frame so the transparent middle of the bar still reads as a bar.
    let (xi, yi, hi, wi) = (x as i64, y as i64, h as i64, BAR_W as i64);
    for (rx, ry, rw, rh) in [
        (xi, yi, wi, 1),
        (xi, yi + hi - 1, wi, 1),
        (xi, yi, 1, hi),
        (xi + wi - 1, yi, 1, hi),
    ] {
        fill_rect(img, rx, ry, rw, rh, MUTED);
    }
    let th = text_height(ts) as i64;
    let tx = (x + BAR_W + 4) as i64;
    let top = if row.cmap == ColorMap::Diverging {
        format!("+{}", format_value(row.vmax))
    } else {
        format_value(row.vmax)
    };
    draw_text(img, tx, yi, &top, ts, INK, false);
    draw_text(img, tx, yi + hi - th, &format_value(vmin), ts, INK, false);
    if row.cmap == ColorMap::Diverging {
        draw_text(img, tx, yi + (hi - th) / 2, "0", ts, INK, false);
    }
}

fn colorbar_labels(row: &Row) -> Vec<String> {
    vec![
        format!("+{}", format_value(row.vmax)),
        format_value(row.cmap.vmin(row.vmax)),
    ]
}

/// Where things landed in a rendered grid, in pixels (for tests and for callers that annotate
/// or crop the image).
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Side of a square panel.
    pub panel_size: u32,
    /// Per row, per panel: top-left corner of the panel (column 0 is the plain image).
    pub panels: Vec<Vec<(u32, u32)>>,
    /// Per row: top-left of the label area above the panels and its height.
    pub labels: Vec<(u32, u32, u32)>,
    /// Per row: the colour bar as (x, y, width, height), if drawn.
    pub colorbars: Vec<(u32, u32, u32, u32)>,
}

pub(crate) fn render(rows: &[Row], style: &Style) -> Result<(RgbImage, Layout)> {
    if rows.is_empty() || rows.iter().any(|r| r.panels.is_empty()) {
        bail!("grid: need at least one row with at least one panel");
    }
    let side = image_side(rows[0].panels[0].image)?;
    for p in rows.iter().flat_map(|r| &r.panels) {
        if image_side(p.image)? != side {
            bail!(
                "grid: images differ in size ({} vs {} bytes)",
                p.image.len(),
                3 * side * side
            );
        }
    }
    let ps = side as u32 * style.scale;
    let ncols = rows.iter().map(|r| r.panels.len()).max().unwrap_or(0) as u32;
    // Label scales per line, chosen separately for the plain images (long titles) and the
    // map panels (class names), so one long title does not shrink every label.
    let lines = |i: usize, kind: bool| {
        rows.iter()
            .flat_map(|r| &r.panels)
            .filter(move |p| p.overlay.is_some() == kind)
            .map(move |p| &p.lines[i])
    };
    let ls = |kind: bool| [fit_scale(lines(0, kind), ps), fit_scale(lines(1, kind), ps)];
    let ls = [ls(false), ls(true)];
    let line_h = |i: usize| {
        let used = [false, true]
            .iter()
            .any(|&k| lines(i, k).any(|t| !t.is_empty()));
        if used {
            text_height(ls[0][i].max(ls[1][i]))
        } else {
            0
        }
    };
    // Room below line 0 for the predicted class's underline.
    let line_y1 = if line_h(0) > 0 { line_h(0) + 7 } else { 0 };
    let label_h = line_y1 + if line_h(1) > 0 { line_h(1) + 4 } else { 0 };
    let bar_ts = if ps >= 96 { 2 } else { 1 };
    let bar_cap_w = text_width(&style.colorbar_caption, bar_ts);
    let bar_w = if style.colorbar {
        let lw = rows
            .iter()
            .flat_map(colorbar_labels)
            .map(|t| text_width(&t, bar_ts))
            .max()
            .unwrap_or(0);
        (BAR_W + 4 + lw).max(bar_cap_w) + PAD
    } else {
        0
    };
    let row_h = label_h + ps + PAD;
    let w = PAD + ncols * (ps + PAD) + bar_w;
    let h = PAD + rows.len() as u32 * row_h;
    let mut img = RgbImage::from_pixel(w, h, WHITE);
    let mut layout = Layout {
        panel_size: ps,
        ..Default::default()
    };
    for (ri, row) in rows.iter().enumerate() {
        let y = PAD + ri as u32 * row_h;
        let py = y + label_h;
        layout.labels.push((PAD, y, label_h));
        layout.panels.push(Vec::new());
        for (ci, p) in row.panels.iter().enumerate() {
            let x = PAD + ci as u32 * (ps + PAD);
            draw_panel(&mut img, x, py, p, row, style)?;
            layout.panels[ri].push((x, py));
            let bold = p.highlight;
            let ls = ls[p.overlay.is_some() as usize];
            draw_text(&mut img, x as i64, y as i64, &p.lines[0], ls[0], INK, bold);
            if bold && !p.lines[0].is_empty() {
                let uw = text_width(&p.lines[0], ls[0]) + ls[0];
                fill_rect(
                    &mut img,
                    x as i64,
                    (y + text_height(ls[0]) + 1) as i64,
                    uw as i64,
                    ls[0] as i64,
                    INK,
                );
            }
            draw_text(
                &mut img,
                x as i64,
                (y + line_y1) as i64,
                &p.lines[1],
                ls[1],
                MUTED,
                false,
            );
            if p.highlight {
                // A frame in the gap around the panel, so no pixel of the map is hidden.
                let (bx, by, b, t) = (x as i64 - 4, py as i64 - 4, ps as i64 + 8, 3);
                for (rx, ry, rw, rh) in [
                    (bx, by, b, t),
                    (bx, by + b - t, b, t),
                    (bx, by, t, b),
                    (bx + b - t, by, t, b),
                ] {
                    fill_rect(&mut img, rx, ry, rw, rh, INK);
                }
            }
        }
        if style.colorbar {
            let x = PAD + ncols * (ps + PAD);
            if label_h >= text_height(bar_ts) {
                let cy = py - text_height(bar_ts) - 4;
                draw_text(
                    &mut img,
                    x as i64,
                    cy as i64,
                    &style.colorbar_caption,
                    bar_ts,
                    INK,
                    false,
                );
            }
            draw_colorbar(&mut img, x, py, ps, row, bar_ts);
            layout.colorbars.push((x, py, BAR_W, ps));
        }
    }
    Ok((img, layout))
}

/// How [`compose`] arranges its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Vertical,
    Horizontal,
}

/// Several finished images under one title, each with its own caption above it (e.g. "model A"
/// and "model B", or one original explained through two surrogates).
pub fn compose(title: &str, parts: &[(&str, &RgbImage)], direction: Direction) -> RgbImage {
    let ts = 2;
    let th = text_height(ts);
    let title_h = if title.is_empty() { 0 } else { th + 2 * PAD };
    let cap_h = if parts.iter().any(|(c, _)| !c.is_empty()) {
        th + PAD / 2
    } else {
        0
    };
    let part_w = |(c, im): &(&str, &RgbImage)| im.width().max(text_width(c, ts) + 2 * PAD);
    let (w, h) = match direction {
        Direction::Vertical => (
            parts
                .iter()
                .map(part_w)
                .max()
                .unwrap_or(0)
                .max(text_width(title, ts) + 2 * PAD),
            title_h
                + parts
                    .iter()
                    .map(|(_, im)| cap_h + im.height() + PAD)
                    .sum::<u32>(),
        ),
        Direction::Horizontal => (
            parts
                .iter()
                .map(part_w)
                .sum::<u32>()
                .max(text_width(title, ts) + 2 * PAD),
            title_h + cap_h + parts.iter().map(|(_, im)| im.height()).max().unwrap_or(0) + PAD,
        ),
    };
    let mut out = RgbImage::from_pixel(w.max(1), h.max(1), WHITE);
    draw_text(&mut out, PAD as i64, PAD as i64, title, ts, INK, true);
    if !title.is_empty() {
        let y = (PAD + th + PAD / 2) as i64;
        fill_rect(&mut out, PAD as i64, y, (w - 2 * PAD) as i64, 1, MUTED);
    }
    let (mut x, mut y) = (0u32, title_h);
    for part in parts {
        let (caption, im) = part;
        draw_text(
            &mut out,
            (x + PAD) as i64,
            y as i64,
            caption,
            ts,
            INK,
            false,
        );
        image::imageops::replace(&mut out, *im, x as i64, (y + cap_h) as i64);
        match direction {
            Direction::Vertical => y += cap_h + im.height() + PAD,
            Direction::Horizontal => x += part_w(part),
        }
    }
    out
}
