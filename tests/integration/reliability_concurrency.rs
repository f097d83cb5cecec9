//! Concurrency: three runners at once on one repository, one cache folder and one history
//! file. All succeed, artifacts are right, no history line is torn, and no cache entry is ever
//! visible half-written (a watcher decodes every entry file while the runners work).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::harness::Repo;
use crate::reliability_support::{Group, assert_entries_intact, assert_same_tree, snapshot, walk};

const LAYERS: usize = 3;
const WIDTH: usize = 6;

/// Layered gates writing their artifacts in pieces (not atomically), as many real tools do.
fn workload() -> Repo {
    let mut body = String::new();
    for i in 0..LAYERS {
        for j in 0..WIDTH {
            let name = format!("c{i}_{j}");
            if i == 0 {
                body += &format!(
                    "[gates.{name}]\nrun = \"mkdir -p out; {{ cat src/{j}.txt; sleep 0.05; echo {name}; }} > out/{name}.txt\"\ninputs = [\"src/{j}.txt\"]\nartifacts = [\"out/{name}.txt\"]\n\n"
                );
            } else {
                let (a, b) = (
                    format!("c{}_{j}", i - 1),
                    format!("c{}_{}", i - 1, (j + 1) % WIDTH),
                );
                body += &format!(
                    "[gates.{name}]\nrun = \"{{ cat out/{a}.txt; sleep 0.05; cat out/{b}.txt; echo {name}; }} > out/{name}.txt\"\nneeds = [\"{a}\", \"{b}\"]\nartifacts = [\"out/{name}.txt\"]\n\n"
                );
            }
        }
    }
    let repo = Repo::new().gates(&body);
    for j in 0..WIDTH {
        repo.write(
            &format!("src/{j}.txt"),
            &format!("source {j}\n").repeat(200),
        );
    }
    repo
}

#[test]
fn three_runners_at_once_share_one_cache_and_history() {
    let reference = workload();
    reference.run(&["run"]).expect_code(0);
    let want = snapshot(&reference.path("out"));

    let repo = workload();
    let logs = tempfile::tempdir().expect("log dir");
    let done = AtomicBool::new(false);
    let checked = AtomicUsize::new(0);
    std::thread::scope(|s| {
        // Watch the cache while the runners write to it: any entry file visible at any moment
        // must be complete.
        let watcher = s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                checked.fetch_add(assert_entries_intact(&repo.path("cache")), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut runners: Vec<Group> = (0..3)
            .map(|i| {
                let report = format!("cache/report-{i}.json");
                Group::spawn(&repo, &["run", "--report", &report], &[], logs.path())
            })
            .collect();
        let codes: Vec<Option<i32>> = runners
            .iter_mut()
            .map(|r| r.wait(Duration::from_secs(60)))
            .collect();
        done.store(true, Ordering::SeqCst);
        watcher.join().expect("watcher");
        let stderr: Vec<String> = walk(logs.path())
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        assert_eq!(
            codes,
            vec![Some(0); 3],
            "every runner succeeds:\n{}",
            stderr.join("\n---\n")
        );
    });
    assert!(
        checked.load(Ordering::SeqCst) > 0,
        "the watcher saw entries"
    );
    assert_same_tree(&snapshot(&repo.path("out")), &want, "three runners");
    for i in 0..3 {
        let report: Value =
            serde_json::from_str(&repo.read(&format!("cache/report-{i}.json"))).expect("report");
        assert_eq!(
            report["summary"]["pass"],
            LAYERS * WIDTH,
            "runner {i}: {report:#}"
        );
    }
    // One whole line per gate per run, each parseable, none torn or merged.
    let history = repo.read(".runner/history.jsonl");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3 * LAYERS * WIDTH, "{history}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["status"], "pass", "{line}");
    }
    assert!(history.ends_with('\n'));
    // Afterwards, a run alone warns about nothing and is right. It may still run a gate or
    // two: a result computed while another runner rewrote a needed artifact is not stored,
    // and under load that can happen to a gate in all three runners. The run after it
    // replays everything.
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert_same_tree(&snapshot(&repo.path("out")), &want, "alone");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.report()["summary"]["cached"], LAYERS * WIDTH);
    assert_same_tree(&snapshot(&repo.path("out")), &want, "replayed");
    assert_entries_intact(&repo.path("cache"));
}

/// Wait (at most a minute) until `cond` holds.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..600 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} never happened");
}

/// Does process `pid` hold `file` open?
fn holds_open(pid: i32, file: &std::path::Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let want = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == want))
}

#[test]
fn a_gate_lock_whose_holder_is_killed_with_sigkill_is_taken_over() {
    // Runner 1 runs `slow` and is SIGKILLed while it holds the gate's lock; runner 2, waiting
    // on that lock, takes it over (flock is released with the dead process) and runs the gate
    // itself, since runner 1 stored nothing.
    let repo = Repo::new().gates(
        "[gates.slow]\nrun = \"echo run >> runs.txt; if [ ! -e first ]; then touch first started; sleep 60; fi; echo ok > out.txt\"\nartifacts = [\"out.txt\"]\n",
    );
    let logs = tempfile::tempdir().expect("log dir");
    let mut first = Group::spawn(&repo, &["run", "--report", "1.json"], &[], logs.path());
    wait_until("runner 1 starting `slow`", || repo.path("started").exists());
    let mut second = Group::spawn(&repo, &["run", "--report", "2.json"], &[], logs.path());
    let lock = repo.path(".runner/locks/slow.lock");
    wait_until("runner 2 waiting on the gate's lock", || {
        holds_open(second.pid(), &lock)
    });
    // Runner 2 is blocked on the lock: `slow` ran once, and only runner 1 holds it.
    assert_eq!(repo.read("runs.txt"), "run\n");
    // SIGKILL runner 1 alone (its gate's group is taken down by the runner's guardian).
    // SAFETY: kill(2) on a process this test started; no memory is involved.
    unsafe {
        libc::kill(first.pid(), libc::SIGKILL);
    }
    assert_eq!(
        first.wait(Duration::from_secs(60)),
        Some(-1),
        "runner 1 was killed"
    );
    assert_eq!(
        second.wait(Duration::from_secs(60)),
        Some(0),
        "runner 2 took the lock over and finished:\n{}",
        std::fs::read_to_string(logs.path().join("1.err")).unwrap_or_default()
    );
    assert_eq!(
        repo.read("runs.txt"),
        "run\nrun\n",
        "runner 2 ran the gate itself"
    );
    assert_eq!(repo.read("out.txt"), "ok\n");
    let report: Value = serde_json::from_str(&repo.read("2.json")).expect("runner 2's report");
    let gate = &report["gates"][0];
    assert_eq!(gate["status"], "pass", "{gate}");
    assert_eq!(gate["cached"], false, "{gate}");
}
