//! Fingerprinting: input expansion, content hashes through the stat cache, and cache keys.

pub mod artifacts;
mod cache_key;
mod gitignore;
mod inputs;
mod listing_cache;
mod stat_cache;

pub use artifacts::{ArtifactSpec, Found, Member};
use cache_key::{ABSENT, KeyEncoder, MISSING};
pub use cache_key::{CacheKey, FORMAT_VERSION, KeyMaterial, RuntimeOutput, hex};
pub use inputs::{ExpandedInputs, expand, expand_cached, sort_paths};
pub use listing_cache::ListingCache;
pub use stat_cache::{FileStat, Hash, StatCache, hash_file};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::config::{EnvMode, Gate};
use crate::fasthash::PathMap;

/// A path relative to the config folder as a key string: UTF-8 as is, other bytes escaped so
/// two different names never share a string.
#[must_use]
pub fn path_string(p: &Path) -> String {
    match p.to_str() {
        Some(s) if !s.starts_with("\\x:") => s.to_owned(),
        _ => format!("\\x:{}", hex(p.as_os_str().as_bytes())),
    }
}

/// Which of `paths` (relative to `root`, the config folder) git ignores, by the rules a
/// gate's input globs follow: the `.gitignore` files of their folders and of the folders above
/// up to the repository's root, and its `info/exclude`.
#[must_use]
pub fn git_ignored(root: &Path, paths: &[&Path]) -> std::collections::BTreeSet<PathBuf> {
    let Some(ignores) = gitignore::Ignores::load(root, std::iter::empty(), paths.iter().copied())
    else {
        return std::collections::BTreeSet::new();
    };
    paths
        .iter()
        .filter(|p| ignores.ignored(p))
        .map(|p| p.to_path_buf())
        .collect()
}

/// Content hashes of files under the config folder, memoised for one run.
pub struct Fingerprinter {
    root: PathBuf,
    /// The working folder is `root` (the runner never changes folder).
    root_is_cwd: bool,
    stat: StatCache,
    /// Relative path -> hash and stat, or None when the file is missing/unreadable, for the
    /// files the stat cache does not serve as current (`StatCache::current`): on a no-op run,
    /// none (at 100,000 gates a memo of every file took 65 MB, and a lock per lookup).
    memo: Mutex<PathMap<Option<(Hash, FileStat)>>>,
    /// Where declared env variables' values come from.
    env: Env,
    /// The run's environment mode: every key holds it (a result made with the caller's whole
    /// environment is not one made in the strict one).
    env_mode: EnvMode,
    /// Folders (relative) that artifact globs never walk into: the cache folder.
    skip: Vec<PathBuf>,
}

/// The environment keys read their declared variables from: the process's, or (in tests) a
/// fixed one, so no test has to change the process environment of a multi-threaded binary.
#[derive(Debug, Clone, Default)]
pub(crate) enum Env {
    /// `std::env::var`.
    #[default]
    Process,
    /// These variables and no others.
    #[cfg_attr(not(test), expect(dead_code))]
    Fixed(BTreeMap<String, String>),
}

impl Env {
    /// The value of `name`; None when unset (or not UTF-8).
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        match self {
            Env::Process => std::env::var(name).ok(),
            Env::Fixed(vars) => vars.get(name).cloned(),
        }
    }
}

/// Whether the working folder is `root` (then paths relative to the root can be used as they
/// are for I/O: `io_path`). The kernel gives the working folder as a path without symlinks
/// (`getcwd`), the form of the (canonical) root: one system call, where canonicalizing it
/// again cost a `readlink` per folder on the way, for every gate a run re-expands.
pub(crate) fn root_is_cwd(root: &Path) -> bool {
    std::env::current_dir().is_ok_and(|cwd| cwd == root)
}

/// The path to read `rel` (relative to `root`, or absolute) by. From the working folder, when
/// it is the root, the kernel walks only the relative part of each path, and no path is joined
/// (a no-op run is mostly stat calls); a path with `..` or a symlink on the way resolves the
/// same either way, from the same folder.
pub(crate) fn io_path<'a>(root_is_cwd: bool, root: &Path, rel: &'a Path) -> Cow<'a, Path> {
    if rel.is_absolute() {
        Cow::Borrowed(rel)
    } else if !root_is_cwd {
        Cow::Owned(root.join(rel))
    } else if rel.as_os_str().is_empty() {
        Cow::Borrowed(Path::new("."))
    } else {
        Cow::Borrowed(rel)
    }
}

impl Fingerprinter {
    /// Hash files under `root` (the config folder); `stat` remembers the hashes of unchanged
    /// files; keys hold `env_mode` (`[settings] env_mode`).
    #[must_use]
    pub fn new(root: &Path, stat: StatCache, env_mode: EnvMode) -> Self {
        Fingerprinter {
            root_is_cwd: root_is_cwd(root),
            root: root.to_path_buf(),
            stat: stat.for_root(root),
            memo: Mutex::new(PathMap::default()),
            env: Env::Process,
            env_mode,
            skip: Vec::new(),
        }
    }

    /// The same, never walking into these folders (relative to the root) when matching artifact
    /// folders and globs: the cache folder, whose entries and logs are no gate's output.
    #[must_use]
    pub fn skipping(mut self, dirs: Vec<PathBuf>) -> Self {
        self.skip = dirs;
        self
    }

    /// The same, reading declared variables from `env` instead of the process.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// The stat cache, for a next run in this process (`StatCache::next_run`).
    #[must_use]
    pub fn into_stat_cache(self) -> StatCache {
        self.stat
    }

    /// The stat cache's own load warning, if any.
    #[must_use]
    pub fn stat_warning(&self) -> Option<&str> {
        self.stat.load_warning.as_deref()
    }

    /// The file's hash and stat (None: missing or unreadable), and whether the stat cache
    /// found its entry current (it serves it from now on: the memo need not).
    fn compute(&self, rel: &Path) -> (Option<(Hash, FileStat)>, bool) {
        let io_path = io_path(self.root_is_cwd, &self.root, rel);
        // The stat cache knows a relative path by its name relative to the root (an absolute
        // one by itself): no joined path per file.
        match self.stat.check_at(rel, &io_path) {
            Ok((hash, stat, current)) => (Some((hash, stat)), current),
            Err(_) => {
                self.stat.forget(rel);
                (None, false)
            }
        }
    }

    /// Hash many files in parallel and remember the results.
    pub fn prehash(&self, paths: &[&Path]) {
        // What the stat cache found current it serves itself; the memo takes the rest.
        let results: Vec<(&Path, Option<(Hash, FileStat)>)> = paths
            .par_iter()
            .filter_map(|p| match self.compute(p) {
                (_, true) => None,
                (v, false) => Some((*p, v)),
            })
            .collect();
        if let Ok(mut memo) = self.memo.lock() {
            memo.extend(
                results
                    .into_iter()
                    .map(|(p, v)| (p.as_os_str().as_bytes(), v)),
            );
        }
    }

    /// The hash and stat of one file (None when missing), memoised.
    pub fn file(&self, rel: &Path) -> Option<(Hash, FileStat)> {
        if let Some(v) = self.stat.current(rel) {
            return Some(v);
        }
        if let Some(v) = self
            .memo
            .lock()
            .ok()
            .and_then(|m| m.get(rel.as_os_str().as_bytes()).copied())
        {
            return v;
        }
        let (v, current) = self.compute(rel);
        if !current && let Ok(mut memo) = self.memo.lock() {
            memo.insert(rel.as_os_str().as_bytes(), v);
        }
        v
    }

    /// Forget what we know of a file (a gate just wrote it).
    pub fn invalidate(&self, rel: &Path) {
        self.stat.stale(rel);
        if let Ok(mut memo) = self.memo.lock() {
            memo.remove(rel.as_os_str().as_bytes());
        }
    }

    /// Record a hash we already know (a file just restored or written by us).
    pub fn record(&self, rel: &Path) {
        self.invalidate(rel);
        let _ = self.file(rel);
    }

    /// Artifacts of a gate as path -> hex digest (None for a path named exactly that is absent).
    #[must_use]
    pub fn artifact_hashes(&self, gate: &Gate) -> BTreeMap<String, Option<String>> {
        let entries: Vec<&str> = gate.artifact_entries().collect();
        self.artifact_hashes_of(gate, &entries)
    }

    /// The part of `gate`'s artifact set that `entries` (some of its declared entries) cover, as
    /// path -> hex digest (None for a path named exactly that is absent).
    #[must_use]
    pub fn artifact_hashes_of(
        &self,
        gate: &Gate,
        entries: &[&str],
    ) -> BTreeMap<String, Option<String>> {
        self.artifact_set(gate, entries)
            .into_iter()
            .map(|(p, h)| (p.into_owned(), h.map(|h| hex(&h))))
            .collect()
    }

    /// What `spec` matches on disk now.
    #[must_use]
    pub fn artifact_members(&self, spec: &ArtifactSpec<'_>) -> Vec<Member> {
        spec.members(&self.root, &self.skip)
    }

    /// A member's digest (see `artifacts`); None when its file cannot be read.
    #[must_use]
    pub fn member_digest(&self, m: &Member) -> Option<Hash> {
        match &m.found {
            Found::File { executable, .. } => self
                .file(&m.path)
                .map(|(h, _)| artifacts::file_digest(h, *executable, m.exact)),
            Found::Link(target) => Some(artifacts::link_digest(target.as_os_str().as_bytes())),
        }
    }

    /// The part of `gate`'s artifact set that `entries` (some of its declared entries) cover:
    /// (path, digest) sorted by path, each once; a path named exactly with nothing on disk is
    /// (path, None), a glob matching nothing adds nothing. For paths named exactly that are
    /// files (every gate before sets) this is one memoised hash per path, as it always was.
    #[must_use]
    pub fn artifact_set<'g>(
        &self,
        gate: &'g Gate,
        entries: &[&'g str],
    ) -> Vec<(Cow<'g, str>, Option<Hash>)> {
        let mut out: Vec<(Cow<'g, str>, Option<Hash>)> = Vec::with_capacity(entries.len());
        let mut rest: Vec<&'g str> = Vec::new();
        if gate.exact_artifacts() {
            for e in entries {
                match self.file(Path::new(e)) {
                    Some((h, _)) => out.push((Cow::Borrowed(*e), Some(h))),
                    None => rest.push(e),
                }
            }
        } else {
            rest.extend(entries.iter().copied().filter(|e| !e.starts_with('!')));
        }
        if !rest.is_empty() {
            let spec = ArtifactSpec::of_entries(gate, rest.iter().copied());
            let members = self.artifact_members(&spec);
            for e in spec.exact_entries() {
                let under = |m: &Member| m.path.strip_prefix(e).is_ok();
                if !members.iter().any(under) {
                    out.push((Cow::Borrowed(*e), None));
                }
            }
            for m in &members {
                out.push((Cow::Owned(path_string(&m.path)), self.member_digest(m)));
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// The entries of `gate`'s artifacts that match nothing on disk: a path named exactly
    /// that is absent, and (unless the gate sets `allow_empty`) a glob or folder with no file.
    #[must_use]
    pub fn missing_artifacts(&self, gate: &Gate) -> Vec<String> {
        let mut missing = Vec::new();
        let exact = gate.exact_artifacts();
        let mut rest = Vec::new();
        for e in gate.artifact_entries() {
            // A file named exactly: one `stat`, as before sets (its hash is taken when stored).
            if exact && self.root.join(e).is_file() {
                continue;
            }
            rest.push(e);
        }
        if rest.is_empty() {
            return missing;
        }
        let members = self.artifact_members(&ArtifactSpec::of_entries(gate, rest.iter().copied()));
        for e in rest {
            let entry = ArtifactSpec::of_entries(gate, [e]);
            let any = members
                .iter()
                .any(|m| entry.contains(&path_string(&m.path)));
            let folder = !crate::config::is_glob(e) && self.root.join(e).is_dir();
            let exempt = gate.allow_empty && (crate::config::is_glob(e) || folder);
            if !any && !exempt {
                missing.push(e.to_owned());
            }
        }
        missing
    }

    /// Forget what we know of every file `gate`'s artifact set covers (the gate just ran).
    pub fn invalidate_artifacts(&self, gate: &Gate) {
        if gate.exact_artifacts() {
            for a in &gate.artifacts {
                self.invalidate(Path::new(a));
            }
            return;
        }
        let spec = ArtifactSpec::of(gate);
        self.stat.stale_where(|p| spec.contains(&path_string(p)));
        if let Ok(mut memo) = self.memo.lock() {
            memo.retain(|p, _| {
                !spec.contains(&path_string(Path::new(std::ffi::OsStr::from_bytes(p))))
            });
        }
    }

    /// The key material of `gate` given its expanded inputs and its needs' artifact hashes.
    #[must_use]
    pub fn material(
        &self,
        gate: &Gate,
        inputs: &[PathBuf],
        upstream: BTreeMap<String, BTreeMap<String, Option<String>>>,
        runtime: BTreeMap<String, RuntimeOutput>,
    ) -> KeyMaterial {
        KeyMaterial {
            format: FORMAT_VERSION,
            env_mode: self.env_mode.as_str().to_owned(),
            kind: gate.kind_json.clone(),
            artifacts: gate.artifacts.clone(),
            inputs: inputs
                .iter()
                .map(|p| {
                    (
                        path_string(p),
                        self.file(p)
                            .map_or_else(|| MISSING.to_owned(), |(h, _)| hex(&h)),
                    )
                })
                .collect(),
            env: gate
                .env
                .iter()
                .map(|name| (name.clone(), self.env.get(name)))
                .collect(),
            upstream,
            runtime,
        }
    }

    /// The cache key `material(gate, inputs, upstream).key()` gives, computed without building
    /// the material (no hex strings, no maps): on a no-op run every gate's key is computed and
    /// only a miss needs the material. `inputs` sorted by bytes as `sort_paths` leaves them,
    /// `needs` the needed gates. `None` when a path needs escaping in the material (not UTF-8),
    /// where only the material's own order is right: the caller then builds the material.
    #[must_use]
    pub fn key(
        &self,
        gate: &Gate,
        inputs: &[PathBuf],
        needs: &[&Gate],
        runtime: &BTreeMap<String, RuntimeOutput>,
    ) -> Option<CacheKey> {
        let mut k = KeyEncoder::new(
            FORMAT_VERSION,
            self.env_mode.as_str(),
            gate.kind_json.as_bytes(),
        );
        k.count(gate.artifacts.len());
        for a in &gate.artifacts {
            k.field(a.as_bytes());
        }
        k.count(inputs.len());
        for p in inputs {
            let s = p.to_str().filter(|s| !s.starts_with("\\x:"))?;
            k.field(s.as_bytes());
            match self.file(p) {
                Some((h, _)) => k.hash_hex(&h),
                None => k.field(MISSING.as_bytes()),
            }
        }
        k.count(gate.env.len());
        for name in &gate.env {
            k.env(name, self.env.get(name).as_deref());
        }
        // The material's maps are sorted and deduplicated by name and by path.
        let mut needs = needs.to_vec();
        needs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        needs.dedup_by(|a, b| a.name == b.name);
        k.count(needs.len());
        for need in needs {
            k.field(need.name.as_bytes());
            let mut arts: Vec<&str> = gate.keyed_artifacts_of(need);
            // Files named exactly (every need before sets, and most since): their memoised
            // hashes, looked up once each, with no allocation past these lists (a no-op run
            // computes every key).
            if need.exact_artifacts() {
                arts.sort_unstable();
                arts.dedup();
                let hashes: Option<Vec<Hash>> = arts
                    .iter()
                    .map(|a| self.file(Path::new(a)).map(|(h, _)| h))
                    .collect();
                if let Some(hashes) = hashes {
                    k.count(arts.len());
                    for (a, h) in arts.iter().zip(&hashes) {
                        k.field(a.as_bytes());
                        k.hash_hex(h);
                    }
                    continue;
                }
            }
            let set = self.artifact_set(need, &arts);
            k.count(set.len());
            for (a, h) in set {
                k.field(a.as_bytes());
                match h {
                    Some(h) => k.hash_hex(&h),
                    None => k.field(ABSENT.as_bytes()),
                }
            }
        }
        k.runtime(runtime.iter().map(|(c, o)| (c.as_str(), o.hash.as_str())));
        Some(k.finish())
    }

    /// Stats of `inputs` now, read fresh from disk (to detect files edited while a gate ran).
    #[must_use]
    pub fn fresh_stats(&self, inputs: &[PathBuf]) -> Vec<Option<FileStat>> {
        inputs
            .iter()
            .map(|p| {
                std::fs::metadata(self.root.join(p))
                    .ok()
                    .map(|m| FileStat::of(&m))
            })
            .collect()
    }

    /// Stats recorded when the inputs were hashed.
    #[must_use]
    pub fn known_stats(&self, inputs: &[PathBuf]) -> Vec<Option<FileStat>> {
        inputs
            .iter()
            .map(|p| self.file(p).map(|(_, s)| s))
            .collect()
    }

    /// Persist the stat cache.
    pub fn save(&self) -> std::io::Result<()> {
        self.stat.save()
    }

    /// Forget every file's hash this run (the memo: half a million entries at 100,000 gates),
    /// once nothing of the run reads files through it any more. A later `file` hashes again.
    pub fn release_memo(&self) {
        if let Ok(mut memo) = self.memo.lock() {
            *memo = PathMap::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_paths_are_relative_only_from_the_root() {
        let root = Path::new("/r");
        assert_eq!(io_path(true, root, Path::new("in/a")), Path::new("in/a"));
        assert_eq!(io_path(true, root, Path::new("")), Path::new("."));
        assert_eq!(
            io_path(false, root, Path::new("in/a")),
            Path::new("/r/in/a")
        );
        assert_eq!(io_path(false, root, Path::new("")), Path::new("/r/"));
        assert_eq!(io_path(false, root, Path::new("/abs")), Path::new("/abs"));
        assert_eq!(io_path(true, root, Path::new("/abs")), Path::new("/abs"));
    }

    type Runtime = BTreeMap<String, RuntimeOutput>;

    /// The allocation-free key must be the material's key in every case the material covers:
    /// missing inputs, set/unset/empty env, needs with absent and duplicate artifacts, kinds
    /// with settings; and must step aside (None) for a path that needs escaping.
    /// On a warm run the stat cache serves unchanged files itself: the memo holds only what
    /// it does not (here the missing file). A file rewritten during the run keeps its hash
    /// for the run until it is invalidated (a gate wrote it), then is read again.
    #[test]
    fn unchanged_files_skip_the_memo_and_a_rewrite_is_seen_once_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("in")).unwrap();
        std::fs::write(root.join("in/a.txt"), "one").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let open = || {
            Fingerprinter::new(
                &root,
                StatCache::load(&root.join("stat-cache.bin")),
                EnvMode::Strict,
            )
        };
        let a = Path::new("in/a.txt");
        let missing = Path::new("in/missing.txt");
        let fp = open();
        fp.prehash(&[a]);
        fp.save().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let fp = open();
        fp.prehash(&[a, missing]);
        assert_eq!(fp.memo.lock().unwrap().len(), 1, "only the missing file");
        assert_eq!(fp.file(missing), None);
        let one = *blake3::hash(b"one").as_bytes();
        assert_eq!(fp.file(a).map(|(h, _)| h), Some(one));
        std::fs::write(root.join("in/a.txt"), "two").unwrap();
        assert_eq!(
            fp.file(a).map(|(h, _)| h),
            Some(one),
            "memoised for the run"
        );
        fp.invalidate(a);
        assert_eq!(
            fp.file(a).map(|(h, _)| h),
            Some(*blake3::hash(b"two").as_bytes())
        );
    }

    #[test]
    fn the_direct_key_is_the_materials_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (p, body) in [
            ("in/a.txt", "a"),
            ("in/b.txt", "b"),
            ("out/u1.txt", "u"),
            ("out/set/x.txt", "x"),
            ("out/set/deep/y.txt", "y"),
            ("out/set/skip/z.txt", "z"),
        ] {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), body).unwrap();
        }
        let text = r#"
version = 1
[gates.up2]
run = "true"
artifacts = ["out/z.txt", "out/u1.txt"]
[gates.up1]
run = "true"
artifacts = ["out/u1.txt", "out/absent.txt"]
[gates.up3]
run = "true"
artifacts = ["out/set/**", "!out/set/skip", "out/set-absent"]
[gates.g]
run = "echo 'quoted \" and unicode é'"
needs = ["up2", "up1", "up3"]
env = ["RUNNER_TEST_KEY_SET", "RUNNER_TEST_KEY_EMPTY", "RUNNER_TEST_KEY_UNSET"]
artifacts = ["out/g.txt"]
inputs = ["in/*.txt"]
[gates.s]
kind = "schema"
schema = "in/a.txt"
inputs = ["in/b.txt"]
[gates.narrow]
run = "true"
needs = ["up2", { gate = "up1", artifacts = ["out/u1.txt"] }]
"#;
        let config = crate::config::parse("gates.toml", text, root).expect("valid");
        let env = Env::Fixed(BTreeMap::from([
            ("RUNNER_TEST_KEY_SET".to_owned(), "v".to_owned()),
            ("RUNNER_TEST_KEY_EMPTY".to_owned(), String::new()),
        ]));
        let fp = Fingerprinter::new(
            root,
            StatCache::load(&root.join("stat-cache.bin")),
            EnvMode::Strict,
        )
        .with_env(env);
        let gate = |name: &str| config.gates.iter().find(|g| g.name == name).unwrap();
        let files: Vec<PathBuf> = ["in/a.txt", "in/b.txt", "in/missing.txt"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let material = |g: &Gate, files: &[PathBuf], needs: &[&Gate], runtime: &Runtime| {
            let upstream = needs
                .iter()
                .map(|n| {
                    (
                        n.name.clone(),
                        fp.artifact_hashes_of(n, &g.keyed_artifacts_of(n)),
                    )
                })
                .collect();
            fp.material(g, files, upstream, runtime.clone()).key()
        };
        let none = Runtime::new();
        let versions = Runtime::from([(
            "tool --version".to_owned(),
            RuntimeOutput {
                hash: "ab".repeat(32),
                shown: "tool 1.0".to_owned(),
            },
        )]);
        for (g, needs, runtime) in [
            (
                gate("g"),
                vec![gate("up2"), gate("up1"), gate("up1")],
                &none,
            ),
            (gate("g"), vec![gate("up2"), gate("up1")], &versions),
            (gate("g"), vec![gate("up3"), gate("up1")], &none),
            (gate("narrow"), vec![gate("up2"), gate("up1")], &none),
            (gate("s"), vec![], &none),
            (gate("up1"), vec![], &none),
        ] {
            assert_eq!(
                fp.key(g, &files, &needs, runtime),
                Some(material(g, &files, &needs, runtime)),
                "gate {}",
                g.name
            );
        }
        // A set's part of the key: its files' paths and digests, a path named exactly that is
        // absent, nothing excluded.
        let set = fp.artifact_hashes(gate("up3"));
        assert_eq!(
            set.keys().map(String::as_str).collect::<Vec<_>>(),
            ["out/set-absent", "out/set/deep/y.txt", "out/set/x.txt"]
        );
        assert_eq!(set["out/set-absent"], None);
        // Narrowing a need changes the key: fewer artifacts enter it.
        assert_ne!(
            fp.key(gate("narrow"), &files, &[gate("up1")], &none),
            fp.key(gate("g"), &files, &[gate("up1")], &none),
        );
        // A name that is not UTF-8 is escaped in the material: the direct key steps aside.
        use std::os::unix::ffi::OsStrExt as _;
        let odd = vec![PathBuf::from(std::ffi::OsStr::from_bytes(b"in/\xff.txt"))];
        assert_eq!(fp.key(gate("g"), &odd, &[], &none), None);
    }
}
