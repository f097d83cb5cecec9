//! The remote cache (SPEC 10) against the real `turborepo-remote-cache` server: fresh clones
//! replay from it, a wrong token or a server stopped mid-run is one warning, untrusted writers
//! cannot plant entries, and hostile entries are refused before anything is written. Faults a
//! real server does not make are in `faults`.
//!
//! The server is the npm package `turborepo-remote-cache`; `.ci/run` installs it and sets
//! `RUNNER_TEST_REMOTE_CACHE_BIN`. Without it (and not installed under
//! `target/remote-cache-server/`), these tests print why and pass without running.

mod faults;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runner::cache::{Entry, FileRecord, Manifest};
use runner::fingerprint::{CacheKey, KeyMaterial};
use runner::signing::Signer;

use crate::harness::{Outcome, Repo};

const TOKEN: &str = "test-token";
const TEAM: &str = "gates";

/// A running `turborepo-remote-cache` on 127.0.0.1, killed when dropped.
pub(crate) struct Server {
    child: Child,
    port: u16,
    storage: tempfile::TempDir,
}

impl Server {
    /// Start the server on a free port with local storage in a temporary folder; None (with
    /// the reason printed) when the server is not installed.
    /// Start the server. Its tests are `#[ignore]`d (they need npm's turborepo-remote-cache);
    /// run with `--include-ignored` (as `.ci/run` does) they fail when it is missing.
    pub(crate) fn start() -> Option<Server> {
        let bin = match std::env::var_os("RUNNER_TEST_REMOTE_CACHE_BIN") {
            Some(b) => {
                let b = PathBuf::from(b);
                assert!(
                    b.exists(),
                    "RUNNER_TEST_REMOTE_CACHE_BIN={} does not exist",
                    b.display()
                );
                b
            }
            None => {
                let b = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("target/remote-cache-server/node_modules/.bin/turborepo-remote-cache");
                assert!(
                    b.exists(),
                    "turborepo-remote-cache is not installed: set RUNNER_TEST_REMOTE_CACHE_BIN, \
                     or run .ci/run (which installs it under target/remote-cache-server)"
                );
                b
            }
        };
        let storage = tempfile::tempdir().expect("storage dir");
        let port = free_port();
        let log = std::fs::File::create(storage.path().join("server.log")).expect("server log");
        let child = Command::new(&bin)
            .env("STORAGE_PROVIDER", "local")
            .env("STORAGE_PATH", storage.path().join("store"))
            .env("STORAGE_PATH_USE_TMP_FOLDER", "false")
            .env("TURBO_TOKEN", TOKEN)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("LOG_LEVEL", "warn")
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut server = Server {
            child,
            port,
            storage,
        };
        server.wait_ready();
        Some(server)
    }

    /// Poll the status endpoint, at most 30 s.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/v8/artifacts/status", self.url());
        loop {
            if ureq::get(&url)
                .header("Authorization", format!("Bearer {TOKEN}"))
                .call()
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the remote cache server exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the remote cache server did not start in 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.storage.path().join("server.log")).unwrap_or_default()
    }

    /// The keys the server holds for the team.
    pub(crate) fn keys(&self) -> Vec<String> {
        let dir = self.storage.path().join("store").join(TEAM);
        let mut keys: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// The stored bytes under `key`.
    pub(crate) fn entry(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.storage.path().join("store").join(TEAM).join(key)).expect("stored entry")
    }

    /// PUT `data` under `key` through the API, as any holder of the token could.
    pub(crate) fn plant(&self, key: &str, data: &[u8]) {
        ureq::put(format!("{}/v8/artifacts/{key}?teamId={TEAM}", self.url()))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/octet-stream")
            .send(data)
            .expect("plant an entry");
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A Dilithium2 pair made by `runner keygen`, outside any repository.
pub(crate) struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    pub(crate) fn new(names: &[&str]) -> Keys {
        let dir = tempfile::tempdir().expect("key dir");
        let cwd = Repo::new();
        for name in names {
            let prefix = dir.path().join(name);
            cwd.run(&["keygen", "--out", prefix.to_str().expect("utf-8 path")])
                .expect_code(0);
        }
        Keys { dir }
    }

    pub(crate) fn secret(&self, name: &str) -> String {
        self.dir
            .path()
            .join(format!("{name}.key"))
            .to_string_lossy()
            .into_owned()
    }

    pub(crate) fn public(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.pub"))).expect("public key")
    }

    pub(crate) fn signer(&self, name: &str) -> Signer {
        Signer::parse(&std::fs::read_to_string(self.secret(name)).expect("secret key"))
            .expect("parse key")
    }
}

/// Three gates in a chain, each appending its name to `runs.log` when it executes.
pub(crate) const CHAIN: &str = r#"
[gates.a]
run = "echo a >> runs.log; mkdir -p out; cat src/*.txt > out/a.txt"
inputs = ["src/*.txt"]
artifacts = ["out/a.txt"]

[gates.b]
run = "echo b >> runs.log; mkdir -p out; tr a-z A-Z < out/a.txt > out/b.txt"
needs = ["a"]
artifacts = ["out/b.txt"]

[gates.c]
run = "echo c >> runs.log; mkdir -p out; wc -c < out/b.txt > out/c.txt"
needs = ["b"]
artifacts = ["out/c.txt"]
"#;

/// `[settings]` for a remote at `url` that trusts `keys/ci.pub`.
pub(crate) fn settings(url: &str, timeout: &str, signing: bool) -> String {
    let mut s = format!(
        "[settings.remote_cache]\nurl = \"{url}\"\nteam = \"{TEAM}\"\nwrite = true\ntimeout = \"{timeout}\"\n\n"
    );
    if signing {
        s.push_str("[settings.signing]\ntrusted_keys = [\"keys/ci.pub\"]\n\n");
    }
    s
}

/// A repository with `gates`, `src/one.txt`, and `keys/ci.pub`; talks to the remote with the
/// right token, without a signing key.
pub(crate) fn repo(gates: &str, keys: Option<&Keys>) -> Repo {
    let repo = Repo::new()
        .gates(gates)
        .env("RUNNER_REMOTE_CACHE_TOKEN", TOKEN)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    repo.write("src/one.txt", "hello remote\n");
    if let Some(keys) = keys {
        repo.write("keys/ci.pub", &keys.public("ci"));
    }
    repo
}

/// What ran, in order.
pub(crate) fn runs(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .replace('\n', "")
}

/// Warning lines of a run.
pub(crate) fn warnings(out: &Outcome) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect()
}

/// Entries in the repository's local cache.
pub(crate) fn local_entries(repo: &Repo) -> usize {
    walk_files(&repo.path("cache/entries")).len()
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(read) = std::fs::read_dir(dir) {
        for e in read.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn key_of(repo: &Repo, gate: &str) -> String {
    repo.gate(gate)["key"].as_str().expect("key").to_owned()
}

/// A trusted CI run populates the remote with signed entries of every gate.
fn populate(server: &Server, keys: &Keys) -> Repo {
    let ci = repo(
        &format!("{}{CHAIN}", settings(&server.url(), "5s", true)),
        Some(keys),
    )
    .env("RUNNER_SIGNING_KEY", &keys.secret("ci"));
    let out = ci.run(&["run"]);
    out.expect_code(0);
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
    assert_eq!(runs(&ci), "abc");
    assert_eq!(server.keys().len(), 3, "every passing gate was sent");
    ci
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn fresh_clone_gets_every_gate_from_the_remote() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci"]);
    let ci = populate(&server, &keys);
    // A fresh clone: same files, empty cache, no signing key (it only reads).
    let clone = repo(
        &format!("{}{CHAIN}", settings(&server.url(), "5s", true)),
        Some(&keys),
    );
    let out = clone.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&clone), "", "no command executed");
    for g in ["a", "b", "c"] {
        assert_eq!(clone.status(g), ("pass".into(), true), "{g}");
        assert_eq!(
            clone.read(&format!("out/{g}.txt")),
            ci.read(&format!("out/{g}.txt"))
        );
    }
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
    assert_eq!(local_entries(&clone), 3, "remote hits are kept locally");
    assert_eq!(server.keys().len(), 3, "a reader writes nothing");

    // The URL may come from the environment instead of gates.toml; and with the entries kept
    // locally, a dead remote is not even asked.
    let elsewhere = repo(
        &format!("{}{CHAIN}", settings("http://127.0.0.1:1", "5s", true)),
        Some(&keys),
    )
    .env("RUNNER_REMOTE_CACHE_URL", &server.url());
    elsewhere.run(&["run"]).expect_code(0);
    assert_eq!(runs(&elsewhere), "");
    drop(server);
    std::fs::remove_dir_all(clone.path("out")).unwrap();
    let out = clone.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&clone), "");
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn wrong_token_is_one_warning_and_the_gates_run() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci"]);
    populate(&server, &keys);
    let mut clone = repo(
        &format!("{}{CHAIN}", settings(&server.url(), "5s", true)),
        Some(&keys),
    );
    clone.set_env("RUNNER_REMOTE_CACHE_TOKEN", "not-the-token");
    let out = clone.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&clone), "abc");
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{}", out.stderr);
    assert!(
        w[0].contains("401") && w[0].contains("RUNNER_REMOTE_CACHE_TOKEN"),
        "{}",
        w[0]
    );
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn server_stopped_mid_run_is_one_warning() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci"]);
    // `stop` kills the server when STOP_PID is set (not part of any key); `d` and `e` need it, so
    // their lookups come after the server is gone, while `early` is fetched before.
    let gates = r#"
[gates.early]
run = "echo early >> runs.log; mkdir -p out; cat src/*.txt > out/early.txt"
inputs = ["src/*.txt"]
artifacts = ["out/early.txt"]

[gates.stop]
run = "if [ -n \"$STOP_PID\" ]; then kill $STOP_PID; sleep 0.3; fi"
pass_env = ["STOP_PID"]
cache = false

[gates.d]
run = "echo d >> runs.log; mkdir -p out; echo d > out/d.txt"
needs = ["stop"]
artifacts = ["out/d.txt"]

[gates.e]
run = "echo e >> runs.log; mkdir -p out; echo e > out/e.txt"
needs = ["stop"]
artifacts = ["out/e.txt"]
"#;
    let text = format!("{}{gates}", settings(&server.url(), "2s", true));
    let ci = repo(&text, Some(&keys)).env("RUNNER_SIGNING_KEY", &keys.secret("ci"));
    ci.run(&["run"]).expect_code(0);
    assert_eq!(server.keys().len(), 3);
    let clone = repo(&text, Some(&keys)).env("STOP_PID", &server.pid().to_string());
    let started = Instant::now();
    let out = clone.run(&["run"]);
    out.expect_code(0);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        clone.status("early"),
        ("pass".into(), true),
        "fetched before the server stopped"
    );
    let mut ran: Vec<char> = runs(&clone).chars().collect();
    ran.sort_unstable();
    assert_eq!(
        ran,
        ['d', 'e'],
        "d and e ran (in either order); early did not"
    );
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{}", out.stderr);
    assert!(
        w[0].contains("remote cache") && w[0].contains("off for the rest of this run"),
        "{}",
        w[0]
    );
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn a_run_without_the_signing_key_writes_nothing() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci"]);
    // write = true in gates.toml, the right token, but no key: a pull-request build.
    let pr = repo(
        &format!("{}{CHAIN}", settings(&server.url(), "5s", true)),
        Some(&keys),
    );
    let out = pr.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&pr), "abc");
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
    assert!(
        server.keys().is_empty(),
        "nothing reached the remote: {:?}",
        server.keys()
    );
    assert!(
        !pr.path("cache/report.json.sig").exists(),
        "no key, no report signature"
    );
    // Without [settings.signing] there is no signature to make: still no writes, and a warning.
    let unsigned = repo(
        &format!("{}{CHAIN}", settings(&server.url(), "5s", false)),
        None,
    );
    let out = unsigned.run(&["run"]);
    out.expect_code(0);
    assert!(server.keys().is_empty());
    assert!(
        out.stderr.contains("no [settings.signing]"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn entries_from_untrusted_writers_are_rejected_and_the_gates_run() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci", "stranger"]);
    let text = format!("{}{CHAIN}", settings(&server.url(), "5s", true));
    // Someone with the token but not the trusted key writes first (signed by an unknown key).
    let stranger = repo(&text, Some(&keys)).env("RUNNER_SIGNING_KEY", &keys.secret("stranger"));
    let out = stranger.run(&["run"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("not among trusted_keys"),
        "{}",
        out.stderr
    );
    assert_eq!(server.keys().len(), 3);
    // ... and plants an unsigned entry under c's key: the bytes of its own local entry.
    let key_c = key_of(&stranger, "c");
    let local_c = walk_files(&stranger.path("cache/entries"))
        .into_iter()
        .find(|p| p.ends_with(&key_c))
        .expect("local entry");
    let unsigned = std::fs::read(local_c).unwrap();
    assert!(
        Entry::decode(&unsigned, &CacheKey::from_hex(&key_c).unwrap())
            .unwrap()
            .manifest
            .signature
            .is_none()
    );
    server.plant(&key_c, &unsigned);

    let clone = repo(&text, Some(&keys));
    let out = clone.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&clone), "abc", "nothing untrusted was replayed");
    for g in ["a", "b"] {
        assert!(
            warnings(&out)
                .iter()
                .any(|w| w.contains(&format!("gate `{g}`")) && w.contains("unknown key")),
            "{g}: {}",
            out.stderr
        );
    }
    assert!(
        warnings(&out)
            .iter()
            .any(|w| w.contains("gate `c`") && w.contains("unsigned")),
        "{}",
        out.stderr
    );

    // The trusted writer then replaces them (it had a miss, so it writes), and readers hit.
    let ci = repo(&text, Some(&keys)).env("RUNNER_SIGNING_KEY", &keys.secret("ci"));
    ci.run(&["run"]).expect_code(0);
    assert_eq!(runs(&ci), "abc");
    let fresh = repo(&text, Some(&keys));
    let out = fresh.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&fresh), "");
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn a_valid_entry_copied_under_another_key_is_rejected() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci"]);
    let ci = populate(&server, &keys);
    let (key_a, key_c) = (key_of(&ci, "a"), key_of(&ci, "c"));
    server.plant(&key_c, &server.entry(&key_a));
    let clone = repo(
        &format!("{}{CHAIN}", settings(&server.url(), "5s", true)),
        Some(&keys),
    );
    let out = clone.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&clone), "c", "a and b replayed, c ran");
    assert_eq!(clone.read("out/c.txt"), ci.read("out/c.txt"));
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{}", out.stderr);
    assert!(
        w[0].contains("gate `c`") && w[0].contains("another key"),
        "{}",
        w[0]
    );
}

/// An entry for `key` with one file at `path`, signed by `signer`: a trusted key gone rogue, so
/// only restore safety stands between it and the disk.
fn hostile(key: &str, path: &str, signer: &Signer) -> Vec<u8> {
    let content = b"pwned\n".to_vec();
    let mut entry = Entry {
        manifest: Manifest {
            key: key.to_owned(),
            gate: "a".into(),
            created_at: String::new(),
            files: vec![FileRecord {
                path: path.to_owned(),
                size: content.len() as u64,
                executable: false,
                hash: blake3::hash(&content).to_hex().to_string(),
                link: None,
            }],
            log_bytes: 0,
            material: KeyMaterial::default(),
            signature: None,
        },
        contents: vec![content],
        log: Vec::new(),
    };
    entry.sign(signer).expect("sign");
    entry.encode()
}

#[test]
#[ignore = "needs turborepo-remote-cache (npm); .ci/run installs it"]
fn hostile_remote_entries_are_refused_before_anything_is_written() {
    let Some(server) = Server::start() else {
        return;
    };
    let keys = Keys::new(&["ci"]);
    let signer = keys.signer("ci");
    // One gate whose artifact path is what the hostile entry names.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("evil.txt");
    let cases = [
        target.to_string_lossy().into_owned(),
        "../evil.txt".to_owned(),
        "out/../../evil.txt".to_owned(),
    ];
    for path in &cases {
        let gates = "[gates.a]\nrun = \"echo a >> runs.log; mkdir -p out; cat src/*.txt > out/a.txt\"\n\
                     inputs = [\"src/*.txt\"]\nartifacts = [\"out/a.txt\"]\n";
        let text = format!("{}{gates}", settings(&server.url(), "5s", true));
        let probe = repo(&text, Some(&keys)).env("RUNNER_REMOTE_CACHE_URL", "http://127.0.0.1:1");
        probe.run(&["run"]).expect_code(0);
        let key = key_of(&probe, "a");
        server.plant(&key, &hostile(&key, path, &signer));
        let clone = repo(&text, Some(&keys));
        let out = clone.run(&["run"]);
        out.expect_code(0);
        assert_eq!(runs(&clone), "a", "{path}: the gate ran");
        assert!(
            warnings(&out)
                .iter()
                .any(|w| w.contains("gate `a`") && w.contains("unsafe path")),
            "{path}: {}",
            out.stderr
        );
        assert!(
            !target.exists() && !clone.root().parent().unwrap().join("evil.txt").exists(),
            "{path}: written outside"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert_eq!(
            local_entries(&clone),
            1,
            "{path}: only the gate's own entry is kept locally"
        );
    }

    // A valid entry, but out/ is a symlink to a folder outside the repository.
    let gates = "[gates.a]\nrun = \"echo a >> runs.log; test ! -L out && mkdir -p out && cat src/*.txt > out/a.txt\"\n\
                 inputs = [\"src/*.txt\"]\nartifacts = [\"out/a.txt\"]\nmode = \"observational\"\n";
    let text = format!("{}{gates}", settings(&server.url(), "5s", true));
    let ci = repo(&text, Some(&keys)).env("RUNNER_SIGNING_KEY", &keys.secret("ci"));
    ci.run(&["run"]).expect_code(0);
    let clone = repo(&text, Some(&keys));
    std::os::unix::fs::symlink(outside.path(), clone.path("out")).unwrap();
    let out = clone.run(&["run"]);
    assert_eq!(
        runs(&clone),
        "a",
        "the gate ran (and refused the symlink itself)"
    );
    assert!(
        warnings(&out)
            .iter()
            .any(|w| w.contains("gate `a`") && w.contains("symlink")),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written through the symlink"
    );
}
