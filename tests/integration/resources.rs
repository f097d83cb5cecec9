//! Resources (`[settings.resources]`, a gate's `uses`): at most the declared count of gates
//! holding a resource run at once, within a run and across runners on one checkout. Checked
//! from the stamps the gates record at start and end (`date +%s%N`), never from durations.

use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::time::Duration;

use crate::harness::Repo;
use crate::reliability_support::Group;

/// A shell loop waiting (at most `tenths` tenths of a second) until `cond` holds.
fn wait_until(cond: &str, tenths: u32) -> String {
    format!("i=0; until {cond} || [ $i -ge {tenths} ]; do sleep 0.1; i=$((i+1)); done")
}

/// A gate that appends `start <ns>` and `end <ns>` to `stamps/<name>`, running `middle` in
/// between; never cached.
fn stamped(name: &str, uses: &[&str], middle: &str) -> String {
    format!(
        "[gates.{name}]\nrun = '''mkdir -p stamps; echo \"start $(date +%s%N)\" >> stamps/{name}; {middle}; echo \"end $(date +%s%N)\" >> stamps/{name}'''\nuses = {uses:?}\ncache = false\n\n"
    )
}

/// Every (start, end) interval the gates recorded, from `stamps/*`.
fn intervals(repo: &Repo) -> Vec<(String, u128, u128)> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(repo.path("stamps"))
        .expect("stamps folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let text = repo.read(&format!("stamps/{name}"));
        let stamp = |word: &str| -> Vec<u128> {
            text.lines()
                .filter_map(|l| l.strip_prefix(word))
                .map(|n| n.trim().parse().expect("a stamp"))
                .collect()
        };
        let (starts, ends) = (stamp("start "), stamp("end "));
        assert_eq!(starts.len(), ends.len(), "{name}: {text}");
        for (s, e) in starts.into_iter().zip(ends) {
            assert!(s <= e, "{name}: {text}");
            out.push((name.clone(), s, e));
        }
    }
    out
}

/// The most intervals that held a moment in common.
fn most_at_once(intervals: &[(String, u128, u128)]) -> usize {
    // At a tie an end comes first: touching intervals did not overlap.
    let mut events: Vec<(u128, i32)> = intervals
        .iter()
        .flat_map(|(_, s, e)| [(*s, 1), (*e, -1)])
        .collect();
    events.sort_unstable();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        most = most.max(now);
    }
    usize::try_from(most).unwrap_or(0)
}

#[test]
fn at_most_count_gates_holding_a_resource_run_at_once() {
    // Six gates use `db` (2 slots) under -j 6. Each waits until two gates have started, so the
    // first two must run together; the count caps them at two.
    let two_started = wait_until("[ $(ls stamps | wc -l) -ge 2 ]", 600);
    let mut body = "[settings.resources]\ndb = 2\n\n".to_owned();
    for i in 0..6 {
        body += &stamped(
            &format!("g{i}"),
            &["db"],
            &format!("{two_started}; sleep 0.05"),
        );
    }
    let repo = Repo::new().gates(&body);
    repo.run(&["run", "-j", "6"]).expect_code(0);
    let got = intervals(&repo);
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(most_at_once(&got), 2, "{got:?}");
    for i in 0..6 {
        assert_eq!(repo.status(&format!("g{i}")), ("pass".to_owned(), false));
    }
}

#[test]
fn a_gate_waiting_for_a_resource_holds_no_worker() {
    // -j 2, `db` = 1: `a` holds it and waits until `c` (which uses nothing) has started; `b`
    // waits for `db`. `c` becomes ready only after `first` (its need, which takes a moment)
    // ended, by when `a` and `b` wait for `db`: a `b` blocking the second worker would leave
    // `c` no worker, and `a` would wait in vain.
    let c = stamped("c", &[], "touch c.started")
        .replace("[gates.c]\n", "[gates.c]\nneeds = [\"first\"]\n");
    let repo = Repo::new().gates(&format!(
        "[settings.resources]\ndb = 1\n\n{}{}{c}[gates.first]\nrun = \"sleep 0.3\"\ncache = false\n",
        stamped(
            "a",
            &["db"],
            &format!("{}; [ -e c.started ] && touch a.saw-c", wait_until("[ -e c.started ]", 300))
        ),
        stamped("b", &["db"], "true"),
    ));
    repo.run(&["run", "-j", "2"]).expect_code(0);
    assert!(
        repo.path("a.saw-c").exists(),
        "`c` did not start while `a` held the resource and `b` waited for it"
    );
    let got = intervals(&repo);
    let db: Vec<_> = got.iter().filter(|(n, ..)| n != "c").cloned().collect();
    assert_eq!(db.len(), 2, "{got:?}");
    assert_eq!(most_at_once(&db), 1, "{got:?}");
}

#[test]
fn cache_hits_take_no_resource() {
    let repo = Repo::new().gates(
        "[settings.resources]\ndb = 1\n\n[gates.migrate]\nrun = \"cat schema.sql > applied.txt\"\ninputs = [\"schema.sql\"]\nartifacts = [\"applied.txt\"]\nuses = [\"db\"]\n",
    );
    repo.write("schema.sql", "create table t (x int);\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("migrate"), ("pass".to_owned(), false));
    // Another process holds the only slot of `db`: a replay goes ahead all the same (were it
    // to wait for the slot, this run would never end).
    let slot = repo.path(".runner/locks/resources/db/0.lock");
    let held = std::fs::File::open(&slot).expect("the slot's lock file exists");
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    std::fs::remove_file(repo.path("applied.txt")).expect("remove the artifact");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert_eq!(repo.status("migrate"), ("pass".to_owned(), true));
    assert_eq!(repo.read("applied.txt"), "create table t (x int);\n");
    assert!(!out.stdout.contains("WAIT"), "{}", out.stdout);
    drop(held);
}

/// Wait (at most a minute) until `path` exists.
fn wait_for(path: &Path, what: &str) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: {} never appeared", path.display());
}

#[test]
fn two_runners_share_a_resources_count() {
    // Runner 1 runs `a`, which holds `db` until the file `go` appears. Runner 2 runs `b`,
    // which uses `db` too: it must say it waits for it, and start only after `a` ended.
    let repo = Repo::new().gates(&format!(
        "[settings.resources]\ndb = 1\ngpu = 1\n\n{}{}",
        stamped(
            "a",
            &["db", "gpu"],
            &format!("touch a.holds; {}", wait_until("[ -e go ]", 600))
        ),
        stamped("b", &["gpu", "db"], "true"),
    ));
    let logs = tempfile::tempdir().expect("log dir");
    let mut first = Group::spawn(&repo, &["run", "a", "--report", "a.json"], &[], logs.path());
    wait_for(&repo.path("a.holds"), "runner 1 running `a`");
    let mut second = Group::spawn(&repo, &["run", "b", "--report", "b.json"], &[], logs.path());
    let said = logs.path().join("1.out");
    let mut waited = false;
    for _ in 0..600 {
        let text = std::fs::read_to_string(&said).unwrap_or_default();
        if text.contains("WAIT    b: waiting for resource db, held by another runner") {
            waited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    repo.write("go", "");
    let codes = (
        first.wait(Duration::from_secs(60)),
        second.wait(Duration::from_secs(60)),
    );
    assert_eq!(codes, (Some(0), Some(0)));
    assert!(
        waited,
        "runner 2 did not say it waits for db:\n{}",
        std::fs::read_to_string(&said).unwrap_or_default()
    );
    let got = intervals(&repo);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(most_at_once(&got), 1, "the runners overlapped: {got:?}");
    let (a, b) = (&got[0], &got[1]);
    assert!(a.2 <= b.1, "`b` started before `a` ended: {got:?}");
}
