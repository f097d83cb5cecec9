//! The listing cache (folder stat -> entries): a cached folder listing never hides a file the
//! globs match, and a broken cache file is a warning, never a wrong result.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::harness::Repo;

const LISTINGS: &str = "cache/listing-cache.bin";

/// `a` reads `src/*.txt`, `b` reads `deep/**/*.txt`; both count their executions in `runs.log`.
fn repo() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "echo a >> runs.log"
inputs = ["src/*.txt"]

[gates.b]
run = "echo b >> runs.log"
inputs = ["deep/**/*.txt"]
"#,
    );
    repo.write("src/one.txt", "one\n");
    repo.write("deep/x/two.txt", "two\n");
    repo
}

/// How many times `a` and `b` ran (they may run in either order).
fn runs(repo: &Repo) -> (usize, usize) {
    let log = std::fs::read_to_string(repo.path("runs.log")).unwrap_or_default();
    let count = |g| log.lines().filter(|l| *l == g).count();
    (count("a"), count("b"))
}

fn key(repo: &Repo, gate: &str) -> String {
    repo.gate(gate)["key"].as_str().expect("key").to_owned()
}

fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect()
}

fn changed_at(p: &Path) -> (i64, i64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.mtime(), m.mtime_nsec()).max((m.ctime(), m.ctime_nsec()))
}

/// Wait until the filesystem clock is past the last change of every folder of the repository,
/// so that the next run's stamp is newer and the listings it records are trusted afterwards.
fn past_last_change(repo: &Repo) {
    let folders = ["", "src", "deep", "deep/x"];
    let newest = folders
        .iter()
        .filter(|f| repo.path(f).exists())
        .map(|f| changed_at(&repo.path(f)))
        .max()
        .unwrap();
    let probe = repo.path("cache/probe");
    loop {
        std::fs::write(&probe, b"").unwrap();
        if changed_at(&probe) > newest {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Run until every gate is cached and every listing is trusted: a further no-op run serves
/// every folder from the cache, so it does not rewrite the cache file.
fn settled() -> Repo {
    let repo = repo();
    repo.run(&["run"]).expect_code(0);
    past_last_change(&repo);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (1, 1));
    let ino = std::fs::metadata(repo.path(LISTINGS)).unwrap().ino();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        std::fs::metadata(repo.path(LISTINGS)).unwrap().ino(),
        ino,
        "a no-op run with trusted listings leaves the listing cache alone"
    );
    assert_eq!(runs(&repo), (1, 1));
    assert_eq!(repo.report()["summary"]["cached"], 2);
    repo
}

#[test]
fn a_new_matching_file_reruns_its_gate() {
    let repo = settled();
    let before = key(&repo, "a");
    repo.write("src/new.txt", "new\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (2, 1));
    assert_ne!(key(&repo, "a"), before);
    assert_eq!(repo.status("b"), ("pass".into(), true));
}

#[test]
fn a_deleted_matching_file_reruns_its_gate() {
    let repo = settled();
    repo.write("src/other.txt", "other\n");
    repo.run(&["run"]).expect_code(0);
    past_last_change(&repo);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (2, 1));
    let before = key(&repo, "a");
    std::fs::remove_file(repo.path("src/one.txt")).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (3, 1));
    assert_ne!(key(&repo, "a"), before);
}

#[test]
fn a_file_in_a_new_subfolder_under_double_star_reruns_its_gate() {
    let repo = settled();
    let before = key(&repo, "b");
    repo.write("deep/x/new/deeper/three.txt", "three\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (1, 2));
    assert_ne!(key(&repo, "b"), before);
    // And one more level below, once that folder is cached too.
    past_last_change(&repo);
    repo.run(&["run"]).expect_code(0);
    repo.write("deep/x/new/deeper/more/four.txt", "four\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (1, 3));
}

#[test]
fn a_file_created_in_the_tick_of_the_last_run_is_seen() {
    let repo = repo();
    repo.run(&["run"]).expect_code(0);
    // Right after the run, and with the folder's mtime set to that run's stamp: the folder
    // changed in the same timestamp tick as it was listed.
    repo.write("src/racy.txt", "racy\n");
    let stamp = std::fs::metadata(repo.path("cache/listing-cache.stamp"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::File::open(repo.path("src"))
        .unwrap()
        .set_modified(stamp)
        .unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (2, 1));
    assert_eq!(repo.status("a"), ("pass".into(), false));
}

#[test]
fn a_new_file_the_globs_do_not_match_reruns_nothing() {
    let repo = settled();
    repo.write("src/notes.md", "notes\n");
    repo.write("deep/x/y/notes.md", "notes\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (1, 1));
    assert_eq!(repo.report()["summary"]["cached"], 2);
}

#[test]
fn a_symlink_whose_target_appears_becomes_an_input() {
    // Whether a symlink is a file depends on its target, which can change without its folder
    // changing: a folder holding a symlink is read on every run.
    let repo = repo();
    std::os::unix::fs::symlink("../elsewhere/t.txt", repo.path("src/link.txt")).unwrap();
    repo.run(&["run"]).expect_code(0);
    past_last_change(&repo);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (1, 1));
    repo.write("elsewhere/t.txt", "target\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (2, 1));
    std::fs::remove_file(repo.path("elsewhere/t.txt")).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo), (2, 1), "back to the first file set: a replay");
    assert_eq!(repo.status("a"), ("pass".into(), true));
}

#[test]
fn a_corrupt_listing_cache_is_reported_once_and_ignored() {
    let repo = settled();
    let good = std::fs::read(repo.path(LISTINGS)).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    for (how, bad) in [
        ("flipped", flipped),
        ("truncated", good[..good.len() - 7].to_vec()),
        ("emptied", Vec::new()),
        ("garbage", b"\x00\xffnot a state file\n".repeat(10)),
    ] {
        std::fs::write(repo.path(LISTINGS), &bad).unwrap();
        // Change the file set as well: a corrupt cache must not hide it.
        repo.write(&format!("src/{how}.txt"), "x\n");
        let before = runs(&repo);
        let out = repo.run(&["run"]);
        out.expect_code(0);
        let w = warnings(&out.stderr);
        assert_eq!(w.len(), 1, "{how}: one warning, got:\n{}", out.stderr);
        assert!(w[0].contains("listing-cache.bin"), "{how}: {}", w[0]);
        assert_eq!(runs(&repo), (before.0 + 1, before.1), "{how}");
        // Rebuilt whole: the next run has nothing to report and nothing to do.
        let again = repo.run(&["run"]);
        again.expect_code(0);
        assert!(
            warnings(&again.stderr).is_empty(),
            "{how}: {}",
            again.stderr
        );
        assert_eq!(repo.report()["summary"]["cached"], 2, "{how}");
    }
}
