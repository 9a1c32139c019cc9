//! The shape of the import graph of src/: layers import only from below, and no file imports,
//! directly or through others, a file that imports it back. Both read the `crate::…` and
//! `super::…` paths of every file (comments, strings and `#[cfg(test)]` modules left out).
//! A file's plain `child::x` paths into the modules it declares (`mod child;`) are not read:
//! those are parts of it (a `mod.rs` re-exporting its files, conv.rs launching `tiled::`),
//! and the parts name their parent with `super::`, which is read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of ARCHITECTURE.md, bottom to top; a module may import only from its own layer
/// or below. Tensor, tape and ops are one tier (the tape sums gradients with `Tensor::add`, an
/// op); inside it the files still import only downward — gpu ← tensor ← autograd ← ops — which
/// [`no_import_circles`] checks.
const LAYERS: &[&[&str]] = &[
    &["gpu"],
    &["tensor", "autograd", "ops"],
    &["nn"],
    &["models"],
    &["io", "time", "progress", "seed", "math"],
    &["viz"],
    &["checkpoint"],
    &["data"],
    &["train"],
    &["shap"],
    &["fastshap"],
    &["report"],
    &["reproduce"],
    &["bench"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// One source file: where it is, its module path (`ops::conv`; empty for lib.rs) and its code.
struct Source {
    rel: String,
    module: Vec<String>,
    code: String,
}

/// Every file of the library crate (main.rs is the binary, a crate of its own).
fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files: Vec<PathBuf> = vec![];
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && p != src.join("main.rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let mut module: Vec<String> = f
                .strip_prefix(&src)
                .unwrap()
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let code = without_tests(&strip(&std::fs::read_to_string(&f).unwrap()));
            Source { rel, module, code }
        })
        .collect()
}

/// The code with comments, string and char literals blanked (so a message or doc that mentions
/// `crate::x` is not an import); line breaks are kept for line numbers.
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // Raw string r#"…"#: ends at a quote followed by as many hashes.
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            i = j + 1;
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|h| c.get(i + h) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(c[i]));
                i += 1;
            }
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                }
                i += 1;
            }
            i += 1;
        } else if c[i] == '\'' && (next == Some('\\') || c.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\''); a lifetime ('a) has no closing quote.
            i += if next == Some('\\') { 2 } else { 1 };
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The code without `#[cfg(test)]` items (their `super::*` is the file itself, not its parent).
fn without_tests(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let Some(open) = out[at..].find('{').map(|o| at + o) else {
            break;
        };
        let mut depth = 0;
        let mut end = out.len();
        for (k, ch) in out[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let lines = out[at..end].matches('\n').count();
        out.replace_range(at..end, &"\n".repeat(lines));
    }
    out
}

/// A token of a path: an identifier or one of `::`, `{`, `}`, `,`, `*`, or anything else.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let mut out = vec![];
    let mut line = 1;
    let c: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((c[start..i].iter().collect(), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(("::".into(), line));
            i += 2;
        } else {
            out.push((ch.to_string(), line));
            i += 1;
        }
    }
    out
}

/// The paths of a use tree starting at `t[i]` (after `crate::`/`super::`): `a::b`,
/// `a::{b, c::d}`, `a::*`; each as its segments. Returns the paths and the index after them.
fn use_tree(t: &[(String, usize)], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = vec![];
    loop {
        match t.get(i).map(|(s, _)| s.as_str()) {
            Some("{") => {
                let mut paths = vec![];
                i += 1;
                while i < t.len() && t[i].0 != "}" {
                    let (sub, j) = use_tree(t, i);
                    for p in sub {
                        paths.push(prefix.iter().cloned().chain(p).collect());
                    }
                    i = j;
                    if t.get(i).is_some_and(|(s, _)| s == ",") {
                        i += 1;
                    }
                }
                return (paths, i + 1);
            }
            Some(s) if s.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                prefix.push(s.to_string());
                i += 1;
                if t.get(i).is_some_and(|(s, _)| s == "::") {
                    i += 1;
                } else {
                    if t.get(i).is_some_and(|(s, _)| s == "as") {
                        i += 2;
                    }
                    return (vec![prefix], i);
                }
            }
            _ => return (vec![prefix], i),
        }
    }
}

/// An import edge: from file `from` to file `to`, through `path` on `line`.
struct Edge {
    from: String,
    to: String,
    path: String,
    line: usize,
}

/// Every `crate::…` and `super::…` path of every file, resolved to the file of the longest
/// module prefix (items at the crate root through lib.rs's `pub use` and exported macros).
fn edges(srcs: &[Source]) -> Vec<Edge> {
    let files: BTreeMap<Vec<String>, String> = srcs
        .iter()
        .map(|s| (s.module.clone(), s.rel.clone()))
        .collect();
    // Names at the crate root: lib.rs re-exports (`pub use tensor::Tensor;`) and macros.
    let mut root_names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in srcs {
        let t = tokens(&s.code);
        for i in 0..t.len() {
            if s.module.is_empty() && t[i].0 == "use" && i > 0 && t[i - 1].0 == "pub" {
                for p in use_tree(&t, i + 1).0 {
                    if let Some(name) = p.last() {
                        root_names.insert(name.clone(), p[..p.len() - 1].to_vec());
                    }
                }
            }
            if t[i].0 == "macro_rules" && t.get(i + 2).is_some() {
                root_names.insert(t[i + 2].0.clone(), s.module.clone());
            }
        }
    }
    let mut out = vec![];
    for s in srcs {
        let t = tokens(&s.code);
        for i in 0..t.len() {
            let base = match t[i].0.as_str() {
                "crate" => vec![],
                "super" => s.module[..s.module.len().saturating_sub(1)].to_vec(),
                _ => continue,
            };
            let preceded_by_path = i > 0 && (t[i - 1].0 == "::" || t[i - 1].0 == ".");
            if preceded_by_path || t.get(i + 1).is_none_or(|(x, _)| x != "::") {
                continue;
            }
            let (paths, _) = use_tree(&t, i + 2);
            for p in paths {
                let mut full = base.clone();
                full.extend(p.iter().cloned());
                if full.len() == base.len() || full[0] == "super" {
                    continue; // `super::super::…`: its own `super` token resolves it
                }
                let mut module = (0..=full.len())
                    .rev()
                    .map(|n| full[..n].to_vec())
                    .find(|m| files.contains_key(m))
                    .unwrap_or_default();
                if module.is_empty()
                    && let Some(m) = root_names.get(&full[0])
                {
                    module = m.clone();
                }
                let to = files[&module].clone();
                if to != s.rel {
                    out.push(Edge {
                        from: s.rel.clone(),
                        to,
                        path: format!("{}::{}", t[i].0, p.join("::")),
                        line: t[i].1,
                    });
                }
            }
        }
    }
    out
}

#[test]
fn every_layer_imports_only_from_below() {
    let mut upward = vec![];
    for e in edges(&sources()) {
        let top = |f: &str| {
            let rel = f.trim_start_matches("src/");
            rel.split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string()
        };
        let (own, other) = (top(&e.from), top(&e.to));
        let (Some(a), Some(b)) = (layer_of(&own), layer_of(&other)) else {
            continue; // lib.rs
        };
        if b > a {
            upward.push(format!("{}:{}: {own} imports {}", e.from, e.line, e.path));
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer:\n{}",
        upward.join("\n")
    );
}

/// Strongly connected files of the import graph (Tarjan), each with more than one file.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = vec![];
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                s.out.push(scc);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on_stack: BTreeSet::new(),
        out: vec![],
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_circles() {
    let edges = edges(&sources());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &edges {
        graph
            .entry(e.from.clone())
            .or_default()
            .insert(e.to.clone());
    }
    let mut report = vec![];
    for circle in circles(&graph) {
        let ties: Vec<String> = edges
            .iter()
            .filter(|e| circle.contains(&e.from) && circle.contains(&e.to))
            .map(|e| format!("  {}:{} -> {} ({})", e.from, e.line, e.to, e.path))
            .collect();
        report.push(format!("{}:\n{}", circle.join(" <-> "), ties.join("\n")));
    }
    assert!(
        report.is_empty(),
        "import circles in src/:\n{}",
        report.join("\n")
    );
}

/// The parser the two tests rely on sees grouped, nested, renamed and `super` imports, and not
/// what comments and strings say.
#[test]
fn import_parser_reads_use_trees() {
    let code = strip(
        "use crate::{a::b, c::{d, e as f}};\n// crate::x::y\nlet s = \"crate::q\";\nsuper::g::h();",
    );
    let t = tokens(&code);
    let (paths, _) = use_tree(&t, 3);
    assert_eq!(paths, [vec!["a", "b"], vec!["c", "d"], vec!["c", "e"]]);
    let found: Vec<&str> = t.iter().map(|(s, _)| s.as_str()).collect();
    assert!(!found.contains(&"x") && !found.contains(&"q"), "{found:?}");
    assert!(found.contains(&"g"), "{found:?}");
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
            .iter()
            .fold(BTreeMap::new(), |mut g, (f, t)| {
                g.entry(f.to_string()).or_default().insert(t.to_string());
                g
            });
    assert_eq!(circles(&graph), [vec!["a", "b", "c"]]);
}
