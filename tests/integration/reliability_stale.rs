//! Stale state left by a killed runner: temporary entry files in `cache/tmp`, half-written
//! `.tmp-*` files next to the index, stat cache and report. The next run cleans the old ones,
//! leaves young ones alone (they may belong to a runner still writing), and is right.
//!
//! The runner keeps no lock files (entries and state files land by rename, history lines by
//! `O_APPEND`), so there is no lock to break; the crash and concurrency tests cover the rest.

use std::time::{Duration, SystemTime};

use crate::harness::Repo;
use crate::reliability_support::{assert_entries_intact, warnings};

fn age(path: &std::path::Path, by: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - by)
        .unwrap();
}

fn repo() -> Repo {
    let repo = Repo::new().gates(
        "[gates.g]\nrun = \"cat src/in.txt > out.txt\"\ninputs = [\"src/in.txt\"]\nartifacts = [\"out.txt\"]\n",
    );
    repo.write("src/in.txt", "in\n");
    repo
}

#[test]
fn old_temporaries_are_cleaned_and_young_ones_kept() {
    let repo = repo();
    repo.run(&["run"]).expect_code(0);
    let two_hours = Duration::from_secs(2 * 3600);
    // What a runner killed mid-write leaves: a torn entry in tmp/, torn state files beside
    // the index (one looks like a valid prefix of the index).
    let index = std::fs::read(repo.path("cache/index.bin")).unwrap();
    let stale = [
        ("cache/tmp/entry-AbC123", b"RUNNER-ENTRY-1\ntorn".to_vec()),
        ("cache/.tmp-Xy12z9", index[..index.len() / 2].to_vec()),
        ("cache/.tmp-Q0w9e8", b"RUNNER-STAT-1\n".to_vec()),
    ];
    for (path, bytes) in &stale {
        repo.write_bytes(path, bytes);
        age(&repo.path(path), two_hours);
    }
    // Young ones: a runner may be writing them right now.
    let young = ["cache/tmp/entry-young1", "cache/.tmp-young2"];
    for path in young {
        repo.write(path, "being written");
    }
    std::fs::remove_file(repo.path("out.txt")).unwrap();
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(warnings(&out.stderr).is_empty(), "{}", out.stderr);
    assert_eq!(repo.status("g"), ("pass".into(), true));
    assert_eq!(repo.read("out.txt"), "in\n");
    for (path, _) in &stale {
        assert!(!repo.path(path).exists(), "{path} was not cleaned");
    }
    for path in young {
        assert!(repo.path(path).exists(), "{path} was removed while young");
    }
    assert_entries_intact(&repo.path("cache"));
}

#[test]
fn a_stale_temporary_is_never_taken_for_the_real_file() {
    // With the index and stat cache gone, only torn temporaries remain beside where they
    // were: the run must not read them, and must rebuild both.
    let repo = repo();
    repo.run(&["run"]).expect_code(0);
    for name in ["index.bin", "stat-cache.bin"] {
        let p = repo.path(&format!("cache/{name}"));
        let bytes = std::fs::read(&p).unwrap();
        repo.write_bytes(&format!("cache/.tmp-{name}"), &bytes[..bytes.len() - 3]);
        std::fs::remove_file(p).unwrap();
    }
    repo.write("src/in.txt", "changed\n");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(warnings(&out.stderr).is_empty(), "{}", out.stderr);
    assert_eq!(repo.read("out.txt"), "changed\n");
    assert!(repo.path("cache/index.bin").exists());
    assert!(repo.path("cache/stat-cache.bin").exists());
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("g"), ("pass".into(), true));
}
