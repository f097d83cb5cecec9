//! The cache's budget (SPEC 11): least-recently-used eviction at the end of a run (a hit is a
//! use), `max_age`, entries another runner has just written kept, `runner cache prune
//! [--dry-run]`, `runner cache stats`, bounded logs, and the no-op run that writes nothing.
//! Runs are placed in time with `--now`; "another runner" writes an entry file again, and
//! files are made older than the grace period by setting their modification time back.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::harness::Repo;

/// Gates `a` to `d`, each writing a 20,000-byte artifact (an entry of about 20.5 KB).
fn repo(max_size: &str) -> Repo {
    let mut body = format!("[settings.cache]\nmax_size = \"{max_size}\"\n");
    for g in ["a", "b", "c", "d"] {
        body += &format!(
            "\n[gates.{g}]\nrun = \"mkdir -p out && yes {g} | head -c 20000 > out/{g}.bin\"\nartifacts = [\"out/{g}.bin\"]\n"
        );
    }
    Repo::new().gates(&body)
}

/// `2026-11-02T10:00:00Z` plus `minutes`.
fn at(minutes: u32) -> String {
    format!(
        "2026-11-02T{:02}:{:02}:00Z",
        10 + minutes / 60,
        minutes % 60
    )
}

fn run(repo: &Repo, gates: &[&str], minutes: u32) {
    let now = at(minutes);
    let mut args = vec!["run", "--now", &now];
    args.extend_from_slice(gates);
    repo.run(&args).expect_code(0);
}

/// The entry file of the key a gate's last run reported.
fn entry_of(repo: &Repo, gate: &str) -> PathBuf {
    let key = repo.gate(gate)["key"]
        .as_str()
        .expect("the gate has a key")
        .to_owned();
    repo.path(&format!("cache/entries/{}/{key}", &key[..2]))
}

/// Every entry file.
fn entries(repo: &Repo) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(repo.path("cache/entries"))
        .into_iter()
        .flatten()
    {
        let shard = shard.expect("shard").path();
        if shard.is_dir() {
            out.extend(
                std::fs::read_dir(&shard)
                    .expect("shard")
                    .map(|e| e.expect("e").path()),
            );
        }
    }
    out
}

/// Make every entry file (and log) look written an hour ago: past the grace period.
fn age_files(repo: &Repo) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let logs = std::fs::read_dir(repo.path("cache/logs"))
        .into_iter()
        .flatten();
    for path in entries(repo)
        .into_iter()
        .chain(logs.map(|e| e.expect("log").path()))
    {
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(hour_ago))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn the_least_recently_used_entries_go_first_and_a_hit_is_a_use() {
    let repo = repo("60KB");
    run(&repo, &["a"], 0);
    let a = entry_of(&repo, "a");
    run(&repo, &["b"], 60);
    let b = entry_of(&repo, "b");
    // Two hours later `a` is replayed: its use is newer than `b`'s store.
    run(&repo, &["a"], 120);
    assert_eq!(repo.status("a"), ("pass".to_owned(), true));
    // A third entry puts the cache over 60 KB (entries and the folder's own files): the least
    // recently used goes, down to 90% of it.
    run(&repo, &["c"], 180);
    let c = entry_of(&repo, "c");
    assert!(!b.exists(), "b, used least recently, was evicted");
    assert!(
        a.exists() && c.exists(),
        "a (replayed) and c (just stored) stay"
    );
    let bytes: u64 = entries(&repo)
        .iter()
        .map(|p| std::fs::metadata(p).expect("entry").len())
        .sum();
    assert!(bytes <= 54_000, "{bytes} bytes left");
    assert_eq!(entries(&repo).len(), 2);
    // An evicted entry is a miss (once its artifact is gone); a kept one restores.
    std::fs::remove_file(repo.path("out/a.bin")).expect("rm");
    std::fs::remove_file(repo.path("out/b.bin")).expect("rm");
    run(&repo, &["a", "b"], 240);
    assert_eq!(repo.status("a"), ("pass".to_owned(), true));
    assert_eq!(repo.status("b"), ("pass".to_owned(), false));
}

/// Another runner storing the same key again: the entry file is written anew (same bytes).
fn rewrite(entry: &PathBuf) {
    let bytes = std::fs::read(entry).expect("entry");
    let tmp = entry.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, entry).expect("rename");
}

#[test]
fn entries_past_max_age_go_but_not_one_another_runner_just_wrote() {
    let repo = repo("5GiB");
    run(&repo, &["a"], 0);
    let a = entry_of(&repo, "a");
    run(&repo, &["b"], 0);
    let b = entry_of(&repo, "b");
    // 31 days later: b, unused since, goes; a was just written again by another runner, which
    // has not recorded it yet: kept.
    rewrite(&a);
    let later = "2026-12-03T10:00:00Z";
    repo.run(&["run", "--now", later, "c"]).expect_code(0);
    assert!(!b.exists(), "unused for 31 days: evicted");
    assert!(a.exists(), "just written by another runner: kept");
    // Once that is older than the grace period, it goes too.
    age_files(&repo);
    repo.run(&["run", "--now", later, "d"]).expect_code(0);
    assert!(!a.exists());
    assert!(entry_of(&repo, "d").exists());
}

#[test]
fn a_no_op_run_within_the_hour_writes_nothing_to_the_ledger() {
    let repo = repo("5GiB");
    run(&repo, &[], 0);
    let ledger = repo.path("cache/ledger.bin");
    let stamp = |p: &PathBuf| {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(p).expect("ledger");
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let first = stamp(&ledger);
    run(&repo, &[], 10);
    assert_eq!(repo.status("a"), ("pass".to_owned(), true));
    assert_eq!(stamp(&ledger), first, "ten minutes later: no write");
    run(&repo, &[], 130);
    assert_ne!(
        stamp(&ledger),
        first,
        "two hours later the uses are recorded"
    );
}

#[test]
fn prune_dry_run_lists_and_removes_nothing_then_prune_removes() {
    let repo = repo("5GiB");
    run(&repo, &["a"], 0);
    let a = entry_of(&repo, "a");
    run(&repo, &["b"], 60);
    let b = entry_of(&repo, "b");
    run(&repo, &["c"], 120);
    let c = entry_of(&repo, "c");
    let out = repo.run(&[
        "cache",
        "prune",
        "--max-size",
        "30KB",
        "--dry-run",
        "--now",
        &at(180),
    ]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("would remove 2 entries"),
        "{}",
        out.stdout
    );
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        listed,
        ["a", "b"],
        "least recently used first:\n{}",
        out.stdout
    );
    assert!(
        a.exists() && b.exists() && c.exists(),
        "a dry run removes nothing"
    );
    let out = repo.run(&["cache", "prune", "--max-size", "30KB", "--now", &at(180)]);
    out.expect_code(0);
    assert!(out.stdout.contains("removed 2 entries"), "{}", out.stdout);
    assert!(out.stdout.contains("left 1 entry"), "{}", out.stdout);
    assert!(!a.exists() && !b.exists() && c.exists());
    // --max-age: everything unused for a day goes, but not what another runner just wrote.
    rewrite(&c);
    let prune_old = || {
        let now = "2026-11-04T10:00:00Z";
        repo.run(&["cache", "prune", "--max-age", "1d", "--now", now])
    };
    let out = prune_old();
    out.expect_code(0);
    assert!(out.stdout.contains("removed 0 entries"), "{}", out.stdout);
    assert!(
        out.stdout.contains("kept 1 entry written less than 1m ago"),
        "{}",
        out.stdout
    );
    assert!(c.exists());
    age_files(&repo);
    let out = prune_old();
    assert!(out.stdout.contains("removed 1 entry"), "{}", out.stdout);
    assert!(!c.exists());
}

/// The bound of a cut log includes its first line, so a cache entry (which keeps the last
/// 4 MiB of a log) keeps the whole cut log, and a replay shows it as the run left it.
#[test]
fn a_replayed_long_log_is_the_cut_log_with_its_first_line() {
    let repo = Repo::new().gates(
        r#"
[gates.noisy]
run = "yes xxxxxxxxx | head -c 6000000; echo done > out.txt"
artifacts = ["out.txt"]
"#,
    );
    repo.run(&["run"]).expect_code(0);
    let log = repo.path("cache/logs/noisy.log");
    let cut = std::fs::read(&log).expect("log");
    assert!(cut.starts_with(b"[runner: the first "));
    // Replayed from the entry: the artifact and the log are written back from it.
    std::fs::remove_file(repo.path("out.txt")).expect("artifact");
    std::fs::remove_file(&log).expect("log");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("noisy"), ("pass".into(), true));
    let replayed = std::fs::read(&log).expect("replayed log");
    let first = replayed.split(|&b| b == b'\n').next().unwrap_or_default();
    assert!(
        first.starts_with(b"[runner: the first "),
        "the replayed log's first line: {}",
        String::from_utf8_lossy(&first[..first.len().min(120)])
    );
    assert!(replayed == cut, "the replay shows the log the run left");
    assert!(
        cut.len() <= 4 * 1024 * 1024,
        "a cut log, its first line included, is at most 4 MiB: {} bytes",
        cut.len()
    );
}

/// A gate run under `--trace-inputs` keeps the same bounded log as an untraced one.
#[test]
fn a_traced_gates_long_log_is_cut_too() {
    let repo = Repo::new().gates(
        r#"
[gates.noisy]
run = "yes xxxxxxxxx | head -c 6000000"
"#,
    );
    repo.run(&["run", "--trace-inputs"]).expect_code(0);
    let log = std::fs::read(repo.path("cache/logs/noisy.log")).expect("log");
    assert!(log.len() <= 4 * 1024 * 1024, "{} bytes", log.len());
    assert!(
        log.starts_with(b"[runner: the first "),
        "a line says what was cut"
    );
    assert!(log.ends_with(b"x\n"));
}

/// `max_size` is described as what eviction counts against it: the entries and the cache
/// folder's own files, in the schema and in `runner cache prune --help`.
#[test]
fn max_size_is_described_as_what_eviction_counts() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/gates.schema.json"
        ))
        .expect("schema"),
    )
    .expect("JSON");
    let described =
        schema["$defs"]["settings"]["properties"]["cache"]["properties"]["max_size"]["description"]
            .as_str()
            .expect("a description");
    assert!(
        described.contains("its entries and the files directly in it"),
        "{described}"
    );
    let help = Repo::new().gates("").run(&["cache", "prune", "--help"]);
    help.expect_code(0);
    let help = help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains(
            "--max-size <SIZE> The size to bring the entries and the cache folder's own files"
        ),
        "{help}"
    );
}

#[test]
fn stats_count_entries_bytes_uses_and_the_hit_rate() {
    let repo = repo("1MiB");
    let out = repo.run(&["cache", "stats"]);
    out.expect_code(0);
    assert!(out.stdout.contains("entries: 0 "), "{}", out.stdout);
    assert!(out.stdout.contains("hit rate: - "), "{}", out.stdout);
    run(&repo, &[], 0);
    run(&repo, &[], 30);
    let out = repo.run(&["cache", "stats", "--now", &at(60)]);
    out.expect_code(0);
    let text = &out.stdout;
    assert!(text.contains("entries: 4 ("), "{text}");
    assert!(text.contains("of max_size 1.0 MiB"), "{text}");
    assert!(
        text.contains("oldest use: 2026-11-02T10:00:00Z (1h ago"),
        "{text}"
    );
    assert!(
        text.contains(
            "hit rate: 50% (4 of 8 gate results replayed from the cache over the last 2 runs)"
        ),
        "{text}"
    );
    assert!(text.contains("logs: 4 files"), "{text}");
}

#[test]
fn logs_of_removed_gates_are_pruned_and_long_logs_cut() {
    let repo = Repo::new().gates(
        r#"
[gates.keep]
run = "yes xxxxxxxxx | head -c 6000000"

[gates.gone]
run = "echo bye"
"#,
    );
    repo.run(&["run"]).expect_code(0);
    let log = std::fs::read(repo.path("cache/logs/keep.log")).expect("log");
    assert!(log.len() <= 4 * 1024 * 1024 + 200, "{} bytes", log.len());
    assert!(
        log.starts_with(b"[runner: the first "),
        "a line says what was cut"
    );
    assert!(log.ends_with(b"x\n"));
    repo.write(
        "gates.toml",
        "version = 1\n[gates.keep]\nrun = \"echo hi\"\n",
    );
    age_files(&repo);
    let out = repo.run(&["cache", "prune"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("removed the logs of 1 gate no longer in the config: gone"),
        "{}",
        out.stdout
    );
    assert!(!repo.path("cache/logs/gone.log").exists());
    assert!(repo.path("cache/logs/keep.log").exists());
}
