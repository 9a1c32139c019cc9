//! `index.html` of `fastshap explain`: one self-contained page (images inlined as data URIs,
//! no network references) with a card per explained image — a thumbnail of the image and the
//! heatmap of its predicted class, a caption, and a link to the full per-image files — and
//! the files that could not be read.

use super::svg::escape;
use base64::Engine;

pub struct GalleryItem {
    /// The per-image file stem (`<name>.png`, `<name>.json`, …).
    pub name: String,
    /// Caption lines (escaped here).
    pub caption: Vec<String>,
    /// PNG bytes of the thumbnail.
    pub thumbnail: Vec<u8>,
    /// Further files of this image as (label, relative link), e.g. its overlay.
    pub links: Vec<(String, String)>,
}

/// The page: `title`, an introduction line, the cards and the skipped files (path, why).
pub fn gallery_html(
    title: &str,
    intro: &str,
    items: &[GalleryItem],
    skipped: &[(String, String)],
) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:1.5em;color:#222}}\
         .cards{{display:flex;flex-wrap:wrap;gap:12px}}\
         .card{{border:1px solid #ddd;border-radius:6px;padding:6px;font-size:12px;\
         max-width:320px}}.card img{{display:block;image-rendering:pixelated}}\
         .skipped{{color:#a00}}</style></head><body>\n<h1>{t}</h1>\n<p>{i}</p>\n",
        t = escape(title),
        i = escape(intro)
    );
    if !skipped.is_empty() {
        h += &format!(
            "<h2 class=\"skipped\">{} could not be read</h2>\n<ul class=\"skipped\">\n",
            match skipped.len() {
                1 => "1 file".to_string(),
                n => format!("{n} files"),
            }
        );
        for (path, why) in skipped {
            h += &format!("<li><code>{}</code>: {}</li>\n", escape(path), escape(why));
        }
        h += "</ul>\n";
    }
    h += "<div class=\"cards\">\n";
    for it in items {
        let name = escape(&it.name);
        h += &format!(
            "<div class=\"card\" id=\"{name}\"><a href=\"{name}.png\"><img alt=\"{name}\" \
             src=\"data:image/png;base64,{}\"></a>",
            b64.encode(&it.thumbnail)
        );
        for line in &it.caption {
            h += &format!("<div>{}</div>", escape(line));
        }
        for (label, href) in &it.links {
            h += &format!("<a href=\"{}\">{}</a> ", escape(href), escape(label));
        }
        h += "</div>\n";
    }
    h += "</div>\n</body></html>\n";
    h
}
