//! Self-contained SVG plots for the HTML report (no scripts, no external fonts or styles):
//! line plots (loss/accuracy per epoch, inclusion/exclusion curves), grouped bar plots with
//! optional error bars, and an HTML table helper.

use std::fmt::Write;

/// matplotlib's tab10, so plots match what the users know.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub x: Vec<f64>,
    /// Non-finite values break the line.
    pub y: Vec<f64>,
    /// CSS colour; `None` takes the next palette colour.
    pub color: Option<String>,
    pub dashed: bool,
}

impl Series {
    pub fn new(name: &str, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series {
            name: name.into(),
            x,
            y,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug)]
pub struct PlotOptions {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
    /// Fixed axis ranges; `None` fits the data and rounds out to ticks.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Dots at the data points (with the value as a hover title).
    pub markers: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            width: 640,
            height: 400,
            x_range: None,
            y_range: None,
            markers: true,
        }
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A 1-2-5 tick step giving about `target` intervals over `span`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Axis range and ticks: the fixed range as given, else the data range rounded out to ticks.
fn axis(
    values: impl Iterator<Item = f64>,
    fixed: Option<(f64, f64)>,
) -> (f64, f64, Vec<f64>, usize) {
    let (mut lo, mut hi) = fixed.unwrap_or_else(|| {
        values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
    });
    if !(lo.is_finite() && hi.is_finite()) {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo <= 0.0 {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo, hi) = (lo - d, hi + d);
    }
    let step = nice_step(hi - lo, 5.0);
    if fixed.is_none() {
        lo = (lo / step).floor() * step;
        hi = (hi / step).ceil() * step;
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    (lo, hi, ticks, decimals)
}

fn fmt_tick(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    // "-0.0" reads as a different number.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').into()
    } else {
        s
    }
}

/// Plot frame: margins around the data area.
struct Frame {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

fn open_svg(o: &mut String, w: u32, h: u32, title: &str) {
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = write!(o, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    if !title.is_empty() {
        let _ = write!(
            o,
            r#"<text x="{}" y="20" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            w / 2,
            escape(title)
        );
    }
}

/// Axis lines, gridlines, tick labels and axis labels `(x, y)`. Bar plots pass `x_grid` =
/// false: their x ticks are category names, not values.
fn draw_axes(
    o: &mut String,
    f: &Frame,
    xt: &[(f64, String)],
    yt: &[(f64, String)],
    (x_label, y_label): (&str, &str),
    x_grid: bool,
) {
    for (px, label) in xt {
        if x_grid {
            let _ = write!(
                o,
                r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#e6e6e6"/>"##,
                f.top, f.bottom
            );
        }
        let _ = write!(
            o,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            f.bottom + 16.0,
            escape(label)
        );
    }
    for (py, label) in yt {
        let _ = write!(
            o,
            r##"<line x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e6e6e6"/>"##,
            f.left, f.right
        );
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            f.left - 6.0,
            py + 4.0,
            escape(label)
        );
    }
    let _ = write!(
        o,
        r##"<path d="M{l:.1},{t:.1} V{b:.1} H{r:.1}" fill="none" stroke="#333"/>"##,
        l = f.left,
        t = f.top,
        b = f.bottom,
        r = f.right
    );
    if !x_label.is_empty() {
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (f.left + f.right) / 2.0,
            f.bottom + 34.0,
            escape(x_label)
        );
    }
    if !y_label.is_empty() {
        let (x, y) = (16.0, (f.top + f.bottom) / 2.0);
        let _ = write!(
            o,
            r#"<text x="{x}" y="{y:.1}" text-anchor="middle" transform="rotate(-90 {x} {y:.1})">{}</text>"#,
            escape(y_label)
        );
    }
}

/// Legend entries to the right of the data area, so they never cover data.
fn draw_legend(o: &mut String, f: &Frame, entries: &[(String, String, bool)], swatch_rect: bool) {
    for (i, (name, color, dashed)) in entries.iter().enumerate() {
        let (x, y) = (f.right + 14.0, f.top + 8.0 + i as f64 * 18.0);
        if swatch_rect {
            let _ = write!(
                o,
                r#"<rect x="{x:.1}" y="{:.1}" width="18" height="10" fill="{color}"/>"#,
                y - 5.0
            );
        } else {
            let dash = if *dashed {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let _ = write!(
                o,
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"{dash}/>"#,
                x + 18.0
            );
        }
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 24.0,
            y + 4.0,
            escape(name)
        );
    }
}

/// Room for the legend: about 7 px per character of the longest name.
fn legend_width(names: impl Iterator<Item = usize>) -> f64 {
    let n = names.max().unwrap_or(0);
    if n == 0 { 0.0 } else { 44.0 + 7.0 * n as f64 }
}

pub fn line_plot(series: &[Series], opts: &PlotOptions) -> String {
    let (x0, x1, xticks, xd) = axis(
        series.iter().flat_map(|s| s.x.iter().copied()),
        opts.x_range,
    );
    let (y0, y1, yticks, yd) = axis(
        series.iter().flat_map(|s| s.y.iter().copied()),
        opts.y_range,
    );
    let (w, h) = (opts.width as f64, opts.height as f64);
    let f = Frame {
        left: 64.0,
        top: if opts.title.is_empty() { 14.0 } else { 34.0 },
        right: w - 16.0 - legend_width(series.iter().map(|s| s.name.chars().count())),
        bottom: h - 44.0,
    };
    let sx = |x: f64| f.left + (x - x0) / (x1 - x0) * (f.right - f.left);
    let sy = |y: f64| f.bottom - (y - y0) / (y1 - y0) * (f.bottom - f.top);
    let mut o = String::new();
    open_svg(&mut o, opts.width, opts.height, &opts.title);
    let xt: Vec<_> = xticks.iter().map(|&t| (sx(t), fmt_tick(t, xd))).collect();
    let yt: Vec<_> = yticks.iter().map(|&t| (sy(t), fmt_tick(t, yd))).collect();
    draw_axes(&mut o, &f, &xt, &yt, (&opts.x_label, &opts.y_label), true);
    let mut legend = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let color = s
            .color
            .clone()
            .unwrap_or_else(|| PALETTE[i % PALETTE.len()].into());
        let dash = if s.dashed {
            r#" stroke-dasharray="5,3""#
        } else {
            ""
        };
        let _ = write!(o, r#"<g><title>{}</title>"#, escape(&s.name));
        let pts: Vec<(f64, f64)> = s.x.iter().zip(&s.y).map(|(&x, &y)| (x, y)).collect();
        for seg in pts.split(|(x, y)| !(x.is_finite() && y.is_finite())) {
            if seg.is_empty() {
                continue;
            }
            let d: Vec<String> = seg
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = write!(
                o,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                d.join(" ")
            );
        }
        if opts.markers {
            for &(x, y) in pts.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
                let _ = write!(
                    o,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"><title>{}: ({}, {})</title></circle>"#,
                    sx(x),
                    sy(y),
                    escape(&s.name),
                    super::grid::format_value(x),
                    super::grid::format_value(y)
                );
            }
        }
        o.push_str("</g>");
        legend.push((s.name.clone(), color, s.dashed));
    }
    draw_legend(&mut o, &f, &legend, false);
    o.push_str("</svg>");
    o
}

#[derive(Clone, Debug)]
pub struct BarOptions {
    pub title: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
    pub y_range: Option<(f64, f64)>,
}

impl Default for BarOptions {
    fn default() -> Self {
        BarOptions {
            title: String::new(),
            y_label: String::new(),
            width: 640,
            height: 360,
            y_range: None,
        }
    }
}

/// A series of a grouped bar plot: one value per category, optionally an interval (lo, hi)
/// drawn as an error bar (e.g. a bootstrap CI).
#[derive(Clone, Debug, Default)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
    pub intervals: Option<Vec<(f64, f64)>>,
}

/// Grouped bars: one group per category, one bar per series, bars start at 0.
pub fn bar_plot(categories: &[&str], series: &[BarSeries], opts: &BarOptions) -> String {
    let all = series.iter().flat_map(|s| {
        let iv = s.intervals.iter().flatten().flat_map(|&(a, b)| [a, b]);
        s.values.iter().copied().chain(iv)
    });
    let (y0, y1, yticks, yd) = axis(all.chain([0.0]), opts.y_range);
    let (w, h) = (opts.width as f64, opts.height as f64);
    let f = Frame {
        left: 64.0,
        top: if opts.title.is_empty() { 14.0 } else { 34.0 },
        right: w - 16.0 - legend_width(series.iter().map(|s| s.name.chars().count())),
        bottom: h - 44.0,
    };
    let sy = |y: f64| f.bottom - (y.clamp(y0, y1) - y0) / (y1 - y0) * (f.bottom - f.top);
    let group_w = (f.right - f.left) / categories.len().max(1) as f64;
    let bar_w = group_w * 0.8 / series.len().max(1) as f64;
    let mut o = String::new();
    open_svg(&mut o, opts.width, opts.height, &opts.title);
    let xt: Vec<_> = categories
        .iter()
        .enumerate()
        .map(|(i, c)| (f.left + (i as f64 + 0.5) * group_w, c.to_string()))
        .collect();
    let yt: Vec<_> = yticks.iter().map(|&t| (sy(t), fmt_tick(t, yd))).collect();
    draw_axes(&mut o, &f, &xt, &yt, ("", &opts.y_label), false);
    if y0 < 0.0 && y1 > 0.0 {
        let _ = write!(
            o,
            r##"<line x1="{:.1}" y1="{z:.1}" x2="{:.1}" y2="{z:.1}" stroke="#333"/>"##,
            f.left,
            f.right,
            z = sy(0.0)
        );
    }
    let mut legend = Vec::new();
    for (si, s) in series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()].to_string();
        for (ci, &v) in s
            .values
            .iter()
            .enumerate()
            .take(categories.len())
            .filter(|(_, v)| v.is_finite())
        {
            let x = f.left + ci as f64 * group_w + group_w * 0.1 + si as f64 * bar_w;
            let (top, bot) = (sy(v.max(0.0)), sy(v.min(0.0)));
            let _ = write!(
                o,
                r#"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} / {}: {}</title></rect>"#,
                bar_w * 0.92,
                (bot - top).max(0.5),
                escape(&s.name),
                escape(categories[ci]),
                super::grid::format_value(v)
            );
            if let Some(&(lo, hi)) = s.intervals.as_ref().and_then(|iv| iv.get(ci)) {
                let cx = x + bar_w * 0.46;
                let _ = write!(
                    o,
                    r##"<path d="M{cx:.1},{a:.1} V{b:.1} M{l:.1},{a:.1} H{r:.1} M{l:.1},{b:.1} H{r:.1}" stroke="#222" fill="none"/>"##,
                    a = sy(hi),
                    b = sy(lo),
                    l = cx - 4.0,
                    r = cx + 4.0
                );
            }
        }
        legend.push((s.name.clone(), color, false));
    }
    draw_legend(&mut o, &f, &legend, true);
    o.push_str("</svg>");
    o
}

/// A plain HTML table, every cell escaped.
pub fn html_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut o = String::from("<table>\n<thead><tr>");
    for hd in headers {
        let _ = write!(o, "<th>{}</th>", escape(hd));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{}</td>", escape(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table>\n");
    o
}
