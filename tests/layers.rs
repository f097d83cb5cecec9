//! The layer order of ARCHITECTURE.md, held against the code: every top-level module under
//! `src/` is in exactly one layer, and its non-test code names only modules of lower layers
//! (`crate::x` paths, `use crate::{x, y}` groups). A module that imports one above it, or one
//! beside it in the same layer, fails here, so the picture cannot drift from the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first, from the block between the markers in ARCHITECTURE.md.
fn layers(architecture: &str) -> Vec<Vec<String>> {
    let start = architecture
        .find("<!-- layers -->")
        .expect("ARCHITECTURE.md has a <!-- layers --> block");
    let end = architecture[start..]
        .find("<!-- /layers -->")
        .expect("the layers block is closed by <!-- /layers -->")
        + start;
    architecture[start..end]
        .lines()
        .filter_map(|line| {
            // `N. a, b, c: why` (list items; anything after a colon is prose).
            let (number, rest) = line.trim().split_once(". ")?;
            number.parse::<usize>().ok()?;
            let names = rest.split(':').next()?;
            Some(
                names
                    .split(',')
                    .map(|n| n.trim().trim_matches('`').to_owned())
                    .filter(|n| !n.is_empty())
                    .collect(),
            )
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its test modules and comments.
fn non_test_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        // A `#[cfg(test)]` (or `cfg(all(test, ...))`) item: skip it to its closing brace.
        if t.starts_with("#[cfg(") && t.contains("test") && !t.contains("not(test") {
            let mut depth = 0isize;
            let mut opened = false;
            for l in lines.by_ref() {
                depth +=
                    l.matches('{').count().cast_signed() - l.matches('}').count().cast_signed();
                opened |= l.contains('{');
                if opened && depth <= 0 || !opened && l.trim_end().ends_with(';') {
                    break;
                }
            }
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line.split(" // ").next().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The top-level modules a piece of code names through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Names at the group's top level (`a`, `b::c`, `d::{e, f}`), to its closing brace.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            found.insert(name);
                        }
                        item.clear();
                    }
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn modules_import_only_lower_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let layers = layers(&architecture);
    assert!(
        layers.len() >= 5,
        "the layers block lists too few layers: {layers:?}"
    );
    let mut layer_of: BTreeMap<String, usize> = BTreeMap::new();
    for (i, layer) in layers.iter().enumerate() {
        for module in layer {
            assert!(
                layer_of.insert(module.clone(), i).is_none(),
                "ARCHITECTURE.md lists `{module}` twice"
            );
        }
    }
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut modules = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        modules.insert(module.clone());
        let Some(&own) = layer_of.get(&module) else {
            problems.push(format!(
                "src/{} is in module `{module}`, which ARCHITECTURE.md's layers do not list",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        for imported in imports(&non_test_code(&text)) {
            if imported == module {
                continue;
            }
            match layer_of.get(&imported) {
                Some(&layer) if layer < own => {}
                Some(&layer) => problems.push(format!(
                    "src/{} (`{module}`, layer {own}) imports `{imported}` (layer {layer}): \
                     a module may import only lower layers",
                    rel.display()
                )),
                None => problems.push(format!(
                    "src/{} imports `crate::{imported}`, which is not a listed module",
                    rel.display()
                )),
            }
        }
    }
    for listed in layer_of.keys() {
        if !modules.contains(listed) {
            problems.push(format!(
                "ARCHITECTURE.md lists `{listed}`, which is not a module under src/"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_what_it_must() {
    let code = non_test_code(
        "use crate::config::Gate;\nuse crate::{vocab::Mode, diag, fields::{Fields, Sink}};\n\
         // crate::commented\nfn f() { crate::judge::x(); }\n\
         #[cfg(test)]\nmod tests {\n    use crate::cli::main;\n}\n",
    );
    let found: Vec<String> = imports(&code).into_iter().collect();
    assert_eq!(found, ["config", "diag", "fields", "judge", "vocab"]);
    let layers = layers(
        "x\n<!-- layers -->\n0. `vocab`, `diag`: the bottom\n1. `config`\n<!-- /layers -->\n",
    );
    assert_eq!(layers, [vec!["vocab", "diag"], vec!["config"]]);
}
