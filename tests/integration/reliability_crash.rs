//! Crash consistency: a 45-gate workload whose runner is killed with SIGKILL (its whole process
//! group) at random moments, artifacts deleted between runs; then a normal run must pass with
//! artifacts byte-identical to a clean reference run, and no torn cache entry is ever visible.

use std::time::Duration;

use crate::harness::Repo;
use crate::reliability_support::{
    EnvSweeper, Group, Rng, assert_entries_intact, assert_same_tree, processes_with_env, snapshot,
    walk, warnings,
};

const LAYERS: usize = 5;
const WIDTH: usize = 9;
const MARK: &str = "RUNNER_RELIABILITY_MARK";

/// Layered gates: layer 0 reads `src/<j>.txt`; gate `l<i>_<j>` of a later layer concatenates
/// two upstream artifacts. Every gate writes its artifact in pieces with a pause in between,
/// so a kill often lands mid-write and leaves a torn artifact behind.
fn workload() -> Repo {
    let mut body = String::new();
    for i in 0..LAYERS {
        for j in 0..WIDTH {
            let name = format!("l{i}_{j}");
            if i == 0 {
                body += &format!(
                    "[gates.{name}]\nrun = \"mkdir -p out; {{ cat src/{j}.txt; sleep 0.0{p}; echo {name}; }} > out/{name}.txt\"\ninputs = [\"src/{j}.txt\"]\nartifacts = [\"out/{name}.txt\"]\npass_env = [\"{MARK}\"]\n\n",
                    p = 5 + j % 4
                );
            } else {
                let (a, b) = (
                    format!("l{}_{j}", i - 1),
                    format!("l{}_{}", i - 1, (j + 1) % WIDTH),
                );
                body += &format!(
                    "[gates.{name}]\nrun = \"{{ cat out/{a}.txt; sleep 0.05; cat out/{b}.txt; echo {name}; }} > out/{name}.txt\"\nneeds = [\"{a}\", \"{b}\"]\nartifacts = [\"out/{name}.txt\"]\npass_env = [\"{MARK}\"]\n\n"
                );
            }
        }
    }
    let repo = Repo::new().gates(&body);
    for j in 0..WIDTH {
        repo.write(
            &format!("src/{j}.txt"),
            &format!("input {j}\n").repeat(50 + j),
        );
    }
    repo
}

fn artifact_names() -> Vec<String> {
    (0..LAYERS)
        .flat_map(|i| (0..WIDTH).map(move |j| format!("out/l{i}_{j}.txt")))
        .collect()
}

#[test]
fn kill_9_at_random_moments_never_yields_a_wrong_or_torn_result() {
    let repo = workload();
    let logs = tempfile::tempdir().expect("log dir");
    let mark = repo.root().display().to_string();
    let sweeper = EnvSweeper {
        key: MARK,
        value: mark.clone(),
    };
    let mut rng = Rng::new(0x5eed_0007);
    let names = artifact_names();
    let mut killed_mid_run = 0;
    for round in 0..20 {
        // New content in three inputs: their gates and most of what is downstream must run.
        for _ in 0..3 {
            let j = rng.below(WIDTH as u64);
            repo.write(
                &format!("src/{j}.txt"),
                &format!("input {j} round {round}\n").repeat(50),
            );
        }
        let mut runner = Group::spawn(&repo, &["run", "-j", "4"], &[(MARK, &mark)], logs.path());
        // A full run takes over half a second on two cores: kill in the first 0.7 s.
        let delay = Duration::from_millis(rng.below(700));
        let mid_run = runner.wait(delay).is_none();
        if mid_run {
            runner.kill();
            killed_mid_run += 1;
        }
        // Gates run in their own process groups; give the ones the dead runner left a moment,
        // then make sure none is still writing before the next round starts.
        let orphans = processes_with_env(MARK, &mark).len();
        sweeper.wait_then_sweep(Duration::from_secs(5));
        let entries = assert_entries_intact(&repo.path("cache"));
        // Delete some artifacts, and tear one, as a user or a crashed tool might.
        for _ in 0..rng.below(4) {
            let victim = &names[usize::try_from(rng.below(names.len() as u64)).unwrap_or(0)];
            let _ = std::fs::remove_file(repo.path(victim));
        }
        if rng.below(3) == 0 {
            let victim = &names[usize::try_from(rng.below(names.len() as u64)).unwrap_or(0)];
            if let Ok(bytes) = std::fs::read(repo.path(victim)) {
                let _ = std::fs::write(repo.path(victim), &bytes[..bytes.len() / 2]);
            }
        }
        eprintln!(
            "round {round}: {} after {delay:?}, {orphans} gate processes outlived it, \
             {entries} entries intact",
            if mid_run { "killed" } else { "finished" }
        );
    }
    assert!(
        killed_mid_run >= 8,
        "most rounds must kill a runner mid-run (got {killed_mid_run})"
    );

    // The reference: a clean, uninterrupted run in another checkout of the same inputs.
    let reference = workload();
    for j in 0..WIDTH {
        let rel = format!("src/{j}.txt");
        reference.write_bytes(&rel, &std::fs::read(repo.path(&rel)).expect("input"));
    }
    reference.run(&["run", "-j", "4"]).expect_code(0);
    let want = snapshot(&reference.path("out"));
    assert_eq!(want.len(), LAYERS * WIDTH);

    // A normal run now passes and gives exactly the reference artifacts.
    let out = repo.run(&["run", "-j", "4"]);
    out.expect_code(0);
    assert_eq!(repo.report()["summary"]["pass"], LAYERS * WIDTH);
    assert_same_tree(&snapshot(&repo.path("out")), &want, "after the kills");
    let entries = assert_entries_intact(&repo.path("cache"));
    assert!(
        entries >= LAYERS * WIDTH,
        "every gate is stored ({entries})"
    );
    assert!(
        warnings(&out.stderr).is_empty(),
        "a run after kills needs no warning: {}",
        out.stderr
    );
    // And the run after it replays everything without running a gate.
    repo.run(&["run", "-j", "4"]).expect_code(0);
    assert_eq!(repo.report()["summary"]["cached"], LAYERS * WIDTH);
    assert_same_tree(&snapshot(&repo.path("out")), &want, "fully cached");
    // Nothing the dead runners wrote half-way is left in the repository's folders.
    let stray: Vec<_> = walk(repo.root())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".runner-restore-"))
        })
        .collect();
    assert!(stray.is_empty(), "restore temporaries left: {stray:?}");
}

#[test]
fn a_gate_killed_mid_write_is_never_stored_or_replayed_torn() {
    // The gate writes half its artifact, pauses, writes the rest; the runner is killed in the
    // pause. The torn artifact must not be stored, and the next run must repair it.
    let repo = Repo::new().gates(
        r#"
[gates.writer]
run = "mkdir -p out; { head -c 100000 src/in.bin; sleep 2; tail -c +100001 src/in.bin; } > out/w.bin"
inputs = ["src/in.bin"]
artifacts = ["out/w.bin"]

[gates.reader]
run = "cat out/w.bin out/w.bin > out/r.bin"
needs = ["writer"]
artifacts = ["out/r.bin"]
"#,
    );
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    repo.write_bytes("src/in.bin", &content);
    let logs = tempfile::tempdir().expect("log dir");
    let mark = repo.root().display().to_string();
    let sweeper = EnvSweeper {
        key: MARK,
        value: mark.clone(),
    };
    let mut runner = Group::spawn(&repo, &["run"], &[(MARK, &mark)], logs.path());
    // Wait until the first half is on disk, then kill the runner and its gate mid-write.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(repo.path("out/w.bin")).map_or(0, |m| m.len()) < 100_000 {
        assert!(std::time::Instant::now() < deadline, "the gate never wrote");
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.kill();
    sweeper.sweep();
    assert_eq!(
        std::fs::metadata(repo.path("out/w.bin")).map_or(0, |m| m.len()),
        100_000,
        "the artifact is torn"
    );
    assert_eq!(
        assert_entries_intact(&repo.path("cache")),
        0,
        "nothing stored"
    );
    // The next run re-runs the writer (no entry), and everything comes out whole.
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert_eq!(repo.status("writer"), ("pass".into(), false));
    assert_eq!(std::fs::read(repo.path("out/w.bin")).unwrap(), content);
    let mut twice = content.clone();
    twice.extend_from_slice(&content);
    assert_eq!(std::fs::read(repo.path("out/r.bin")).unwrap(), twice);
    // Tear the stored artifact by hand: the next run restores it from the entry, byte for byte.
    std::fs::write(repo.path("out/w.bin"), &content[..1000]).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("writer"), ("pass".into(), true));
    assert_eq!(std::fs::read(repo.path("out/w.bin")).unwrap(), content);
    assert_eq!(repo.status("reader"), ("pass".into(), true));
}

/// Run a gate whose command keeps appending to ticks.txt, SIGKILL the runner's whole process
/// group once it ticked, and assert that no process of the run is left and the ticking stopped.
fn kill_9_stops_the_ticking(run: &str, what: &str) {
    let repo = Repo::new().gates(&format!(
        "[gates.ticker]\nrun = \"{run}\"\ntimeout = \"1m\"\npass_env = [\"{MARK}\"]\n"
    ));
    let logs = tempfile::tempdir().expect("log dir");
    let mark = repo.root().display().to_string();
    let sweeper = EnvSweeper {
        key: MARK,
        value: mark.clone(),
    };
    let mut runner = Group::spawn(&repo, &["run"], &[(MARK, &mark)], logs.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(repo.path("ticks.txt")).map_or(0, |m| m.len()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the gate never ticked"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.kill();
    // The current `sleep 0.05` may finish; after that, nothing more.
    let left = sweeper.wait_then_sweep(Duration::from_secs(3));
    assert_eq!(left, 0, "{what} outlived the runner by seconds");
    let ticks = repo.read("ticks.txt").len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(repo.read("ticks.txt").len(), ticks, "{what} went on");
}

#[test]
fn a_runner_killed_with_sigkill_takes_its_gates_scripts_down() {
    // The gate runs in its own process group, which `kill -9 -<runner's group>` does not
    // reach. Its shell must still die with the runner, so the script stops writing.
    kill_9_stops_the_ticking(
        "while true; do echo tick >> ticks.txt; sleep 0.05; done",
        "the gate's script",
    );
}

#[test]
fn a_runner_killed_with_sigkill_takes_what_its_gates_started_down_too() {
    // The loop runs in a background subshell, a grandchild of the runner: the whole group must
    // die with the runner, not only the gate's shell.
    kill_9_stops_the_ticking(
        "( while true; do echo tick >> ticks.txt; sleep 0.05; done ) & wait",
        "a gate's background loop",
    );
}
