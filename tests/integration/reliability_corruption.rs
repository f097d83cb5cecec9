//! Corruption: bytes flipped in, files truncated, parts cut out of cache entries, the cache
//! index and the stat cache; garbage in the history file. Each is detected, reported once
//! (naming the entry's key or the file's path), treated as a miss or a skipped line, and the
//! run's result and artifacts are right.

use crate::harness::Repo;
use crate::reliability_support::{Rng, assert_entries_intact, walk, warnings};

/// `b` copies `a`'s output; `a` upper-cases `src/*.txt`; both count runs in `runs.log`.
fn two_gates() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "echo a >> runs.log; mkdir -p out; cat src/*.txt | tr a-z A-Z > out/a.txt"
inputs = ["src/*.txt"]
artifacts = ["out/a.txt"]

[gates.b]
run = "echo b >> runs.log; cp out/a.txt out/b.txt"
needs = ["a"]
artifacts = ["out/b.txt"]
"#,
    );
    repo.write("src/one.txt", &"hello corruption\n".repeat(100));
    repo
}

fn runs(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .replace('\n', "")
}

fn assert_right(repo: &Repo) {
    assert_eq!(repo.read("out/a.txt"), "HELLO CORRUPTION\n".repeat(100));
    assert_eq!(repo.read("out/b.txt"), "HELLO CORRUPTION\n".repeat(100));
    assert_eq!(repo.status("a").0, "pass");
    assert_eq!(repo.status("b").0, "pass");
}

/// The entry file of gate `a` (the only entry whose manifest names it).
fn entry_of_a(repo: &Repo) -> std::path::PathBuf {
    walk(&repo.path("cache/entries"))
        .into_iter()
        .find(|p| {
            std::fs::read(p)
                .map(|d| String::from_utf8_lossy(&d).contains("\"gate\":\"a\""))
                .unwrap_or(false)
        })
        .expect("entry of a")
}

/// Ways to damage a file's bytes: each returns the damaged copy (never equal to the input).
fn damages(bytes: &[u8], rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let len = bytes.len();
    let mut out = Vec::new();
    // Flips in the magic, the manifest, the contents, the log, and the trailing checksum.
    for at in [
        0,
        20,
        len / 3,
        len / 2,
        len - 40,
        len - 1,
        usize::try_from(rng.below(len as u64)).unwrap_or(0),
    ] {
        let mut b = bytes.to_vec();
        b[at] ^= 1 << rng.below(8);
        out.push((format!("bit flipped at {at}"), b));
    }
    for keep in [0, 1, 10, len / 2, len - 32, len - 1] {
        out.push((format!("truncated to {keep}"), bytes[..keep].to_vec()));
    }
    let (from, to) = (len / 4, len / 2);
    let mut cut = bytes[..from].to_vec();
    cut.extend_from_slice(&bytes[to..]);
    out.push((format!("bytes {from}..{to} cut out"), cut));
    let mut extra = bytes.to_vec();
    extra.extend_from_slice(b"trailing junk");
    out.push(("junk appended".to_owned(), extra));
    out
}

#[test]
fn damaged_cache_entries_are_misses_reported_once() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let path = entry_of_a(&repo);
    let key = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap()
        .to_owned();
    let good = std::fs::read(&path).unwrap();
    let mut rng = Rng::new(7);
    let mut expected_runs = runs(&repo);
    for (how, bad) in damages(&good, &mut rng) {
        // Force a read of the entry: the artifacts are gone and so is the index.
        std::fs::remove_dir_all(repo.path("out")).unwrap();
        std::fs::remove_file(repo.path("cache/index.bin")).unwrap();
        std::fs::write(&path, &bad).unwrap();
        let out = repo.run(&["run"]);
        out.expect_code(0);
        let w = warnings(&out.stderr);
        assert_eq!(w.len(), 1, "{how}: one warning, got:\n{}", out.stderr);
        assert!(
            w[0].contains(&key) && w[0].contains("rejected") && w[0].contains("gate `a`"),
            "{how}: the warning names the entry and the gate: {}",
            w[0]
        );
        // a ran again (a miss); b's entry was fine and a's output is the same: b replays.
        expected_runs.push('a');
        assert_eq!(runs(&repo), expected_runs, "{how}");
        assert_right(&repo);
        assert_eq!(repo.status("a"), ("pass".into(), false), "{how}");
        assert_eq!(repo.status("b"), ("pass".into(), true), "{how}");
        // The bad entry was replaced by a good one (same artifacts; a new time stamp).
        let key = runner::fingerprint::CacheKey::from_hex(&key).unwrap();
        let now = runner::cache::Entry::decode(&std::fs::read(&path).unwrap(), &key)
            .unwrap_or_else(|e| panic!("{how}: entry not rewritten whole: {e}"));
        let before = runner::cache::Entry::decode(&good, &key).unwrap();
        assert!(now.contents == before.contents, "{how}: same artifacts");
        assert_entries_intact(&repo.path("cache"));
    }
}

#[test]
fn an_entry_copied_under_another_key_is_rejected() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let a = entry_of_a(&repo);
    let b = walk(&repo.path("cache/entries"))
        .into_iter()
        .find(|p| *p != a)
        .expect("entry of b");
    // b's entry holds a's bytes: checksums are fine, the key inside is not b's.
    std::fs::copy(&a, &b).unwrap();
    std::fs::remove_dir_all(repo.path("out")).unwrap();
    std::fs::remove_file(repo.path("cache/index.bin")).unwrap();
    let out = repo.run(&["run"]);
    out.expect_code(0);
    let w = warnings(&out.stderr);
    assert_eq!(w.len(), 1, "{}", out.stderr);
    assert!(
        w[0].contains("gate `b`") && w[0].contains("not"),
        "{}",
        w[0]
    );
    assert_right(&repo);
    assert_eq!(runs(&repo), "abb");
}

#[test]
fn damaged_index_and_stat_cache_are_reported_once_and_rebuilt() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let mut rng = Rng::new(11);
    for file in ["cache/index.bin", "cache/stat-cache.bin"] {
        let good = std::fs::read(repo.path(file)).unwrap();
        let mut cases = damages(&good, &mut rng);
        cases.push(("emptied".to_owned(), Vec::new()));
        cases.push((
            "garbage".to_owned(),
            b"\x00\xffnot a state file\n".repeat(10),
        ));
        for (how, bad) in cases {
            std::fs::write(repo.path(file), &bad).unwrap();
            // Change the input as well: a stale stat cache must not hide the change.
            repo.write("src/one.txt", &format!("{how}\n"));
            let out = repo.run(&["run"]);
            out.expect_code(0);
            let w = warnings(&out.stderr);
            let path = repo.path(file).display().to_string();
            // An emptied file is a valid "nothing known" for neither: it is still reported.
            assert_eq!(
                w.len(),
                1,
                "{file} {how}: one warning, got:\n{}",
                out.stderr
            );
            assert!(
                w[0].contains(&path),
                "{file} {how}: names the file: {}",
                w[0]
            );
            assert_eq!(
                repo.read("out/b.txt"),
                how.to_uppercase() + "\n",
                "{file} {how}"
            );
            // The next run has nothing to report: the file was rewritten whole.
            let again = repo.run(&["run"]);
            again.expect_code(0);
            assert!(
                warnings(&again.stderr).is_empty(),
                "{file} {how}: rebuilt, got:\n{}",
                again.stderr
            );
            assert_eq!(repo.report()["summary"]["cached"], 2, "{file} {how}");
        }
    }
}

#[test]
fn a_stale_stat_cache_cannot_hide_a_changed_input() {
    // A stat cache copied from another moment (valid checksum, old hashes): the racy-clean
    // rule and the stat comparison must still see the new content.
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let old = std::fs::read(repo.path("cache/stat-cache.bin")).unwrap();
    repo.write("src/one.txt", "changed\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out/b.txt"), "CHANGED\n");
    std::fs::write(repo.path("cache/stat-cache.bin"), old).unwrap();
    repo.write("src/one.txt", "again\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out/b.txt"), "AGAIN\n");
}

#[test]
fn binary_garbage_in_the_history_is_skipped_and_the_run_is_right() {
    let repo = two_gates();
    repo.run(&["run"]).expect_code(0);
    let mut history = std::fs::read(repo.path(".runner/history.jsonl")).unwrap();
    let good_lines = history.iter().filter(|b| **b == b'\n').count();
    history.extend_from_slice(b"\x00\x01\xff\xfe binary\n");
    history.extend_from_slice(&[b'x'; 200_000]);
    history.extend_from_slice(b"\n{\"at\": 5}\n");
    // A torn last line without its newline.
    history.extend_from_slice(b"{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\",\"sta");
    std::fs::write(repo.path(".runner/history.jsonl"), &history).unwrap();
    let out = repo.run(&["run"]);
    out.expect_code(0);
    let w = warnings(&out.stderr);
    assert_eq!(w.len(), 4, "one warning per bad line:\n{}", out.stderr);
    for (warning, line) in w.iter().zip(good_lines + 1..) {
        assert!(
            warning.contains(&format!(".runner/history.jsonl:{line}: skipped")),
            "{warning}"
        );
    }
    assert_right(&repo);
    // The run's own lines were appended whole, after the torn one.
    let text = std::fs::read(repo.path(".runner/history.jsonl")).unwrap();
    let last: Vec<&[u8]> = text.split(|b| *b == b'\n').rev().skip(1).take(2).collect();
    for line in last {
        let v: serde_json::Value = serde_json::from_slice(line).expect("appended line parses");
        assert_eq!(v["status"], "pass");
    }
    // And the same four are reported again, no more (the new lines are good).
    let out = repo.run(&["run"]);
    assert_eq!(warnings(&out.stderr).len(), 4, "{}", out.stderr);
}
