//! Text helpers of the report: HTML escaping, ids, a small Markdown converter (the subset the
//! pipeline writes: `#` headings, pipe tables, paragraphs, lists, code blocks, `**bold**` and
//! `` `code` ``), an RFC 4180 CSV reader, inline PNGs and number formatting.

use crate::viz::svg::escape;
use base64::Engine;
use std::fmt::Write;
use std::path::Path;

/// An HTML id from a path or name: `surrogates/resnet-by-vit` → `surrogates-resnet-by-vit`.
/// Letters, digits, `-`, `_` and `.` are kept, everything else becomes `-`.
pub fn id_of(s: &str) -> String {
    s.trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A short note in place of a missing piece.
pub fn note(text: &str) -> String {
    format!("<p class=\"note\">{}</p>\n", escape(text))
}

/// `<details>` with a `<pre>` body.
pub fn details_pre(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{}</summary><pre>{}</pre></details>\n",
        escape(summary),
        escape(body)
    )
}

/// Seconds as `1 h 02 min`, `3 min 05 s` or `12.3 s`.
pub fn fmt_seconds(s: f64) -> String {
    if !s.is_finite() {
        return "–".into();
    }
    let t = s.round() as u64;
    if s < 60.0 {
        format!("{s:.1} s")
    } else if t < 3600 {
        format!("{} min {:02} s", t / 60, t % 60)
    } else {
        format!("{} h {:02} min", t / 3600, (t % 3600) / 60)
    }
}

/// A start time: unix seconds become a UTC date, anything else is shown as given.
pub fn fmt_time(s: &str) -> String {
    let Ok(secs) = s.trim().parse::<f64>() else {
        return s.to_string();
    };
    if !secs.is_finite() || secs < 0.0 {
        return s.to_string();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    format!("{} UTC", crate::time::utc(t))
}

/// Images wider than this many pixels are shown at this width in a horizontally scrolling box.
const WIDE: u32 = 2000;

/// `<figure id=..>` with an inline PNG, or with a note when the file is missing or not a PNG.
pub fn png_figure(id: &str, path: &Path, alt: &str, caption: &str) -> String {
    let body = match std::fs::read(path) {
        Ok(bytes) if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 => {
            let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            let img = format!(
                "<img alt=\"{}\" width=\"{w}\" height=\"{h}\"{} src=\"data:image/png;base64,{}\">",
                escape(alt),
                if w > WIDE { " class=\"wide\"" } else { "" },
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            );
            // Side-by-side galleries are too wide to read shrunk to the page: they scroll.
            if w > WIDE {
                format!("<div class=\"scroll\">{img}</div>")
            } else {
                img
            }
        }
        Ok(_) => note(&format!("{} is not a PNG file.", file_name(path))),
        Err(_) => note(&format!("{} was not produced.", file_name(path))),
    };
    format!(
        "<figure id=\"{}\">{body}<figcaption>{}</figcaption></figure>\n",
        escape(id),
        escape(caption)
    )
}

pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Whether a table cell reads as a number (right-aligned).
fn numeric(c: &str) -> bool {
    let c = c.trim().trim_end_matches('%');
    !c.is_empty()
        && (c.parse::<f64>().is_ok()
            || c.split_once(" (")
                .is_some_and(|(a, _)| a.trim().parse::<f64>().is_ok()))
}

/// An HTML table; cells go through `cell` (escaping, inline Markdown).
pub fn table(headers: &[String], rows: &[Vec<String>], cell: impl Fn(&str) -> String) -> String {
    let mut o = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for h in headers {
        let _ = write!(o, "<th>{}</th>", cell(h));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            let class = if numeric(c) { " class=\"num\"" } else { "" };
            let _ = write!(o, "<td{class}>{}</td>", cell(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table></div>\n");
    o
}

/// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r: &Vec<String>| !(r.len() == 1 && r[0].is_empty()));
    rows
}

/// Inline Markdown on one line of text: escapes it, then `` `code` ``, `**bold**`, links and
/// images become text (`[t](u)` → t; nothing in the report links anywhere).
pub fn inline(s: &str) -> String {
    let mut o = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(o, "<code>{}</code>", escape(part));
            continue;
        }
        let e = escape(&strip_links(part));
        let bits: Vec<&str> = e.split("**").collect();
        for (j, b) in bits.iter().enumerate() {
            match (j % 2 == 1, j + 1 < bits.len()) {
                (true, true) => {
                    let _ = write!(o, "<strong>{b}</strong>");
                }
                // An unmatched `**` stays as typed.
                (true, false) => {
                    let _ = write!(o, "**{b}");
                }
                _ => o.push_str(b),
            }
        }
    }
    o
}

/// `[text](url)` and `![alt](url)` → `text` / `alt`.
fn strip_links(s: &str) -> String {
    let mut o = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        let before = &rest[..open];
        o.push_str(before.strip_suffix('!').unwrap_or(before));
        o.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    o.push_str(rest);
    o
}

/// Cells of a pipe-table line; `\|` is a literal bar.
fn pipe_cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = if t.ends_with('|') && !t.ends_with("\\|") {
        &t[..t.len() - 1]
    } else {
        t
    };
    let mut cells = vec![String::new()];
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().unwrap().push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.contains('-') && t.contains('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Markdown → HTML. Headings are shifted down by `shift` levels (a `#` becomes `h{1+shift}`,
/// at most h6).
pub fn markdown(md: &str, shift: usize) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut o = String::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |o: &mut String, para: &mut Vec<&str>| {
        if !para.is_empty() {
            let _ = writeln!(o, "<p>{}</p>", inline(&para.join(" ").replace("\\|", "|")));
            para.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.is_empty() {
            flush(&mut o, &mut para);
            i += 1;
        } else if t.starts_with("```") {
            flush(&mut o, &mut para);
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim().starts_with("```"))
                .unwrap_or(lines.len());
            let _ = writeln!(o, "<pre>{}</pre>", escape(&lines[i + 1..end].join("\n")));
            i = end + 1;
        } else if let Some(level) = heading_level(t) {
            flush(&mut o, &mut para);
            let h = (level + shift).min(6);
            let _ = writeln!(o, "<h{h}>{}</h{h}>", inline(t[level..].trim()));
            i += 1;
        } else if t.starts_with('|') && lines.get(i + 1).is_some_and(|l| is_separator(l)) {
            flush(&mut o, &mut para);
            let headers = pipe_cells(t);
            let mut rows = Vec::new();
            i += 2;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(pipe_cells(lines[i]));
                i += 1;
            }
            o.push_str(&table(&headers, &rows, inline));
        } else if t.starts_with("- ") || t.starts_with("* ") {
            flush(&mut o, &mut para);
            o.push_str("<ul>\n");
            while i < lines.len() {
                let l = lines[i].trim();
                if let Some(item) = l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")) {
                    let _ = writeln!(o, "<li>{}</li>", inline(item));
                    i += 1;
                } else {
                    break;
                }
            }
            o.push_str("</ul>\n");
        } else {
            para.push(t);
            i += 1;
        }
    }
    flush(&mut o, &mut para);
    o
}

fn heading_level(t: &str) -> Option<usize> {
    let n = t.chars().take_while(|&c| c == '#').count();
    ((1..=6).contains(&n) && t[n..].starts_with(' ')).then_some(n)
}

/// Splits a `tables/tableN.md` twin into its `# title` and the notes below the table.
pub fn title_and_notes(md: &str) -> (Option<String>, String) {
    let mut title = None;
    let mut notes = Vec::new();
    let mut seen_table = false;
    for line in md.lines() {
        let t = line.trim();
        if title.is_none() && t.starts_with("# ") {
            title = Some(t[2..].trim().to_string());
        } else if t.starts_with('|') {
            seen_table = true;
        } else if seen_table {
            notes.push(line);
        }
    }
    (title, notes.join("\n").trim().to_string())
}
