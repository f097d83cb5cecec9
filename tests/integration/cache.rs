//! The content-hash cache (SPEC 4): hits, misses, restore, touch, env, run text, early cutoff.

use crate::harness::Repo;

/// `b` copies `a`'s output; `a` reads `src/`; both count their executions in `runs.log`.
fn two_gates() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "echo a >> runs.log; mkdir -p out; cat src/*.txt | tr a-z A-Z > out/a.txt"
inputs = ["src/*.txt"]
env = ["MODE"]
artifacts = ["out/a.txt"]

[gates.b]
run = "echo b >> runs.log; cp out/a.txt out/b.txt"
needs = ["a"]
artifacts = ["out/b.txt"]
"#,
    );
    repo.write("src/one.txt", "hello\n");
    repo
}

fn runs(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .replace('\n', "")
}

#[test]
fn second_run_replays_everything() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "ab");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "ab", "nothing re-ran");
    assert_eq!(repo.status("a"), ("pass".into(), true));
    assert_eq!(repo.status("b"), ("pass".into(), true));
    assert_eq!(repo.report()["summary"]["cached"], 2);
}

#[test]
fn deleted_artifacts_are_restored_byte_for_byte() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let before = std::fs::read(repo.path("out/b.txt")).unwrap();
    std::fs::remove_dir_all(repo.path("out")).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "ab");
    assert_eq!(std::fs::read(repo.path("out/b.txt")).unwrap(), before);
    assert_eq!(repo.read("out/a.txt"), "HELLO\n");
}

#[test]
fn touching_without_change_reruns_nothing() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    repo.write("src/one.txt", "hello\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "ab");
}

#[test]
fn changed_input_reruns_and_downstream_follows_changed_bytes() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    repo.write("src/one.txt", "changed\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "abab");
    assert_eq!(repo.read("out/b.txt"), "CHANGED\n");
}

#[test]
fn early_cutoff_when_upstream_output_is_identical() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    // Different input bytes, same upper-cased output: a re-runs, b stays cached.
    repo.write("src/one.txt", "HELLO\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "aba");
    assert_eq!(repo.status("a"), ("pass".into(), false));
    assert_eq!(repo.status("b"), ("pass".into(), true));
}

#[test]
fn env_value_change_reruns() {
    let mut repo = two_gates();
    repo.set_env("MODE", "x");
    repo.run(&["run"]).expect_code(0);
    repo.set_env("MODE", "y");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        runs(&repo),
        "aba",
        "a re-ran, b hit thanks to identical output"
    );
}

#[test]
fn run_text_change_reruns() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let text = repo
        .read("gates.toml")
        .replace("cp out/a.txt out/b.txt", "cp out/a.txt out/b.txt; true");
    repo.write("gates.toml", &text);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "abb");
}

#[test]
fn thresholds_are_rejudged_against_cached_artifacts() {
    let repo = Repo::new().gates(
        "[gates.m]\nrun = \"echo '{\\\"v\\\": 5}' > m.json\"\nartifacts = [\"m.json\"]\nthresholds = { v = \"<= 10\" }\n",
    );
    repo.run(&["run"]).expect_code(0);
    let text = repo.read("gates.toml").replace("<= 10", "<= 1");
    repo.write("gates.toml", &text);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("m"), ("fail".into(), true));
}

#[test]
fn failures_are_not_cached_and_no_cache_reruns() {
    let repo = Repo::new().gates("[gates.f]\nrun = \"echo f >> runs.log; exit 1\"\n\n[gates.ok]\nrun = \"echo o >> runs.log\"\n");
    repo.run(&["run"]).expect_code(1);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(runs(&repo).matches('f').count(), 2);
    assert_eq!(runs(&repo).matches('o').count(), 1);
    repo.run(&["run", "--no-cache"]).expect_code(1);
    assert_eq!(runs(&repo).matches('o').count(), 2);
}

#[test]
fn cache_false_never_replays() {
    let repo = Repo::new().gates("[gates.f]\nrun = \"echo f >> runs.log\"\ncache = false\n");
    repo.run(&["run"]).expect_code(0);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), "ff");
}

#[test]
fn corrupt_entry_is_reported_and_rerun() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    std::fs::remove_file(repo.path("cache/index.bin")).unwrap();
    std::fs::remove_dir_all(repo.path("out")).unwrap();
    for entry in walk(&repo.path("cache/entries")) {
        let mut bytes = std::fs::read(&entry).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&entry, bytes).unwrap();
    }
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("rejected: corrupt entry"),
        "{}",
        out.stderr
    );
    assert_eq!(runs(&repo), "abab");
    assert_eq!(repo.read("out/b.txt"), "HELLO\n");
}

#[test]
fn dry_run_and_explain_say_why() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    repo.write("src/one.txt", "other\n");
    let out = repo.run(&["run", "--dry-run"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("input changed: src/one.txt"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("after a"), "{}", out.stdout);
    assert_eq!(runs(&repo), "ab", "dry run runs nothing");
    let out = repo.run(&["explain", "a"]);
    out.expect_code(0);
    assert!(out.stdout.contains("src/one.txt"), "{}", out.stdout);
    assert!(
        out.stdout.contains("input changed: src/one.txt"),
        "{}",
        out.stdout
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
