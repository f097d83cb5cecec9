//! `runner watch`, driven as a child process: a file edit re-runs exactly the gates it
//! affects (and what needs them); an edit made while a run goes on is picked up after it; an
//! invalid gates.toml is reported and the watch stays. Every wait polls with a generous
//! deadline only so that a broken watch cannot hang the suite; the child is killed at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Repo;

const GATES: &str = r#"
[gates.a]
run = "echo a >> ../runs.log"
inputs = ["a/*.txt"]
cache = false

[gates.b]
run = "echo b >> ../runs.log"
inputs = ["b/*.txt"]
cache = false

[gates.c]
run = "echo c >> ../runs.log"
needs = ["a"]
cache = false

[gates.slow]
run = "echo slow-start >> ../runs.log; sleep 1.5; echo slow-end >> ../runs.log"
inputs = ["s/*.txt"]
cache = false
"#;

/// The watch child, killed when dropped (a failing assertion included).
struct Watcher {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watcher {
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Poll until `done` holds (deadline: 60 s, only against a hang).
    #[track_caller]
    fn wait_for(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the watch exited ({status}) waiting for {what}\n--- stdout\n{}\n--- stderr\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 60 s\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// How many times the watch has said it waits (one per run, or per reported problem).
    fn waits(&self) -> usize {
        self.stdout().matches("watch: waiting for changes").count()
    }

    /// Wait until the watch is waiting for the `n`th time.
    #[track_caller]
    fn wait_idle(&mut self, n: usize) {
        self.wait_for(&format!("wait number {n}"), |w| w.waits() >= n);
    }
}

/// The repository in `<tmp>/repo`, its gates appending to `<tmp>/runs.log` (outside the
/// watched folder).
fn setup() -> (Repo, PathBuf) {
    let repo = Repo::new();
    let root = repo.path("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    for f in ["a/x.txt", "b/x.txt", "s/x.txt"] {
        repo.write(&format!("repo/{f}"), "1\n");
    }
    repo.write("repo/gates.toml", &format!("version = 1\n{GATES}"));
    (repo, root)
}

fn spawn(repo: &Repo, root: &Path) -> Watcher {
    let out = repo.path("watch.out");
    let err = repo.path("watch.err");
    let child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["watch", "-j", "2"])
        .current_dir(root)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("RUNNER_NOW")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn runner watch");
    Watcher { child, out, err }
}

fn runs(repo: &Repo) -> Vec<String> {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn edits_rerun_exactly_the_affected_gates_and_a_bad_config_is_reported() {
    let (repo, root) = setup();
    let mut w = spawn(&repo, &root);
    w.wait_idle(1);
    assert_eq!(
        sorted(runs(&repo)),
        ["a", "b", "c", "slow-end", "slow-start"]
    );

    // An edit of a's input: a and c (which needs it), not b or slow.
    let before = runs(&repo).len();
    std::fs::write(root.join("a/x.txt"), "2\n").expect("edit");
    w.wait_idle(2);
    assert_eq!(sorted(runs(&repo)[before..].to_vec()), ["a", "c"]);
    assert!(w.stdout().contains("(changed a/x.txt)"), "{}", w.stdout());

    // An editor's save: write a temporary file, rename it over the input.
    let before = runs(&repo).len();
    std::fs::write(root.join("b/.x.txt.swp"), "3\n").expect("temp");
    std::fs::rename(root.join("b/.x.txt.swp"), root.join("b/x.txt")).expect("rename");
    w.wait_idle(3);
    assert_eq!(runs(&repo)[before..].to_vec(), ["b"]);

    // An edit while a run goes on is queued and picked up after it.
    let before = runs(&repo).len();
    std::fs::write(root.join("s/x.txt"), "2\n").expect("edit");
    w.wait_for("slow to start", |_| {
        runs(&repo)[before..].contains(&"slow-start".to_owned())
    });
    std::fs::write(root.join("b/x.txt"), "4\n").expect("edit during the run");
    w.wait_idle(5);
    let after = runs(&repo)[before..].to_vec();
    assert_eq!(after, ["slow-start", "slow-end", "b"], "{}", w.stdout());

    // An invalid config is reported; the watch stays, with the last good config.
    let good = std::fs::read_to_string(root.join("gates.toml")).expect("read");
    std::fs::write(root.join("gates.toml"), format!("{good}\n[gates.broken\n")).expect("break");
    w.wait_idle(6);
    assert!(
        w.stderr().contains("keeping the last good one"),
        "{}",
        w.stderr()
    );
    assert!(w.stderr().contains("gates.toml:"), "{}", w.stderr());
    let before = runs(&repo).len();
    std::fs::write(root.join("a/x.txt"), "5\n").expect("edit");
    w.wait_idle(7);
    assert_eq!(sorted(runs(&repo)[before..].to_vec()), ["a", "c"]);

    // Fixed (with a new gate): reloaded, and the whole selection runs.
    let before = runs(&repo).len();
    std::fs::write(
        root.join("gates.toml"),
        format!("{good}\n[gates.d]\nrun = \"echo d >> ../runs.log\"\ncache = false\n"),
    )
    .expect("fix");
    w.wait_idle(8);
    assert!(w.stdout().contains("config reloaded"), "{}", w.stdout());
    assert_eq!(
        sorted(runs(&repo)[before..].to_vec()),
        ["a", "b", "c", "d", "slow-end", "slow-start"]
    );
    // The screen lists every gate's last result.
    let screen = w.stdout();
    let last = screen.rsplit("watch: ").nth(1).unwrap_or_default();
    for gate in ["a", "b", "c", "d", "slow"] {
        assert!(
            last.contains(&format!("PASS    {gate} ")),
            "{gate} in {last}"
        );
    }
}

#[test]
fn failures_come_first_on_the_screen() {
    let (repo, root) = setup();
    repo.write(
        "repo/gates.toml",
        &format!(
            "version = 1\n{}\n[gates.zz-fails]\nrun = \"exit 1\"\ninputs = [\"b/*.txt\"]\ncache = false\n",
            GATES.replace("sleep 1.5", "true")
        ),
    );
    let mut w = spawn(&repo, &root);
    w.wait_idle(1);
    let screen = w.stdout();
    let table: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("watch: 5 gates ran"))
        .skip(1)
        .take(5)
        .collect();
    assert!(table[0].starts_with("  FAIL    zz-fails"), "{table:?}");
    assert!(
        table[1..].iter().all(|l| l.starts_with("  PASS")),
        "{table:?}"
    );
}

#[test]
fn a_rerun_judges_only_what_the_change_affects_unless_a_need_did_not_pass() {
    // `down` needs `up`. An edit of down's input re-runs `down` alone: `up` passed in this
    // watch and the edit did not touch it, so it is not run again for `down`'s sake. Once `up`
    // fails, an edit of down's input brings `up` back into the run (a need that did not pass
    // is decided again), and `down` does not run.
    let repo = Repo::new();
    let root = repo.path("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    repo.write("repo/up/x.txt", "ok\n");
    repo.write("repo/down/x.txt", "1\n");
    repo.write(
        "repo/gates.toml",
        "version = 1\n\n[gates.up]\nrun = \"echo up >> ../runs.log; mkdir -p out; cp up/x.txt out/up.txt; grep -qx ok up/x.txt\"\ninputs = [\"up/*.txt\"]\nartifacts = [\"out/up.txt\"]\ncache = false\n\n[gates.down]\nrun = \"echo down >> ../runs.log; cat out/up.txt down/x.txt > /dev/null\"\ninputs = [\"down/*.txt\"]\nneeds = [\"up\"]\ncache = false\n",
    );
    let mut w = spawn(&repo, &root);
    w.wait_idle(1);
    assert_eq!(sorted(runs(&repo)), ["down", "up"]);

    let before = runs(&repo).len();
    std::fs::write(root.join("down/x.txt"), "2\n").expect("edit");
    w.wait_idle(2);
    assert_eq!(runs(&repo)[before..].to_vec(), ["down"], "{}", w.stdout());
    assert!(
        w.stdout()
            .contains("watch: running 1 gate (changed down/x.txt)"),
        "{}",
        w.stdout()
    );

    // `up` fails: `down` is not run.
    let before = runs(&repo).len();
    std::fs::write(root.join("up/x.txt"), "broken\n").expect("edit");
    w.wait_idle(3);
    assert_eq!(runs(&repo)[before..].to_vec(), ["up"], "{}", w.stdout());

    // An edit of down's input now decides `up` again first.
    let before = runs(&repo).len();
    std::fs::write(root.join("down/x.txt"), "3\n").expect("edit");
    w.wait_idle(4);
    assert_eq!(runs(&repo)[before..].to_vec(), ["up"], "{}", w.stdout());
    assert!(
        w.stdout()
            .contains("watch: running 2 gates (changed down/x.txt)"),
        "{}",
        w.stdout()
    );
}

#[test]
fn ctrl_c_stops_the_running_gates_and_the_watch() {
    // A gate is running (a shell that sleeps); SIGINT to the watch takes the gate's process
    // group down and ends the watch.
    let repo = Repo::new();
    let root = repo.path("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    repo.write("repo/s/x.txt", "1\n");
    repo.write(
        "repo/gates.toml",
        "version = 1\n\n[gates.slow]\nrun = \"echo $$ > ../slow.pid; sleep 60 & echo $! > ../sleep.pid; wait\"\ninputs = [\"s/*.txt\"]\ncache = false\n",
    );
    let mut w = spawn(&repo, &root);
    w.wait_for("the gate to start", |_| {
        repo.path("sleep.pid").exists() && !repo.read("sleep.pid").trim().is_empty()
    });
    let sleep_pid: i32 = repo.read("sleep.pid").trim().parse().expect("pid");
    let pid = i32::try_from(w.child.id()).expect("pid");
    // SAFETY: kill(2) on the watch this test started; no memory is involved.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(Some(status)) = w.child.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the watch did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(
        !status.success(),
        "an interrupted watch does not exit 0: {status}"
    );
    // The gate's `sleep` is gone (or a zombie waiting for init), not left running.
    let gone = |p: i32| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !gone(sleep_pid) {
        assert!(
            Instant::now() < deadline,
            "the gate's sleep {sleep_pid} survived the watch"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}
