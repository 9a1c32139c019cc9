//! The gallery of `fastshap explain`: pages of at most [`PAGE`] cards, each card a thumbnail of
//! the image beside the heatmap of its predicted class (a PNG written next to the page, not
//! inlined, so a page stays small whatever the folder's size), a caption, and links to the
//! image's full files. `index.html` is the first page, with the introduction, every page's link
//! and the files that could not be read; `gallery-N.html` are the others. No network
//! references: the folder is the gallery.

use super::svg::escape;

/// Cards per page: a page of thumbnails a browser shows at once.
pub const PAGE: usize = 200;

pub struct GalleryItem {
    /// The per-image file stem (`<name>.png`, `<name>.json`, …).
    pub name: String,
    /// Caption lines (escaped here).
    pub caption: Vec<String>,
    /// The thumbnail's PNG, relative to the page.
    pub thumbnail: String,
    /// Further files of this image as (label, relative link), e.g. its overlay.
    pub links: Vec<(String, String)>,
}

/// The file of page `n` (1-based) with `suffix` before the extension (e.g. a shard's).
pub fn page_file(n: usize, suffix: &str) -> String {
    if n == 1 {
        format!("index{suffix}.html")
    } else {
        format!("gallery-{n}{suffix}.html")
    }
}

/// Where a page sits among the others.
pub struct PageNav<'a> {
    /// 1-based.
    pub number: usize,
    /// Pages in all, when known (the first page is written last, when it is).
    pub total: Option<usize>,
    /// Whether a page follows this one.
    pub has_next: bool,
    pub suffix: &'a str,
}

/// Page `nav.number`: `title`, an introduction line (first page), links to the other pages,
/// the skipped files (first page: path, why; `more_skipped` beyond those listed) and the cards.
pub fn gallery_page(
    title: &str,
    intro: &str,
    items: &[GalleryItem],
    skipped: &[(String, String)],
    more_skipped: usize,
    nav: &PageNav,
) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:1.5em;color:#222}}\
         .cards{{display:flex;flex-wrap:wrap;gap:12px}}\
         .card{{border:1px solid #ddd;border-radius:6px;padding:6px;font-size:12px;\
         max-width:320px}}.card img{{display:block;image-rendering:pixelated}}\
         .skipped{{color:#a00}}nav a{{margin-right:.6em}}</style></head><body>\n\
         <h1>{t}</h1>\n",
        t = escape(title),
    );
    if nav.number == 1 {
        h += &format!("<p>{}</p>\n", escape(intro));
    }
    h += &nav_links(nav);
    let listed = skipped.len() + more_skipped;
    if nav.number == 1 && listed > 0 {
        h += &format!(
            "<h2 class=\"skipped\">{} could not be read</h2>\n<ul class=\"skipped\">\n",
            match listed {
                1 => "1 file".to_string(),
                n => format!("{n} files"),
            }
        );
        for (path, why) in skipped {
            h += &format!("<li><code>{}</code>: {}</li>\n", escape(path), escape(why));
        }
        if more_skipped > 0 {
            h += &format!("<li>… and {more_skipped} more</li>\n");
        }
        h += "</ul>\n";
    }
    h += "<div class=\"cards\">\n";
    for it in items {
        let name = escape(&it.name);
        h += &format!(
            "<div class=\"card\" id=\"{name}\"><a href=\"{name}.png\"><img alt=\"{name}\" \
             loading=\"lazy\" src=\"{}\"></a>",
            escape(&it.thumbnail)
        );
        for line in &it.caption {
            h += &format!("<div>{}</div>", escape(line));
        }
        for (label, href) in &it.links {
            h += &format!("<a href=\"{}\">{}</a> ", escape(href), escape(label));
        }
        h += "</div>\n";
    }
    h += "</div>\n";
    h += &nav_links(nav);
    h += "</body></html>\n";
    h
}

/// Links to the first, previous and next pages (and, where the count is known, to every page).
fn nav_links(nav: &PageNav) -> String {
    let link = |n: usize, label: &str| {
        format!(
            "<a href=\"{}\">{label}</a>",
            escape(&page_file(n, nav.suffix))
        )
    };
    let mut parts = Vec::new();
    if nav.number > 1 {
        parts.push(link(1, "first page"));
        parts.push(link(nav.number - 1, "previous"));
    }
    if nav.has_next {
        parts.push(link(nav.number + 1, "next"));
    }
    if let Some(total) = nav.total.filter(|&t| t > 1) {
        // A link is ~40 bytes: 100,000 images are 500 pages, 20 KB of links.
        parts.push(format!(
            "pages: {}",
            (1..=total)
                .map(|n| link(n, &n.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("<nav>{}</nav>\n", parts.join(" "))
    }
}
