//! Replays the fuzz targets' committed seed corpus and crash reproducers (`fuzz/corpus/`,
//! `fuzz/regressions/`) through the same checks the fuzz targets make (`fuzz/checks.rs`), so
//! CI, which does not fuzz, still holds every input the fuzzers found interesting or fatal.

use std::path::Path;

#[path = "../fuzz/checks.rs"]
mod checks;

/// Every file in `fuzz/<kind>/<target>/`, as UTF-8 (the targets skip other inputs too).
fn inputs(target: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in dir.flatten() {
            let bytes = std::fs::read(entry.path()).expect("read fuzz input");
            if let Ok(text) = String::from_utf8(bytes) {
                out.push((entry.path().display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn config_load_corpus_and_regressions() {
    let all = inputs("config_load");
    assert!(all.len() >= 5, "the seed corpus is there");
    for (name, text) in all {
        eprintln!("{name}");
        checks::config_load(&text);
    }
}

#[test]
fn threshold_expr_corpus_and_regressions() {
    let all = inputs("threshold_expr");
    assert!(all.len() >= 5, "the seed corpus is there");
    for (name, text) in all {
        eprintln!("{name}");
        checks::threshold_expr(&text);
    }
}
