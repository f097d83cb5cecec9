//! Input mutation: a gate that edits its own declared input while it runs, or an input edited
//! by someone else while the gate runs, must not leave a result stored under the key of the
//! content it started from. The scheduler re-checks the inputs after the gate: a changed stat
//! leads to a re-hash, and changed content is an `error` naming the files (issue 20: the
//! verdict was made on other content than the key's); the same bytes rewritten is no change.

use std::time::{Duration, Instant};

use crate::harness::Repo;
use crate::reliability_support::{Group, assert_entries_intact, warnings};

fn runs(repo: &Repo) -> usize {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn a_gate_editing_its_own_input_is_an_error_and_not_cached() {
    // A linter with `fix = true`: the gate rewrites its input and passes.
    let repo = Repo::new().gates(
        r#"
[gates.fixer]
run = "echo run >> runs.log; echo fixed >> src/in.txt; cat src/in.txt > out.txt"
inputs = ["src/in.txt"]
artifacts = ["out.txt"]
"#,
    );
    repo.write("src/in.txt", "line\n");
    let out = repo.run(&["run"]);
    out.expect_code(1);
    let g = repo.gate("fixer");
    assert_eq!(g["status"], "error");
    let reason = g["reason"].as_str().unwrap();
    assert!(
        reason.contains("changed its own inputs while it ran: src/in.txt")
            && reason.contains("fix = true"),
        "{reason}"
    );
    assert_eq!(
        assert_entries_intact(&repo.path("cache")),
        0,
        "nothing stored"
    );
}

#[test]
fn a_gate_rewriting_its_input_with_the_same_bytes_stays_cached_without_a_warning() {
    // A build tool regenerating a file it also reads (egg-info): new inode, new times, the
    // same bytes. And a gate that edits its input, reads it, and puts it back: the content the
    // key was made from is on disk again, and a run from it gives the same output again.
    for run in [
        "echo run >> runs.log; cp src/in.txt tmp; mv tmp src/in.txt; cat src/in.txt > out.txt",
        "echo run >> runs.log; cp src/in.txt orig; echo extra >> src/in.txt; cat src/in.txt > out.txt; mv orig src/in.txt",
    ] {
        let repo = Repo::new().gates(&format!(
            "[gates.regen]\nrun = \"{run}\"\ninputs = [\"src/in.txt\"]\nartifacts = [\"out.txt\"]\n"
        ));
        repo.write("src/in.txt", "line\n");
        let out = repo.run(&["run"]);
        out.expect_code(0);
        assert!(warnings(&out.stderr).is_empty(), "{}", out.stderr);
        let first = repo.read("out.txt");
        repo.run(&["run"]).expect_code(0);
        assert_eq!(repo.status("regen"), ("pass".into(), true), "{run}");
        assert_eq!(runs(&repo), 1);
        assert_eq!(repo.read("out.txt"), first);
        assert_eq!(repo.read("src/in.txt"), "line\n");
    }
}

#[test]
fn an_input_edited_by_someone_else_mid_run_is_not_cached() {
    let repo = Repo::new().gates(
        r#"
[gates.slow]
run = "echo run >> runs.log; touch started; sleep 1; cat src/in.txt > out.txt"
inputs = ["src/in.txt"]
artifacts = ["out.txt"]
"#,
    );
    repo.write("src/in.txt", "old\n");
    let logs = tempfile::tempdir().unwrap();
    let mut runner = Group::spawn(&repo, &["run"], &[], logs.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !repo.path("started").exists() {
        assert!(Instant::now() < deadline, "the gate never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The key was made from "old"; the gate will read "new".
    repo.write("src/in.txt", "new\n");
    assert_eq!(runner.wait(Duration::from_secs(30)), Some(1));
    assert_eq!(repo.read("out.txt"), "new\n");
    let g = repo.gate("slow");
    assert_eq!(g["status"], "error");
    assert!(
        g["reason"]
            .as_str()
            .unwrap()
            .contains("changed its own inputs while it ran: src/in.txt"),
        "{g}"
    );
    assert_eq!(assert_entries_intact(&repo.path("cache")), 0);
    // Back to "old": a stored result would replay "new" here. It must run and say "old".
    repo.write("src/in.txt", "old\n");
    std::fs::remove_file(repo.path("started")).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out.txt"), "old\n");
    assert_eq!(repo.status("slow"), ("pass".into(), false));
    assert_eq!(runs(&repo), 2);
    // Now it was stored, and replays.
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("slow"), ("pass".into(), true));
}

#[test]
fn an_input_deleted_or_created_mid_run_is_not_cached() {
    // A glob's file set changing while the gate runs: a file deleted, or one created that the
    // glob would match. The deleted file's stat changes; the new file is not in the key.
    let repo = Repo::new().gates(
        r#"
[gates.lister]
run = "echo run >> runs.log; touch started; sleep 1; cat src/*.txt > out.txt"
inputs = ["src/*.txt"]
artifacts = ["out.txt"]
"#,
    );
    repo.write("src/a.txt", "a\n");
    repo.write("src/b.txt", "b\n");
    let logs = tempfile::tempdir().unwrap();
    let mut runner = Group::spawn(&repo, &["run"], &[], logs.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !repo.path("started").exists() {
        assert!(Instant::now() < deadline, "the gate never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(repo.path("src/b.txt")).unwrap();
    assert_eq!(runner.wait(Duration::from_secs(30)), Some(1));
    assert_eq!(repo.read("out.txt"), "a\n");
    assert!(
        repo.gate("lister")["reason"]
            .as_str()
            .unwrap()
            .contains("src/b.txt"),
        "a deleted input is named"
    );
    assert_eq!(
        assert_entries_intact(&repo.path("cache")),
        0,
        "deleted input"
    );
    repo.write("src/b.txt", "b\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out.txt"), "a\nb\n");

    // Now a file the glob matches appears while the gate runs: the key knows only a and b.
    std::fs::remove_file(repo.path("started")).unwrap();
    repo.write("src/a.txt", "a2\n");
    let mut runner = Group::spawn(&repo, &["run"], &[], logs.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !repo.path("started").exists() {
        assert!(Instant::now() < deadline, "the gate never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    repo.write("src/c.txt", "c\n");
    assert_eq!(runner.wait(Duration::from_secs(30)), Some(0));
    assert_eq!(repo.read("out.txt"), "a2\nb\nc\n");
    let stderr = std::fs::read_to_string(logs.path().join("1.err")).unwrap();
    assert!(stderr.contains("changed while it ran"), "{stderr}");
    // Without c again: a stored result would replay c's line here.
    std::fs::remove_file(repo.path("src/c.txt")).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out.txt"), "a2\nb\n");
}

#[test]
fn a_needed_artifact_rewritten_mid_run_is_not_cached() {
    // What a second runner on the same repository can do: re-run the upstream gate, rewriting
    // its artifact, while this runner's downstream gate reads it. The downstream key holds the
    // upstream bytes as they were before; its output comes from the rewritten ones.
    let repo = Repo::new().gates(
        r#"
[gates.up]
run = "cat src/in.txt > up.txt"
inputs = ["src/in.txt"]
artifacts = ["up.txt"]

[gates.down]
run = "echo run >> runs.log; touch started; sleep 1; cat up.txt > down.txt"
needs = ["up"]
artifacts = ["down.txt"]
"#,
    );
    repo.write("src/in.txt", "up\n");
    let logs = tempfile::tempdir().unwrap();
    let mut runner = Group::spawn(&repo, &["run"], &[], logs.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !repo.path("started").exists() {
        assert!(Instant::now() < deadline, "the gate never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    repo.write("up.txt", "rewritten by someone else\n");
    assert_eq!(runner.wait(Duration::from_secs(30)), Some(0));
    assert_eq!(repo.read("down.txt"), "rewritten by someone else\n");
    let stderr = std::fs::read_to_string(logs.path().join("0.err")).unwrap();
    assert!(
        stderr.contains("gate `down` changed while it ran"),
        "{stderr}"
    );
    // The upstream artifact back as the key knew it: `down` must run, not replay.
    repo.write("up.txt", "up\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("down.txt"), "up\n");
    assert_eq!(runs(&repo), 2);
}
