//! Process handling: timeouts kill the whole group, `-j` runs gates side by side, logs.

use std::time::{Duration, Instant};

use crate::harness::Repo;

#[test]
fn timeout_kills_the_grandchild_too() {
    let repo = Repo::new().gates(
        r#"
[gates.hang]
run = "sh -c 'sleep 30; echo survived > grandchild.txt' & echo $! > pid.txt; wait"
timeout = "500ms"
"#,
    );
    let start = Instant::now();
    repo.run(&["run"]).expect_code(1);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the runner did not wait for the sleep"
    );
    let g = repo.gate("hang");
    assert_eq!(g["status"], "error");
    assert_eq!(g["reason"], "timed out after 500ms");
    let pid: i32 = repo.read("pid.txt").trim().parse().unwrap();
    // The grandchild shell must be gone or a zombie waiting to be reaped (state Z).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
    assert!(
        matches!(state, None | Some('Z' | 'X')),
        "grandchild {pid} survived the timeout: {stat}"
    );
}

#[test]
fn independent_gates_overlap_under_j2() {
    // Each gate records its start, then waits (up to 60 s) until the other has started: under
    // -j 2 both see each other, whatever the machine's load (no timing assumed).
    let rendezvous = |n: &str, other: &str| {
        format!(
            "[gates.{n}]\nrun = \"touch {n}.start; i=0; while [ ! -e {other}.start ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done; [ -e {other}.start ] && touch {n}.saw-{other}\"\ncache = false\n\n"
        )
    };
    let repo = Repo::new().gates(&(rendezvous("x", "y") + &rendezvous("y", "x")));
    repo.run(&["run", "-j", "2"]).expect_code(0);
    assert!(
        repo.path("x.saw-y").exists() && repo.path("y.saw-x").exists(),
        "x and y did not run at the same time under -j 2"
    );
    // And with -j 1 they must not: each records start and end stamps.
    let gate = |n: &str| {
        format!(
            "[gates.{n}]\nrun = \"date +%s%N > {n}.start; sleep 0.2; date +%s%N > {n}.end\"\ncache = false\n\n"
        )
    };
    let repo = Repo::new().gates(&(gate("x") + &gate("y")));
    let stamp = |f: &str| repo.read(f).trim().parse::<u128>().unwrap();
    repo.run(&["run", "-j", "1"]).expect_code(0);
    let (xs, xe, ys, ye) = (
        stamp("x.start"),
        stamp("x.end"),
        stamp("y.start"),
        stamp("y.end"),
    );
    assert!(xe <= ys || ye <= xs, "-j 1 ran them together");
}

#[test]
fn needs_order_is_respected() {
    let repo = Repo::new().gates(
        "[gates.first]\nrun = \"sleep 0.2; date +%s%N > first.end\"\ncache = false\n\n[gates.second]\nrun = \"date +%s%N > second.start\"\nneeds = [\"first\"]\ncache = false\n",
    );
    repo.run(&["run", "-j", "4"]).expect_code(0);
    let end: u128 = repo.read("first.end").trim().parse().unwrap();
    let start: u128 = repo.read("second.start").trim().parse().unwrap();
    assert!(end <= start);
}

#[test]
fn output_goes_to_the_log_file_and_daemons_do_not_hang_the_runner() {
    let repo = Repo::new().gates(
        "[gates.talk]\nrun = \"echo to-stdout; echo to-stderr >&2; (sleep 30 &) ; true\"\ncache = false\n",
    );
    let start = Instant::now();
    repo.run(&["run"]).expect_code(0);
    assert!(start.elapsed() < Duration::from_secs(20));
    let log = repo.read("cache/logs/talk.log");
    assert!(
        log.contains("to-stdout") && log.contains("to-stderr"),
        "{log}"
    );
}

#[test]
fn verbose_streams_output() {
    let repo = Repo::new().gates("[gates.v]\nrun = \"echo streamed-line\"\ncache = false\n");
    let out = repo.run(&["run", "--verbose"]);
    out.expect_code(0);
    assert!(out.stderr.contains("[v] streamed-line"), "{}", out.stderr);
}
