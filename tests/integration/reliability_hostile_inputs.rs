//! Hostile and odd inputs: file names with spaces, newlines and bytes that are not UTF-8;
//! symlink loops; a gate printing 300 MB; a gate closing its output early; a daemon left
//! behind; a gate ignoring SIGTERM at its timeout; a read-only and a full cache folder.

use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::Repo;
use crate::reliability_support::{EnvSweeper, explain_key, run_measuring_memory, warnings};

fn runs(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .replace('\n', "")
}

/// Write a file whose name is given as raw bytes, below `dir`.
fn write_raw(dir: &Path, name: &[u8], content: &str) -> PathBuf {
    let p = dir.join(std::ffi::OsStr::from_bytes(name));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn odd_file_names_are_inputs_like_any_other() {
    let repo = Repo::new().gates(
        r#"
[gates.flat]
run = "echo f >> runs.log; ls data | wc -l > flat.txt"
inputs = ["data/*"]
artifacts = ["flat.txt"]

[gates.deep]
run = "echo d >> runs.log"
inputs = ["data/**"]
"#,
    );
    let data = repo.path("data");
    let names: [&[u8]; 5] = [
        b"with space.txt",
        b"new\nline.txt",
        b"\xff\xfe not utf8.txt",
        b"\\x:looks escaped",
        b"sub dir/\xc3 nested.txt",
    ];
    let files: Vec<PathBuf> = names.iter().map(|n| write_raw(&data, n, "one\n")).collect();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(runs(&repo).len(), 2);
    let explained = repo.run(&["explain", "deep"]);
    assert!(
        explained.stdout.contains("inputs (5):"),
        "{}",
        explained.stdout
    );
    let explained = repo.run(&["explain", "flat"]);
    assert!(
        explained.stdout.contains("inputs (4):"),
        "{}",
        explained.stdout
    );
    // A change in any one of them re-runs the gates that cover it, and only those.
    let count = |c: char| runs(&repo).matches(c).count();
    let (mut flat, mut deep) = (count('f'), count('d'));
    for (i, file) in files.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(5));
        std::fs::write(file, format!("changed {i}\n")).unwrap();
        repo.run(&["run"]).expect_code(0);
        flat += usize::from(i < 4);
        deep += 1;
        assert_eq!(
            (count('f'), count('d')),
            (flat, deep),
            "after changing {file:?}"
        );
    }
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        (count('f'), count('d')),
        (flat, deep),
        "then everything is cached"
    );
}

#[test]
fn symlink_loops_in_input_folders_do_not_hang_or_fail() {
    let repo = Repo::new()
        .gates("[gates.g]\nrun = \"echo g >> runs.log\"\ninputs = [\"data/**\", \"data/*\"]\n");
    repo.write("data/real.txt", "real\n");
    std::os::unix::fs::symlink(repo.path("data"), repo.path("data/self")).unwrap();
    std::os::unix::fs::symlink("..", repo.path("data/up")).unwrap();
    std::os::unix::fs::symlink("b", repo.path("data/a")).unwrap();
    std::os::unix::fs::symlink("a", repo.path("data/b")).unwrap();
    std::os::unix::fs::symlink("missing", repo.path("data/dangling")).unwrap();
    let start = Instant::now();
    repo.run(&["run"]).expect_code(0);
    assert!(start.elapsed() < Duration::from_secs(20));
    let out = repo.run(&["explain", "g"]);
    assert!(out.stdout.contains("inputs (1):"), "{}", out.stdout);
    assert!(out.stdout.contains("data/real.txt"), "{}", out.stdout);
}

#[test]
fn a_gate_printing_300_mb_does_not_grow_the_runner() {
    let repo = Repo::new().gates(
        "[gates.loud]\nrun = \"yes 'a line of output from a very loud gate' | head -c 300000000; echo done > loud.txt\"\nartifacts = [\"loud.txt\"]\n",
    );
    let (code, peak_kib, stderr) =
        run_measuring_memory(&repo, &["run"], &[], Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        peak_kib < 100 * 1024,
        "the runner's peak memory was {peak_kib} KiB"
    );
    // The log is bounded: its last 4 MiB, behind a line saying how much was cut.
    let log = std::fs::metadata(repo.path("cache/logs/loud.log")).unwrap();
    assert!(
        log.len() > 4 * 1024 * 1024 - 100 && log.len() < 4 * 1024 * 1024 + 200,
        "the log keeps its last 4 MiB: {} bytes",
        log.len()
    );
    let mut head = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(
            std::fs::File::open(repo.path("cache/logs/loud.log")).unwrap(),
        ),
        &mut head,
    )
    .unwrap();
    assert!(head.starts_with("[runner: the first "), "{head}");
    // The cached replay keeps the log's tail, and a replay does not grow the runner either.
    std::fs::remove_file(repo.path("loud.txt")).unwrap();
    let (code, peak_kib, stderr) =
        run_measuring_memory(&repo, &["run"], &[], Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(peak_kib < 100 * 1024, "replay peak {peak_kib} KiB");
    assert_eq!(repo.status("loud"), ("pass".into(), true));
    assert_eq!(repo.read("loud.txt"), "done\n");
    let _ = std::fs::remove_file(repo.path("cache/logs/loud.log"));
}

#[test]
fn a_gate_that_closes_its_output_early_is_judged_normally() {
    let repo = Repo::new().gates(
        r#"
[gates.closer]
run = "echo before; exec 1>&- 2>&-; sleep 0.2; echo quiet > closed.txt"
artifacts = ["closed.txt"]

[gates.failer]
run = "exec 1>&- 2>&-; exit 3"
mode = "observational"
"#,
    );
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert_eq!(repo.status("closer"), ("pass".into(), false));
    assert_eq!(repo.read("closed.txt"), "quiet\n");
    assert_eq!(repo.gate("failer")["reason"], "command exited with code 3");
    assert_eq!(repo.read("cache/logs/closer.log"), "before\n");
}

#[test]
fn a_daemon_that_escapes_the_group_and_keeps_the_output_open_does_not_hang_the_runner() {
    const MARK: &str = "RUNNER_RELIABILITY_DAEMON";
    let repo = Repo::new().gates(
        "[gates.spawner]\nrun = \"setsid sh -c 'sleep 30; echo late' & echo started\"\ncache = false\npass_env = [\"RUNNER_RELIABILITY_DAEMON\"]\n",
    );
    let mark = repo.root().display().to_string();
    let sweeper = EnvSweeper {
        key: MARK,
        value: mark.clone(),
    };
    let mut repo = repo;
    repo.set_env(MARK, &mark);
    let start = Instant::now();
    repo.run(&["run"]).expect_code(0);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the runner waited for the daemon"
    );
    assert_eq!(repo.status("spawner"), ("pass".into(), false));
    assert!(
        sweeper.sweep() >= 1,
        "the daemon was still there (so the test tested something)"
    );
}

#[test]
fn a_gate_ignoring_sigterm_is_killed_after_the_grace_period() {
    let repo = Repo::new().gates(
        r#"
[gates.stubborn]
run = "trap '' TERM; sleep 30 & echo $! > pid.txt; wait; wait; echo survived > survived.txt"
timeout = "300ms"
"#,
    );
    let start = Instant::now();
    repo.run(&["run"]).expect_code(1);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(15),
        "TERM ignored, KILL after the grace period: took {took:?}"
    );
    let g = repo.gate("stubborn");
    assert_eq!(g["status"], "error");
    assert_eq!(g["reason"], "timed out after 300ms");
    let pid: i32 = repo.read("pid.txt").trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
    assert!(
        matches!(state, None | Some('Z' | 'X')),
        "the child survived: {stat}"
    );
    assert!(!repo.path("survived.txt").exists());
}

/// Undoes a `chattr +i` or a mount when dropped, so the temporary folders can be removed.
struct Undo(Vec<Vec<String>>);

impl Drop for Undo {
    fn drop(&mut self) {
        for cmd in self.0.iter().rev() {
            let _ = Command::new(&cmd[0]).args(&cmd[1..]).status();
        }
    }
}

fn try_cmd(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A pass, a blocking failure, and a cached pass, judged with a broken cache folder.
fn judged_repo() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.ok]
run = "echo ok >> runs.log; echo fine > ok.txt"
artifacts = ["ok.txt"]

[gates.bad]
run = "echo bad >> runs.log; exit 1"
"#,
    );
    repo.run(&["run"]).expect_code(1);
    repo
}

#[track_caller]
fn assert_judged_with_caching_off(repo: &Repo, report: &Path, what: &str) {
    std::fs::remove_file(repo.path("ok.txt")).unwrap();
    // Make `ok` a miss: its entry can no longer be reached.
    let text = repo.read("gates.toml").replace("echo fine", "echo  fine");
    repo.write("gates.toml", &text);
    let out = repo.run(&["run", "--report", &report.display().to_string()]);
    out.expect_code(1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let status = |name: &str| {
        report["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .map(|g| g["status"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        status("ok").as_deref(),
        Some("pass"),
        "{what}: {}",
        out.stderr
    );
    assert_eq!(status("bad").as_deref(), Some("fail"), "{what}");
    assert_eq!(repo.read("ok.txt"), "fine\n", "{what}");
    let w = warnings(&out.stderr);
    assert!(
        w.iter().any(|l| l.contains("caching is off")),
        "{what}: says caching is off:\n{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs root and chattr (the immutable attribute); .ci/run runs it"]
fn a_read_only_cache_folder_still_judges_every_gate() {
    // The tests run as root, which ignores permission bits: the immutable attribute is a
    // read-only folder that root respects.
    let repo = judged_repo();
    let entries = repo.path("cache/entries").display().to_string();
    assert!(
        try_cmd(&["chattr", "+i", &entries]),
        "chattr +i is not available here (it needs root and a file system with attributes)"
    );
    let _undo = Undo(vec![vec!["chattr".into(), "-i".into(), entries.clone()]]);
    let report = tempfile::tempdir().unwrap();
    assert_judged_with_caching_off(&repo, &report.path().join("r.json"), "entries read-only");
}

#[test]
#[ignore = "needs root and chattr (the immutable attribute); .ci/run runs it"]
fn a_wholly_read_only_cache_folder_still_judges_every_gate() {
    let repo = judged_repo();
    let cache = repo.path("cache");
    let mut undo = Undo(Vec::new());
    // Every file and folder of the cache immutable: no log, entry, index or report can be
    // written there.
    let mut paths = vec![cache.clone()];
    paths.extend(crate::reliability_support::walk(&cache));
    for dir in ["entries", "logs", "tmp"] {
        if cache.join(dir).is_dir() {
            paths.push(cache.join(dir));
        }
    }
    for p in &paths {
        let p = p.display().to_string();
        assert!(
            try_cmd(&["chattr", "+i", &p]),
            "chattr +i is not available here (it needs root and a file system with attributes)"
        );
        undo.0.push(vec!["chattr".into(), "-i".into(), p]);
    }
    let report = tempfile::tempdir().unwrap();
    assert_judged_with_caching_off(&repo, &report.path().join("r.json"), "cache read-only");
}

#[test]
#[ignore = "needs root (mounts a 64 KiB tmpfs); .ci/run runs it"]
fn a_full_cache_folder_still_judges_every_gate() {
    let repo = judged_repo();
    // Move the cache onto a 64 KiB tmpfs, then fill it up.
    let cache = repo.path("cache");
    let saved = repo.path("cache-before");
    std::fs::rename(&cache, &saved).unwrap();
    std::fs::create_dir(&cache).unwrap();
    let target = cache.display().to_string();
    assert!(
        try_cmd(&["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", &target]),
        "cannot mount a small tmpfs here (it needs root)"
    );
    let _undo = Undo(vec![vec!["umount".into(), "-l".into(), target]]);
    let copy = Command::new("cp")
        .args([
            "-a",
            &format!("{}/.", saved.display()),
            &cache.display().to_string(),
        ])
        .status()
        .unwrap();
    assert!(copy.success());
    // Fill what is left: writes fail with ENOSPC from here on.
    let mut filler = std::fs::File::create(cache.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);
    let report = tempfile::tempdir().unwrap();
    assert_judged_with_caching_off(&repo, &report.path().join("r.json"), "cache full");
    let _ = explain_key;
}
