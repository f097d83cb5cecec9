//! Shared pieces of the reliability battery: a process-group guard for runners the tests kill,
//! a seeded RNG, tree snapshots, and a checker that every visible cache entry decodes.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runner::cache::Entry;
use runner::fingerprint::CacheKey;

use crate::harness::Repo;

/// The built binary.
pub(crate) fn runner_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("runner")
}

/// A runner started in its own process group. Dropping it kills the whole group (SIGKILL)
/// and reaps the child, so no test leaves a runner behind, whatever happens.
pub(crate) struct Group {
    child: Option<Child>,
    pgid: i32,
}

impl Group {
    /// Start `runner ARGS` in `repo` with `env`, output to files in `log_dir`.
    pub(crate) fn spawn(repo: &Repo, args: &[&str], env: &[(&str, &str)], log_dir: &Path) -> Self {
        std::fs::create_dir_all(log_dir).expect("log dir");
        // Runner n of this folder writes n.out and n.err.
        let n = std::fs::read_dir(log_dir).map_or(0, Iterator::count) / 2;
        let out = std::fs::File::create(log_dir.join(format!("{n}.out"))).expect("out file");
        let err = std::fs::File::create(log_dir.join(format!("{n}.err"))).expect("err file");
        let mut cmd = Command::new(runner_bin());
        cmd.current_dir(repo.root())
            .args(args)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("RUNNER_NOW")
            .env_remove("GITHUB_STEP_SUMMARY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd.spawn().expect("spawn runner");
        let pgid = i32::try_from(child.id()).expect("pid");
        Group {
            child: Some(child),
            pgid,
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pgid
    }

    /// SIGKILL the whole group and reap the runner.
    pub(crate) fn kill(&mut self) {
        // SAFETY: kill(2) on a process group we created; no memory is involved.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// Wait up to `limit` for the runner to exit; its exit code, or None if it did not.
    pub(crate) fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Pids of live processes whose environment holds `KEY=value` (gates inherit the runner's
/// environment, so this finds the gates a killed runner left behind).
pub(crate) fn processes_with_env(key: &str, value: &str) -> Vec<i32> {
    let needle = format!("{key}={value}");
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        // Zombies have an empty environ and are harmless.
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills, on drop, every process left carrying `KEY=value` in its environment.
pub(crate) struct EnvSweeper {
    pub key: &'static str,
    pub value: String,
}

impl EnvSweeper {
    /// SIGKILL every process carrying the marker; returns how many there were.
    pub(crate) fn sweep(&self) -> usize {
        let pids = processes_with_env(self.key, &self.value);
        for &pid in &pids {
            // SAFETY: kill(2) with a pid read from /proc; no memory is involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        pids.len()
    }

    /// Wait up to `limit` for marked processes to end by themselves; how many were left (and
    /// then killed).
    pub(crate) fn wait_then_sweep(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if processes_with_env(self.key, &self.value).is_empty() {
                return 0;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.sweep()
    }
}

impl Drop for EnvSweeper {
    fn drop(&mut self) {
        self.sweep();
    }
}

/// A small seeded RNG (splitmix64): failures replay with the same seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every file under `dir` (recursively), sorted.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => out.extend(walk(&p)),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
    out.sort();
    out
}

/// Relative path -> bytes of every file under `dir`.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .expect("below dir")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&p).unwrap_or_default();
            (rel, bytes)
        })
        .collect()
}

/// Assert two snapshots are equal, naming the first difference.
#[track_caller]
pub(crate) fn assert_same_tree(
    got: &BTreeMap<String, Vec<u8>>,
    want: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let got_names: Vec<&String> = got.keys().collect();
    let want_names: Vec<&String> = want.keys().collect();
    assert_eq!(got_names, want_names, "{what}: different files");
    for (name, bytes) in want {
        assert!(
            got[name] == *bytes,
            "{what}: {name} differs ({} bytes, want {})",
            got[name].len(),
            bytes.len()
        );
    }
}

/// Every entry file under `<cache>/entries` decodes and verifies under the key its file name
/// says; returns how many there are. A torn or foreign file fails the test.
#[track_caller]
pub(crate) fn assert_entries_intact(cache: &Path) -> usize {
    let entries = walk(&cache.join("entries"));
    for path in &entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let key = CacheKey::from_hex(name)
            .unwrap_or_else(|| panic!("{}: not a key-named entry file", path.display()));
        let data = std::fs::read(path).expect("read entry");
        if let Err(e) = Entry::decode(&data, &key) {
            panic!("{}: torn or corrupt entry is visible: {e}", path.display());
        }
    }
    entries.len()
}

/// The cache key `runner explain GATE` prints on its `key  <hex>` line.
#[track_caller]
pub(crate) fn explain_key(repo: &Repo, gate: &str) -> String {
    let out = repo.run(&["explain", gate]);
    out.expect_code(0);
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("key  "))
        .unwrap_or_else(|| panic!("no key line in:\n{}", out.stdout))
        .trim()
        .to_owned()
}

/// Lines of `text` that start with `warning:`.
pub(crate) fn warnings(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("warning:")).collect()
}

/// Run `runner ARGS` in `repo` to its end (bounded by `limit`, then killed) and measure its
/// peak resident memory in KiB: the runner's `VmHWM` in /proc, read every few milliseconds
/// until it exits (the high-water mark only grows, so only a spike in the last moments could
/// be missed). Not `ru_maxrss` from wait4: Linux folds the pre-exec memory of the forked test
/// process into it, which is the test binary's size, not the runner's. Returns (exit code,
/// peak KiB, stderr).
pub(crate) fn run_measuring_memory(
    repo: &Repo,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> (Option<i32>, u64, String) {
    let logs = tempfile::tempdir().expect("log dir");
    let mut runner = Group::spawn(repo, args, env, logs.path());
    let status = PathBuf::from(format!("/proc/{}/status", runner.pid()));
    let deadline = Instant::now() + limit;
    let mut peak = 0u64;
    let mut code = None;
    while Instant::now() < deadline {
        // Read before checking for the end: once reaped, the runner's /proc entry is gone.
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(c) = runner.wait(Duration::from_millis(3)) {
            code = Some(c);
            break;
        }
    }
    // Kills the group if it is still running.
    drop(runner);
    let stderr = std::fs::read_to_string(logs.path().join("0.err")).unwrap_or_default();
    (code, peak, stderr)
}
