//! The remote tier (SPEC 10): a client of the Turborepo Remote Cache HTTP API, a circuit breaker
//! around it, and the cache's remote operations (fetch and verify, publish). Prefetching is in
//! `prefetch.rs`.
//!
//! `HEAD`/`GET`/`PUT /v8/artifacts/<key hex>?teamId=<team>` with a bearer token; the body is the
//! runner's own entry archive. Calls are blocking with the configured timeout. The first failure
//! (down, slow, 4xx other than 404, 5xx) trips the breaker: one warning, and the remote is left
//! alone for the rest of the run, so a dead server costs one timeout, not one per gate.

use std::collections::BTreeSet;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ureq::Agent;

/// Parallel requests the remote is asked at most (the prefetch's threads), and so the idle
/// connections kept. Mostly waiting on the network: enough to hide a round trip of tens of
/// milliseconds behind the others (see bench/REMOTE.md).
pub(super) const PARALLEL_REQUESTS: usize = 32;
use super::{Cache, Entry, Store};
use crate::fingerprint::CacheKey;

/// A Turborepo Remote Cache server.
pub struct HttpStore {
    agent: Agent,
    base: String,
    team: String,
    token: Option<String>,
    /// The variable the token comes from, for messages.
    token_env: String,
}

impl HttpStore {
    /// A client for the server at `url`; every call is bounded by `timeout`.
    #[must_use]
    pub fn new(
        url: &str,
        team: &str,
        token: Option<String>,
        token_env: &str,
        timeout: Duration,
    ) -> Self {
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(3)
            // Keep a connection per prefetch thread (the default keeps 3 per host, and each new
            // connection costs another round trip).
            .max_idle_connections(PARALLEL_REQUESTS)
            .max_idle_connections_per_host(PARALLEL_REQUESTS)
            .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        HttpStore {
            agent,
            base: url.trim_end_matches('/').to_owned(),
            team: team.to_owned(),
            token: token.filter(|t| !t.is_empty()),
            token_env: token_env.to_owned(),
        }
    }

    fn url(&self, key: &CacheKey) -> String {
        format!(
            "{}/v8/artifacts/{}?teamId={}",
            self.base,
            key.hex(),
            query_escape(&self.team)
        )
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    /// An unexpected status as an error, with a hint for the usual causes.
    fn status_error(&self, method: &str, status: u16) -> io::Error {
        let hint = match (status, &self.token) {
            (400..=499, None) => format!(" (${} is not set)", self.token_env),
            (401 | 403, Some(_)) => format!(" (is the token in ${} right?)", self.token_env),
            _ => String::new(),
        };
        io::Error::other(format!("{method} answered HTTP {status}{hint}"))
    }
}

fn transport(method: &str, e: &ureq::Error) -> io::Error {
    io::Error::other(format!("{method} failed: {e}"))
}

/// Percent-encode a query value (RFC 3986 unreserved characters pass).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Store for HttpStore {
    fn name(&self) -> &'static str {
        "remote cache"
    }

    fn get(&self, key: &CacheKey) -> io::Result<Option<Vec<u8>>> {
        let resp = self
            .auth(self.agent.get(self.url(key)))
            .call()
            .map_err(|e| transport("GET", &e))?;
        match resp.status().as_u16() {
            200 => {
                let limit = super::entry::MAX_ENTRY_FILE_BYTES;
                let body = resp
                    .into_body()
                    .into_with_config()
                    .limit(limit)
                    .read_to_vec();
                body.map(Some).map_err(|e| transport("GET (body)", &e))
            }
            404 => Ok(None),
            s => Err(self.status_error("GET", s)),
        }
    }

    fn put(&self, key: &CacheKey, data: &[u8]) -> io::Result<()> {
        let req = self
            .auth(self.agent.put(self.url(key)))
            .header("Content-Type", "application/octet-stream");
        let resp = req.send(data).map_err(|e| transport("PUT", &e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            413 => Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "the server refused the entry as too large (HTTP 413)",
            )),
            s => Err(self.status_error("PUT", s)),
        }
    }

    fn contains(&self, key: &CacheKey) -> io::Result<bool> {
        let resp = self
            .auth(self.agent.head(self.url(key)))
            .call()
            .map_err(|e| transport("HEAD", &e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            s => Err(self.status_error("HEAD", s)),
        }
    }
}

/// The remote as a run uses it: a store behind a circuit breaker, with the run's read and write
/// permissions.
pub struct Remote {
    store: Box<dyn Store>,
    /// Where it is, for messages (the URL; never the token).
    label: String,
    read: bool,
    write: bool,
    down: AtomicBool,
    /// Keys the remote does not have (or had only an entry that was rejected): asked once.
    missing: Mutex<BTreeSet<CacheKey>>,
}

impl Remote {
    /// Put `store` behind the circuit breaker; `label` names it in warnings, `read` and `write`
    /// are this run's permissions.
    #[must_use]
    pub fn new(store: Box<dyn Store>, label: &str, read: bool, write: bool) -> Self {
        Remote {
            store,
            label: label.to_owned(),
            read,
            write,
            down: AtomicBool::new(false),
            missing: Mutex::new(BTreeSet::new()),
        }
    }

    /// May entries be read (configured, and not tripped)?
    #[must_use]
    pub fn readable(&self) -> bool {
        self.read && !self.down.load(Ordering::Relaxed)
    }

    /// May entries be written (configured and allowed by signing, and not tripped)?
    #[must_use]
    pub fn writable(&self) -> bool {
        self.write && !self.down.load(Ordering::Relaxed)
    }

    /// Trip the breaker; the warning for the run when this call tripped it first.
    fn trip(&self, e: &io::Error) -> Option<String> {
        let first = !self.down.swap(true, Ordering::Relaxed);
        first.then(|| {
            format!(
                "remote cache {}: {e}; the remote cache is off for the rest of this run (gates run or replay locally)",
                self.label
            )
        })
    }

    fn knows_missing(&self, key: &CacheKey) -> bool {
        self.missing.lock().is_ok_and(|m| m.contains(key))
    }

    fn mark_missing(&self, key: &CacheKey) {
        if let Ok(mut m) = self.missing.lock() {
            m.insert(*key);
        }
    }

    /// The entry's bytes, None on a miss or a failure (which trips the breaker and warns once).
    fn get(&self, key: &CacheKey, warn: &dyn Fn(String)) -> Option<Vec<u8>> {
        if !self.readable() || self.knows_missing(key) {
            return None;
        }
        match self.store.get(key) {
            Ok(Some(data)) => Some(data),
            Ok(None) => {
                self.mark_missing(key);
                None
            }
            Err(e) => {
                if let Some(w) = self.trip(&e) {
                    warn(w);
                }
                None
            }
        }
    }
}

impl Cache {
    /// Fetch `key` from the remote, verify it (archive, key, signature), and return the entry
    /// with its bytes. Rejections warn naming the gate; nothing is written anywhere.
    pub(super) fn remote_fetch(&self, gate: &str, key: &CacheKey) -> Option<(Entry, Vec<u8>)> {
        let remote = self.remote.as_ref()?;
        let data = remote.get(key, &|w| self.warn(w))?;
        match self.accept_remote(key, &data) {
            Ok(entry) => Some((entry, data)),
            Err(why) => {
                self.warn(format!(
                    "remote cache entry {} for gate `{gate}` rejected: {why}; running the gate",
                    short(key)
                ));
                remote.mark_missing(key);
                None
            }
        }
    }

    fn accept_remote(&self, key: &CacheKey, data: &[u8]) -> Result<Entry, String> {
        let entry = Entry::decode(data, key).map_err(|e| e.to_string())?;
        if let Some(trusted) = &self.trusted {
            entry.check_signature(key, trusted)?;
        }
        Ok(entry)
    }

    /// Is the entry on the remote (HEAD; unverified)? For `--dry-run`.
    pub(super) fn remote_contains(&self, key: &CacheKey) -> bool {
        let Some(remote) = self.remote.as_ref().filter(|r| r.readable()) else {
            return false;
        };
        match remote.store.contains(key) {
            Ok(found) => found,
            Err(e) => {
                if let Some(w) = remote.trip(&e) {
                    self.warn(w);
                }
                false
            }
        }
    }

    /// Sign `entry` and send it to the remote when this run may write there. Only called for
    /// entries of successful runs, just stored locally.
    pub(super) fn publish(&self, gate: &str, key: &CacheKey, entry: &Entry) {
        let (Some(remote), Some(signer)) = (self.remote.as_ref(), self.signer.as_ref()) else {
            return;
        };
        if !remote.writable() {
            return;
        }
        let mut signed = entry.clone();
        if let Err(e) = signed.sign(signer) {
            self.warn(format!(
                "gate `{gate}` not sent to the remote cache: cannot sign it: {e}"
            ));
            return;
        }
        match remote.store.put(key, &signed.encode()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                self.warn(format!("gate `{gate}` not sent to the remote cache: {e}"));
            }
            Err(e) => {
                if let Some(w) = remote.trip(&e) {
                    self.warn(w);
                }
            }
        }
    }
}

fn short(key: &CacheKey) -> String {
    key.hex()[..12].to_owned()
}

/// The URL of the remote cache: `RUNNER_REMOTE_CACHE_URL` when set, else the config's.
#[must_use]
pub fn url(settings_url: Option<&str>) -> Option<String> {
    std::env::var("RUNNER_REMOTE_CACHE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| settings_url.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "pqc")]
    use std::collections::HashMap;

    use super::*;
    #[cfg(feature = "pqc")]
    use crate::config::Config;
    #[cfg(feature = "pqc")]
    use crate::fingerprint::Fingerprinter;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A store that fails every call, counting them.
    struct Broken(Arc<AtomicUsize>);

    impl Store for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn get(&self, _: &CacheKey) -> io::Result<Option<Vec<u8>>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(io::Error::other("connection refused"))
        }
        fn put(&self, _: &CacheKey, _: &[u8]) -> io::Result<()> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(io::Error::other("connection refused"))
        }
    }

    #[test]
    fn breaker_trips_once_and_stops_calling() {
        let calls = Arc::new(AtomicUsize::new(0));
        let remote = Remote::new(Box::new(Broken(calls.clone())), "http://x", true, true);
        let warnings = Mutex::new(Vec::new());
        let warn = |w: String| warnings.lock().unwrap().push(w);
        for i in 0..100u8 {
            assert!(remote.get(&CacheKey([i; 32]), &warn).is_none());
        }
        assert_eq!(warnings.lock().unwrap().len(), 1);
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "after the first failure the remote is left alone"
        );
        assert!(!remote.readable() && !remote.writable());
        assert!(warnings.lock().unwrap()[0].contains("off for the rest of this run"));
    }

    #[cfg(feature = "pqc")]
    /// An in-memory remote.
    #[derive(Clone, Default)]
    struct Mem(Arc<Mutex<HashMap<CacheKey, Vec<u8>>>>);

    #[cfg(feature = "pqc")]
    impl Store for Mem {
        fn name(&self) -> &'static str {
            "memory"
        }
        fn get(&self, key: &CacheKey) -> io::Result<Option<Vec<u8>>> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        fn put(&self, key: &CacheKey, data: &[u8]) -> io::Result<()> {
            self.0.lock().unwrap().insert(*key, data.to_vec());
            Ok(())
        }
    }

    #[cfg(feature = "pqc")]
    struct Fixture {
        dir: tempfile::TempDir,
        config: Config,
        fp: Fingerprinter,
        signer: crate::signing::Signer,
        trusted: crate::signing::TrustedKeys,
    }

    #[cfg(feature = "pqc")]
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("gates.toml"),
            "version = 1\n[gates.a]\nrun = \"true\"\nartifacts = [\"out/a.txt\"]\n",
        )
        .unwrap();
        let config = crate::config::load(&dir.path().join("gates.toml"))
            .map_err(|e| e.render())
            .unwrap();
        let fp = Fingerprinter::new(
            dir.path(),
            crate::fingerprint::StatCache::load(&dir.path().join("stat")),
            config.settings.env_mode,
        );
        let (key, public, _) = crate::signing::keygen(&dir.path().join("keys/ci")).unwrap();
        let signer = crate::signing::Signer::parse(&std::fs::read_to_string(key).unwrap()).unwrap();
        let mut trusted = crate::signing::TrustedKeys::default();
        trusted.add("ci.pub", signer.public().to_vec());
        assert!(public.exists());
        Fixture {
            dir,
            config,
            fp,
            signer,
            trusted,
        }
    }

    #[cfg(feature = "pqc")]
    fn entry(key: &CacheKey, content: &[u8]) -> Entry {
        Entry {
            manifest: super::super::Manifest {
                key: key.hex(),
                gate: "a".into(),
                created_at: String::new(),
                files: vec![super::super::FileRecord {
                    path: "out/a.txt".into(),
                    size: content.len() as u64,
                    executable: false,
                    hash: crate::fingerprint::hex(blake3::hash(content).as_bytes()),
                    link: None,
                }],
                log_bytes: 0,
                material: crate::fingerprint::KeyMaterial::default(),
                signature: None,
            },
            contents: vec![content.to_vec()],
            log: Vec::new(),
        }
    }

    #[cfg(feature = "pqc")]
    #[test]
    fn trusted_remote_hit_is_restored_and_kept_locally_untrusted_is_not() {
        let f = fixture();
        let mem = Mem::default();
        let (good, unsigned) = (CacheKey([1; 32]), CacheKey([2; 32]));
        let mut e = entry(&good, b"from remote\n");
        e.sign(&f.signer).unwrap();
        mem.put(&good, &e.encode()).unwrap();
        mem.put(&unsigned, &entry(&unsigned, b"poison\n").encode())
            .unwrap();
        let open = || Cache::open(f.dir.path(), &f.dir.path().join("cache"));
        let cache = open().with_remote_store(
            Remote::new(Box::new(mem.clone()), "mem", true, false),
            Some(f.trusted.clone()),
            None,
        );
        let gate = &f.config.gates[0];

        assert!(matches!(
            cache.lookup(gate, &unsigned, &f.fp),
            super::super::Lookup::Miss
        ));
        assert!(!f.dir.path().join("out/a.txt").exists(), "nothing restored");
        let w = cache.take_warnings();
        assert!(
            w.len() == 1 && w[0].contains("gate `a`") && w[0].contains("unsigned"),
            "{w:?}"
        );

        assert!(matches!(
            cache.lookup(gate, &good, &f.fp),
            super::super::Lookup::Hit { restored: 1 }
        ));
        assert_eq!(
            std::fs::read(f.dir.path().join("out/a.txt")).unwrap(),
            b"from remote\n"
        );
        // Kept locally: a cache without any remote replays it.
        std::fs::remove_file(f.dir.path().join("out/a.txt")).unwrap();
        f.fp.invalidate(std::path::Path::new("out/a.txt"));
        assert!(matches!(
            open().lookup(gate, &good, &f.fp),
            super::super::Lookup::Hit { restored: 1 }
        ));
        assert!(cache.take_warnings().is_empty());
        // The untrusted entry never reached the local store.
        assert!(matches!(
            open().lookup(gate, &unsigned, &f.fp),
            super::super::Lookup::Miss
        ));
    }

    #[cfg(feature = "pqc")]
    #[test]
    fn stored_entries_are_published_signed_only_with_a_signer() {
        let f = fixture();
        let gate = &f.config.gates[0];
        std::fs::create_dir_all(f.dir.path().join("out")).unwrap();
        std::fs::write(f.dir.path().join("out/a.txt"), b"built\n").unwrap();
        let key = CacheKey([3; 32]);
        let material = crate::fingerprint::KeyMaterial::default();

        let mem = Mem::default();
        let reader = Cache::open(f.dir.path(), &f.dir.path().join("c1")).with_remote_store(
            Remote::new(Box::new(mem.clone()), "mem", true, true),
            Some(f.trusted.clone()),
            None,
        );
        reader.store(gate, &key, &material, &f.fp, "now");
        assert!(
            mem.0.lock().unwrap().is_empty(),
            "no signer, no remote write"
        );

        let signer = crate::signing::Signer::parse(
            &std::fs::read_to_string(f.dir.path().join("keys/ci.key")).unwrap(),
        )
        .unwrap();
        let writer = Cache::open(f.dir.path(), &f.dir.path().join("c2")).with_remote_store(
            Remote::new(Box::new(mem.clone()), "mem", true, true),
            Some(f.trusted.clone()),
            Some(signer),
        );
        writer.store(gate, &key, &material, &f.fp, "now");
        let sent = mem.get(&key).unwrap().expect("published");
        let decoded = Entry::decode(&sent, &key).unwrap();
        decoded.check_signature(&key, &f.trusted).unwrap();
        assert!(writer.take_warnings().is_empty());
    }

    #[test]
    fn escapes_team() {
        assert_eq!(query_escape("my team/ä"), "my%20team%2F%C3%A4");
        assert_eq!(query_escape("gates-1_x.y~"), "gates-1_x.y~");
    }
}
