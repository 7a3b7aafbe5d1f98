//! The crate's import graph, read from its sources: every `crate::` path of every file (in `use`
//! lines and inline), resolved to the file it names. Two rules hold it one-way:
//! - a top-level module imports only from modules of a lower layer ([`LAYERS`]);
//! - no cycle of imports among files (a file may name its own ancestors' items).
//!
//! Comments are skipped, so a doc link may point anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may import only from earlier lines.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["config", "cache_entries"],
    &["db", "redis_link", "telemetry"],
    &["rate_limit", "store"],
    &["queue"],
    &["email"],
    &["unit_of_work"],
    &["state"],
    &["service"],
    &["jobs", "sweeps"],
    &["http"],
    &["server"],
    &["lib"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

struct Source {
    /// Path relative to `src/`, with `/` separators.
    file: String,
    /// Every `crate::a::b::c` path the file names, as segments.
    paths: Vec<Vec<String>>,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let file = path
                .strip_prefix(&root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            if file == "layers.rs" {
                return None;
            }
            let text = std::fs::read_to_string(&path).ok()?;
            Some(Source {
                file,
                paths: crate_paths(&code_only(&text)),
            })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without line comments (doc comments included).
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path after `crate::`, with `{a, b::c}` groups expanded.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        if !preceded_by_ident {
            expand(rest, Vec::new(), &mut out);
        }
    }
    out
}

/// Reads `a::b::{c, d::e}` from the start of `text` into full paths, each prefixed by `prefix`.
fn expand(text: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            if let Some(group) = rest.strip_prefix('{') {
                for item in split_group(group) {
                    expand(item.trim(), path.clone(), out);
                }
                return;
            }
            break;
        }
        rest = &rest[ident.len()..];
        path.push(ident);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// The top-level items of a `{...}` group (the text after `{`), up to its closing brace.
fn split_group(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn top_module(file: &str) -> &str {
    let first = file.split('/').next().unwrap_or(file);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The file that declares the longest prefix of `path` that is a module; `lib.rs` for an item
/// re-exported at the crate root (so `crate::AppState` counts as an import from the top).
fn resolve(path: &[String], files: &BTreeSet<String>) -> Option<String> {
    let module = (1..=path.len()).rev().find_map(|n| {
        let joined = path[..n].join("/");
        [format!("{joined}.rs"), format!("{joined}/mod.rs")]
            .into_iter()
            .find(|candidate| files.contains(candidate))
    });
    module.or_else(|| (!path.is_empty()).then(|| "lib.rs".to_owned()))
}

/// The files that `file`'s module is nested in (`service/accounts/mod.rs` for
/// `service/accounts/profile.rs`): naming an ancestor's items is how a child module reads its
/// parent, not a cycle.
fn is_ancestor(ancestor: &str, file: &str) -> bool {
    let dir = ancestor
        .strip_suffix("/mod.rs")
        .or_else(|| ancestor.strip_suffix(".rs"))
        .unwrap_or(ancestor);
    file != ancestor && file.starts_with(&format!("{dir}/"))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let files: BTreeSet<String> = sources.iter().map(|s| s.file.clone()).collect();
    sources
        .iter()
        .map(|s| {
            let targets = s
                .paths
                .iter()
                .filter_map(|p| resolve(p, &files))
                .filter(|target| *target != s.file && !is_ancestor(target, &s.file))
                .collect();
            (s.file.clone(), targets)
        })
        .collect()
}

#[test]
fn layers_import_only_downward() {
    let graph = graph();
    assert!(graph.len() > 40, "the sources were not found");
    let mut upward = Vec::new();
    for (file, targets) in &graph {
        let from = top_module(file);
        let Some(from_layer) = layer_of(from) else {
            upward.push(format!("{file}: module `{from}` is in no layer"));
            continue;
        };
        for target in targets {
            let to = top_module(target);
            if to == from {
                continue;
            }
            match layer_of(to) {
                Some(to_layer) if to_layer < from_layer => {}
                _ => upward.push(format!("{file} imports {target}")),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not go down:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_file_imports_itself_through_others() {
    let graph = graph();
    // Depth-first search; a file met again while still on the stack closes a cycle.
    fn visit(
        file: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if done.contains(file) {
            return;
        }
        if let Some(at) = stack.iter().position(|f| f == file) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(file.to_owned());
            cycles.push(cycle.join(" -> "));
            return;
        }
        stack.push(file.to_owned());
        for target in graph.get(file).into_iter().flatten() {
            visit(target, graph, stack, done, cycles);
        }
        stack.pop();
        done.insert(file.to_owned());
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for file in graph.keys() {
        visit(file, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_reader_expands_groups_and_skips_comments() {
    let code = code_only(
        "use crate::a::{b, c::{d, e}};\n// use crate::nope;\nlet x = crate::f::g(1); my_crate::h;",
    );
    let paths: Vec<String> = crate_paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(paths, ["a::b", "a::c::d", "a::c::e", "f::g"]);
}
