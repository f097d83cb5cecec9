//! The content-addressed cache: entries, the local store, the remote tier, the index fast
//! path, restore, and the budget (the ledger of entries and their eviction).

pub mod entry;
mod evict;
mod index;
mod ledger;
mod local;
mod prefetch;
pub mod remote;
pub mod restore;
pub mod trust;

pub use crate::signing::Signature;
pub use entry::{Entry, EntryError, FileRecord, MAX_ENTRY_BYTES, Manifest};
pub use evict::{Evicted, GRACE, Pass, RUN_BUDGET, Stats, prune, stats};
pub use index::{Index, IndexRecord};
pub use local::LocalStore;
pub use remote::{HttpStore, Remote};

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{Config, Gate, is_glob};
use crate::fingerprint::artifacts::{file_digest, link_digest};
use crate::fingerprint::{
    ArtifactSpec, CacheKey, Fingerprinter, Found, KeyMaterial, Member, hex, path_string,
};
use crate::signing::{Signer, TrustedKeys};

/// A place entries are kept: the local folder, or a remote server. Small and synchronous.
pub trait Store: Send + Sync {
    /// What the store is called in warnings (`local cache`, `remote cache`).
    fn name(&self) -> &'static str;
    /// The entry's bytes, or None when absent.
    fn get(&self, key: &CacheKey) -> io::Result<Option<Vec<u8>>>;
    /// Store `data` as the entry of `key`.
    fn put(&self, key: &CacheKey, data: &[u8]) -> io::Result<()>;
    /// Is there an entry (unverified)? The default reads it.
    fn contains(&self, key: &CacheKey) -> io::Result<bool> {
        Ok(self.get(key)?.is_some())
    }
    /// Drop an entry found corrupt (best effort).
    fn remove(&self, _key: &CacheKey) {}
}

/// The answer to a lookup.
#[derive(Debug)]
pub enum Lookup {
    /// Replayed: artifacts are in place (`restored` of them were written back).
    Hit {
        /// How many artifacts had to be written back (0 when all were already in place).
        restored: usize,
    },
    /// No usable entry: absent, unreadable or rejected.
    Miss,
}

/// Largest log kept in an entry; longer logs keep their tail (as the log files do).
const MAX_LOG_BYTES: u64 = crate::proc::command::LOG_KEEP_BYTES;

/// The cache as the scheduler sees it.
pub struct Cache {
    root: PathBuf,
    cache_dir: PathBuf,
    log_dir: PathBuf,
    local: LocalStore,
    index: Mutex<Index>,
    warnings: Mutex<Vec<String>>,
    /// The remote tier, when configured (`with_remote`).
    remote: Option<Remote>,
    /// Signs what this run writes to the remote; None without the signing key.
    signer: Option<Signer>,
    /// With `[settings.signing]`: remote entries must be signed by one of these.
    trusted: Option<TrustedKeys>,
    /// The run's clock, ms since the epoch: the time uses are recorded at.
    now_ms: AtomicU64,
    /// Stores and hits of this run, recorded in the ledger when it ends (`finish`).
    uses: Mutex<Vec<evict::Use>>,
}

impl Cache {
    /// Open the cache under `cache_dir` for the repository at `root`.
    #[must_use]
    pub fn open(root: &Path, cache_dir: &Path) -> Self {
        let index = Index::load(&cache_dir.join("index.bin"));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let cache = Cache {
            root: root.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            log_dir: cache_dir.join("logs"),
            local: LocalStore::new(cache_dir),
            warnings: Mutex::new(index.load_warning.iter().cloned().collect()),
            index: Mutex::new(index),
            remote: None,
            signer: None,
            trusted: None,
            now_ms: AtomicU64::new(now_ms),
            uses: Mutex::new(Vec::new()),
        };
        cache.local.clean_stale_temporaries();
        cache
    }

    /// Use the run's clock (`--now`) for the uses this run records, instead of the system's.
    pub fn set_clock(&self, now: time::OffsetDateTime) {
        let ms = now.unix_timestamp_nanos() / 1_000_000;
        self.now_ms
            .store(u64::try_from(ms).unwrap_or(0), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    fn record_use(&self, u: evict::Use) {
        if let Ok(mut uses) = self.uses.lock() {
            uses.push(u);
        }
    }

    /// Keep an entry's bytes in the local store (a store, or a verified remote entry) and
    /// record the store for the ledger.
    fn put_local(&self, gate: &str, key: &CacheKey, data: &[u8]) -> io::Result<()> {
        let written = self.local.put_written(key, data)?;
        self.record_use(evict::Use::Stored {
            key: *key,
            size: data.len() as u64,
            gate: gate.to_owned(),
            written,
        });
        Ok(())
    }

    /// The end of a run, after `save`: record this run's stores and hits in the ledger, then
    /// walk and evict within `[settings.cache]` as far as `evict::RUN_BUDGET` allows, when
    /// anything is due. A no-op run with nothing due reads the ledger's header only. What
    /// went wrong is a warning.
    pub fn finish(&self, config: &Config) -> Option<Pass> {
        let uses = self
            .uses
            .lock()
            .map(|mut u| std::mem::take(&mut *u))
            .unwrap_or_default();
        // Built only when logs are pruned (most runs walk nothing).
        let names = std::cell::OnceCell::new();
        let known = |gate: &str| {
            names
                .get_or_init(|| config.gates_by_name())
                .contains_key(gate)
        };
        match evict::maintain(
            &evict::Folders::of(&self.cache_dir),
            &uses,
            &config.settings.cache,
            self.now_ms(),
            &known,
        ) {
            Ok(pass) => pass,
            Err(e) => {
                self.warn(format!(
                    "cannot keep the cache within its budget ({}): {e}",
                    self.cache_dir.join("entries").display()
                ));
                None
            }
        }
    }

    /// Add the remote tier of `[settings.remote_cache]` (SPEC 10), with the signing policy of
    /// `[settings.signing]`. Without a URL (in the config or `RUNNER_REMOTE_CACHE_URL`) the
    /// cache stays local. What is read, written and verified is `trust::decide`'s call; this
    /// gathers its inputs (the trusted keys, the signing key) and applies it.
    #[must_use]
    pub fn with_remote(mut self, config: &Config) -> Self {
        let Some(settings) = &config.settings.remote_cache else {
            if std::env::var_os("RUNNER_REMOTE_CACHE_URL").is_some_and(|v| !v.is_empty()) {
                self.warn(format!(
                    "RUNNER_REMOTE_CACHE_URL is set, but {} has no [settings.remote_cache] table, \
                     so the remote cache is not used; add the table (its url may stay unset: \
                     the variable gives it), see docs/remote-cache.md",
                    config.file_name
                ));
            }
            return self;
        };
        let Some(url) = remote::url(settings.url.as_deref()) else {
            return self;
        };
        let mut trusted = None;
        let mut signer = None;
        let signing = config.settings.signing.as_ref().map(|signing| {
            let available = crate::signing::available();
            let mut state = trust::SigningState {
                available,
                any_trusted: false,
                signer: trust::SignerState::Absent,
                key_env: signing.key_env.clone(),
            };
            if available {
                let (keys, warnings) = TrustedKeys::load(&signing.trusted_keys, &config.root);
                warnings.into_iter().for_each(|w| self.warn(w));
                state.any_trusted = !keys.is_empty();
                state.signer = match Signer::from_env(&signing.key_env, &config.root) {
                    Ok(Some(s)) => {
                        let in_trusted = keys.contains(s.id());
                        signer = Some(s);
                        trust::SignerState::Loaded {
                            trusted: in_trusted,
                        }
                    }
                    Ok(None) => trust::SignerState::Absent,
                    Err(e) => trust::SignerState::Broken(e),
                };
                trusted = Some(keys);
            }
            state
        });
        let decision = trust::decide(&trust::TrustInputs {
            read: settings.read,
            write: settings.write,
            signing,
        });
        decision.warnings.iter().for_each(|w| self.warn(w.clone()));
        if !decision.uses_remote() {
            return self;
        }
        self.signer = signer.filter(|_| decision.write);
        self.trusted = trusted.filter(|_| decision.require_signature);
        let token = std::env::var(&settings.token_env).ok();
        let store = HttpStore::new(
            &url,
            &settings.team,
            token,
            &settings.token_env,
            settings.timeout,
        );
        self.remote = Some(Remote::new(
            Box::new(store),
            &url,
            decision.read,
            decision.write,
        ));
        self
    }

    /// Use `remote` as the remote tier, trusting `trusted` (None: unsigned entries are
    /// accepted) and signing with `signer`. For tests of the tier itself.
    #[must_use]
    pub fn with_remote_store(
        mut self,
        remote: Remote,
        trusted: Option<TrustedKeys>,
        signer: Option<Signer>,
    ) -> Self {
        self.remote = Some(remote);
        self.trusted = trusted;
        self.signer = signer;
        self
    }

    /// Where gate logs live.
    #[must_use]
    pub fn log_path(&self, gate: &str) -> PathBuf {
        self.log_dir.join(format!("{gate}.log"))
    }

    /// Where attempt `attempt` (1-based) of a gate that was retried keeps its log:
    /// `logs/attempts/<gate>.<attempt>.log` (a folder of their own: `<gate>.attempt-1.log`
    /// beside the gate logs would be the log of a gate named `<gate>.attempt-1`). The last
    /// attempt's log is the gate's log, as for a gate that ran once.
    #[must_use]
    pub fn attempt_log_path(&self, gate: &str, attempt: u32) -> PathBuf {
        self.log_dir
            .join("attempts")
            .join(format!("{gate}.{attempt}.log"))
    }

    /// Remove the attempt logs an earlier run of `gate` kept (they are numbered from 1 without
    /// gaps, so the first missing one ends the search: one failed unlink for a gate that was
    /// never retried).
    pub fn remove_attempt_logs(&self, gate: &str) {
        for attempt in 1.. {
            if std::fs::remove_file(self.attempt_log_path(gate, attempt)).is_err() {
                return;
            }
        }
    }

    /// Record a warning for the end of the run.
    pub fn warn(&self, w: String) {
        // The same warning from many gates (a read-only cache folder fails every store the
        // same way) is reported once, as `take_warnings` promises.
        if let Ok(mut ws) = self.warnings.lock()
            && !ws.contains(&w)
        {
            ws.push(w);
        }
    }

    /// Warnings gathered so far (each once), emptied.
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// The key and material of the gate's last stored run, for `explain`.
    #[must_use]
    pub fn last_material(&self, gate: &str) -> Option<(CacheKey, KeyMaterial)> {
        let key = self.index.lock().ok()?.get(gate)?.key;
        let data = self.local.get(&key).ok()??;
        let entry = Entry::decode(&data, &key).ok()?;
        Some((key, entry.manifest.material))
    }

    /// Is there an entry for `key` (without restoring it)? Local, else the remote's word
    /// (unverified). For `--dry-run`.
    #[must_use]
    pub fn contains(&self, gate: &Gate, key: &CacheKey) -> bool {
        self.index
            .lock()
            .is_ok_and(|i| i.get(&gate.name).is_some_and(|r| r.key == *key))
            || self
                .local
                .get(key)
                .ok()
                .flatten()
                .is_some_and(|d| Entry::decode(&d, key).is_ok())
            || self.remote_contains(key)
    }

    /// The artifacts a hit on `key` would leave on disk (path -> hex digest; None for a path
    /// named exactly that the entry lacks), for `--dry-run` to predict downstream keys; None
    /// when no local entry holds the key.
    pub(crate) fn stored_artifacts(
        &self,
        gate: &Gate,
        key: &CacheKey,
    ) -> Option<BTreeMap<String, Option<String>>> {
        let from_index = self.index.lock().ok().and_then(|i| {
            i.get(&gate.name)
                .filter(|r| r.key == *key)
                .map(|r| r.files.clone())
        });
        let files = match from_index {
            Some(files) => files,
            None => {
                let data = self.local.get(key).ok().flatten()?;
                let entry = Entry::decode(&data, key).ok()?;
                digests(gate, &entry.manifest.files)
            }
        };
        let mut out: BTreeMap<String, Option<String>> = files
            .iter()
            .map(|(p, h)| (p.clone(), Some(hex(h))))
            .collect();
        for e in gate.artifact_entries().filter(|e| !is_glob(e)) {
            if !files.iter().any(|(p, _)| at_or_under(p, e)) {
                out.insert(e.to_owned(), None);
            }
        }
        Some(out)
    }

    /// Replay `gate` under `key` if possible: make its artifacts on disk equal the entry's.
    /// The local cache first, then the remote.
    pub fn lookup(&self, gate: &Gate, key: &CacheKey, fp: &Fingerprinter) -> Lookup {
        match self.lookup_local(gate, key, fp) {
            Lookup::Miss => self.lookup_remote(gate, key, fp),
            hit => hit,
        }
    }

    /// `lookup` without the remote: never waits on the network (the scheduler's thread uses
    /// it, and leaves `lookup_remote` to a worker).
    pub fn lookup_local(&self, gate: &Gate, key: &CacheKey, fp: &Fingerprinter) -> Lookup {
        if self.intact(gate, key, fp) {
            // A hit is a use; the ledger hears of it at most once per resolution.
            let report_use = self
                .index
                .lock()
                .is_ok_and(|mut i| i.touch(&gate.name, self.now_ms(), evict::USE_RESOLUTION_MS));
            if report_use {
                self.record_use(evict::Use::Hit(*key));
            }
            return Lookup::Hit { restored: 0 };
        }
        let data = match self.local.get(key) {
            Ok(Some(d)) => d,
            Ok(None) => return Lookup::Miss,
            Err(e) => {
                self.warn(format!(
                    "cannot read the cache entry of gate `{}`: {e}; running it",
                    gate.name
                ));
                return Lookup::Miss;
            }
        };
        let entry = match Entry::decode(&data, key) {
            Ok(e) => e,
            Err(e) => {
                self.warn(format!(
                    "cache entry {} of gate `{}` rejected: {e}; running the gate",
                    key.hex(),
                    gate.name
                ));
                self.local.remove(key);
                return Lookup::Miss;
            }
        };
        self.replay(gate, key, &entry, fp)
    }

    /// The remote step of a lookup, after a local miss: a verified entry is restored, then kept
    /// locally. A miss without asking when there is no remote, it is off, or the key is known
    /// to be absent.
    pub fn lookup_remote(&self, gate: &Gate, key: &CacheKey, fp: &Fingerprinter) -> Lookup {
        let Some((entry, data)) = self.remote_fetch(&gate.name, key) else {
            return Lookup::Miss;
        };
        let found = self.replay(gate, key, &entry, fp);
        if matches!(found, Lookup::Hit { .. })
            && let Err(e) = self.put_local(&gate.name, key, &data)
        {
            self.warn(format!(
                "cannot keep the remote cache entry of gate `{}` locally: {e}",
                gate.name
            ));
        }
        found
    }

    /// The fast path: the index holds `key` for the gate and its artifact set on disk is
    /// exactly the one recorded (paths and digests; for paths named exactly, one memoised hash
    /// each, as before sets), so the hit needs no entry.
    fn intact(&self, gate: &Gate, key: &CacheKey, fp: &Fingerprinter) -> bool {
        let Ok(index) = self.index.lock() else {
            return false;
        };
        let Some(record) = index.get(&gate.name).filter(|r| r.key == *key) else {
            return false;
        };
        if gate.exact_artifacts()
            && record.files.len() == gate.artifacts.len()
            && record.files.iter().all(|(p, _)| gate.artifacts.contains(p))
            && record
                .files
                .iter()
                .all(|(p, h)| fp.file(Path::new(p)).is_some_and(|(cur, _)| cur == *h))
        {
            return true;
        }
        // A folder, a glob or a link: the set on disk, walked, must be the recorded one (a
        // stale extra file means a restore).
        let want = record.files.clone();
        drop(index);
        let entries: Vec<&str> = gate.artifact_entries().collect();
        // A path named exactly with nothing on disk (None) matches a record without it (an
        // empty folder the gate was allowed to leave).
        let mut now = fp
            .artifact_set(gate, &entries)
            .into_iter()
            .filter(|(_, h)| h.is_some());
        let same = want
            .iter()
            .all(|(wp, wh)| now.next().is_some_and(|(p, h)| p == *wp && h == Some(*wh)));
        same && now.next().is_none()
    }

    /// Restore a verified entry's artifacts and log, and remember it in the index: the set on
    /// disk becomes the entry's (files it lacks are written, files under the gate's artifact
    /// locations that it does not hold are removed, excluded files are left alone).
    fn replay(&self, gate: &Gate, key: &CacheKey, entry: &Entry, fp: &Fingerprinter) -> Lookup {
        let spec = ArtifactSpec::of(gate);
        if let Err(why) = fits(gate, &spec, &entry.manifest.files) {
            self.warn(format!(
                "cache entry {} of gate `{}` rejected: {why}; running the gate",
                key.hex(),
                gate.name
            ));
            return Lookup::Miss;
        }
        let on_disk: HashMap<String, Option<[u8; 32]>> = fp
            .artifact_members(&spec)
            .iter()
            .map(|m| (path_string(&m.path), fp.member_digest(m)))
            .collect();
        let wanted: HashMap<String, [u8; 32]> =
            digests(gate, &entry.manifest.files).into_iter().collect();
        let differs =
            |path: &str| on_disk.get(path).copied().flatten() != wanted.get(path).copied();
        let mut remove: Vec<String> = on_disk
            .keys()
            .filter(|p| !wanted.contains_key(p.as_str()))
            .cloned()
            .collect();
        remove.sort_unstable();
        let restored = match restore::restore(&self.root, entry, differs, &remove) {
            Ok(n) => n,
            Err(e) => {
                self.warn(format!(
                    "cache entry of gate `{}` not restored: {e}; running the gate",
                    gate.name
                ));
                return Lookup::Miss;
            }
        };
        if restored > 0 {
            for f in &entry.manifest.files {
                fp.invalidate(Path::new(&f.path));
            }
            for r in &remove {
                fp.invalidate(Path::new(r));
            }
        }
        let log = self.log_path(&gate.name);
        let _ = crate::files::in_dir(&self.log_dir, || std::fs::write(&log, &entry.log));
        self.remember(gate, key, &entry.manifest.files);
        self.record_use(evict::Use::Hit(*key));
        Lookup::Hit { restored }
    }

    fn remember(&self, gate: &Gate, key: &CacheKey, files: &[FileRecord]) {
        let files = digests(gate, files);
        if let Ok(mut i) = self.index.lock() {
            i.set(
                &gate.name,
                IndexRecord {
                    key: *key,
                    files,
                    used: self.now_ms(),
                },
            );
        }
    }

    /// Store a successful run of `gate` under `key`: its artifacts (as on disk now) and log.
    pub fn store(
        &self,
        gate: &Gate,
        key: &CacheKey,
        material: &KeyMaterial,
        fp: &Fingerprinter,
        now: &str,
    ) {
        match self.build_entry(gate, key, material, fp, now) {
            Ok(entry) => {
                let data = entry.encode();
                if let Err(e) = self.put_local(&gate.name, key, &data) {
                    self.warn(format!(
                        "caching is off for this run: cannot write to the cache: {e}"
                    ));
                } else {
                    self.remember(gate, key, &entry.manifest.files);
                }
                self.publish(&gate.name, key, &entry);
            }
            Err(e) => self.warn(format!("gate `{}` not cached: {e}", gate.name)),
        }
    }

    fn build_entry(
        &self,
        gate: &Gate,
        key: &CacheKey,
        material: &KeyMaterial,
        fp: &Fingerprinter,
        now: &str,
    ) -> io::Result<Entry> {
        let members = fp.artifact_members(&ArtifactSpec::of(gate));
        let size = |m: &Member| match m.found {
            Found::File { size, .. } => size,
            Found::Link(_) => 0,
        };
        let mut total: u64 = members.iter().map(size).sum();
        if total > MAX_ENTRY_BYTES {
            return Err(io::Error::other(too_large(&members, total)));
        }
        let mut files = Vec::with_capacity(members.len());
        let mut contents = Vec::with_capacity(members.len());
        for m in &members {
            let Some(path) = m.path.to_str() else {
                return Err(io::Error::other(format!(
                    "artifact {} has a name that is not UTF-8",
                    m.path.display()
                )));
            };
            let (bytes, executable, link) = match &m.found {
                Found::File { executable, .. } => {
                    let bytes = read_member(&self.root.join(&m.path), m.exact)?;
                    (bytes, *executable, None)
                }
                Found::Link(target) => {
                    let Some(target) = target.to_str() else {
                        return Err(io::Error::other(format!(
                            "link {path} has a target that is not UTF-8"
                        )));
                    };
                    (Vec::new(), false, Some(target.to_owned()))
                }
            };
            // The file may have grown since it was listed.
            total = total - size(m) + bytes.len() as u64;
            if total > MAX_ENTRY_BYTES {
                return Err(io::Error::other(too_large(&members, total)));
            }
            fp.invalidate(&m.path);
            files.push(FileRecord {
                path: path.to_owned(),
                size: bytes.len() as u64,
                executable,
                hash: hex(blake3::hash(&bytes).as_bytes()),
                link,
            });
            contents.push(bytes);
        }
        for a in gate.artifact_entries() {
            fp.invalidate(Path::new(a));
        }
        let log = crate::proc::tail::tail_bytes_of(&self.log_path(&gate.name), MAX_LOG_BYTES);
        Ok(Entry {
            manifest: Manifest {
                key: key.hex(),
                gate: gate.name.clone(),
                created_at: now.to_owned(),
                files,
                log_bytes: log.len() as u64,
                material: material.clone(),
                signature: None,
            },
            contents,
            log,
        })
    }

    /// Persist the index.
    pub fn save(&self) {
        let result = self.index.lock().map(|mut i| i.save());
        if let Ok(Err(e)) = result {
            self.warn(format!("cannot save the cache index: {e}"));
        }
    }

    /// Persist the index, then let it go (a record per gate): the run looks nothing up any
    /// more. A later lookup finds no record and reads the entry itself.
    pub fn save_and_release_index(&self) {
        self.save();
        if let Ok(mut i) = self.index.lock() {
            i.release();
        }
    }
}

/// Is `path` the path `entry` or inside it?
fn at_or_under(path: &str, entry: &str) -> bool {
    path.strip_prefix(entry)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The digests of an entry's records (see `fingerprint::artifacts`), sorted by path: what the
/// index remembers and dependents' keys hold.
fn digests(gate: &Gate, files: &[FileRecord]) -> Vec<(String, [u8; 32])> {
    let mut out: Vec<(String, [u8; 32])> = files
        .iter()
        .filter_map(|f| {
            let digest = match &f.link {
                Some(target) => link_digest(target.as_bytes()),
                None => {
                    let exact = gate.artifact_entries().any(|e| e == f.path && !is_glob(e));
                    file_digest(
                        *blake3::Hash::from_hex(&f.hash).ok()?.as_bytes(),
                        f.executable,
                        exact,
                    )
                }
            };
            Some((f.path.clone(), digest))
        })
        .collect();
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Does an entry hold what `gate`'s artifacts describe: every record inside the set (a path
/// outside it would be written over a file the gate does not own), every path named exactly
/// present (as a file, a link or a folder's files) and every glob matched, unless the gate
/// allows empty ones? Err says what does not fit.
fn fits(gate: &Gate, spec: &ArtifactSpec<'_>, files: &[FileRecord]) -> Result<(), String> {
    if let Some(f) = files.iter().find(|f| !spec.contains(&f.path)) {
        return Err(format!(
            "it holds `{}`, which the gate's artifacts do not match",
            f.path
        ));
    }
    for e in gate.artifact_entries() {
        let matched = if is_glob(e) {
            gate.allow_empty
                || files
                    .iter()
                    .any(|f| spec.entries_of(&f.path).any(|x| x == e))
        } else {
            gate.allow_empty || files.iter().any(|f| at_or_under(&f.path, e))
        };
        if !matched {
            return Err(format!("it holds nothing for the artifact `{e}`"));
        }
    }
    Ok(())
}

/// The words for a set past the entry size bound: its total and its largest files.
fn too_large(members: &[Member], total: u64) -> String {
    let mut files: Vec<(&Member, u64)> = members
        .iter()
        .filter_map(|m| match m.found {
            Found::File { size, .. } => Some((m, size)),
            Found::Link(_) => None,
        })
        .collect();
    files.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.path.cmp(&b.0.path)));
    let largest: Vec<String> = files
        .iter()
        .take(3)
        .map(|(m, size)| format!("{} ({})", m.path.display(), mib(*size)))
        .collect();
    format!(
        "its artifacts total {} in {} files, more than the {} a cache entry holds; the largest: {}",
        mib(total),
        files.len(),
        mib(MAX_ENTRY_BYTES),
        largest.join(", ")
    )
}

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / f64::from(1u32 << 20);
    format!("{m:.1} MiB")
}

/// A member's bytes: a path named exactly is read as always (through a symlink); a file found
/// in a folder or by a glob is opened without following a symlink, so one swapped in after
/// the listing is not read through.
fn read_member(path: &Path, exact: bool) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if exact {
        return std::fs::read(path);
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_too_large_names_its_total_and_largest_files() {
        let member = |path: &str, size: u64| Member {
            path: PathBuf::from(path),
            found: Found::File {
                executable: false,
                size,
            },
            exact: false,
        };
        let members = [
            member("dist/small.js", 10),
            member("dist/big.bin", 700 << 20),
            member("dist/mid.bin", 400 << 20),
            member("dist/third.bin", 1 << 20),
            Member {
                path: PathBuf::from("dist/link"),
                found: Found::Link(PathBuf::from("big.bin")),
                exact: false,
            },
        ];
        let total = members
            .iter()
            .map(|m| match m.found {
                Found::File { size, .. } => size,
                Found::Link(_) => 0,
            })
            .sum();
        assert_eq!(
            too_large(&members, total),
            "its artifacts total 1101.0 MiB in 4 files, more than the 1024.0 MiB a cache entry \
             holds; the largest: dist/big.bin (700.0 MiB), dist/mid.bin (400.0 MiB), \
             dist/third.bin (1.0 MiB)"
        );
    }
}
