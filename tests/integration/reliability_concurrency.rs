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
