//! Fingerprinting: input expansion, content hashes through the stat cache, and cache keys.

mod cache_key;
mod inputs;
mod listing_cache;
mod stat_cache;

pub use cache_key::{CacheKey, FORMAT_VERSION, KeyMaterial, hex};
pub use inputs::{ExpandedInputs, expand, expand_cached, sort_paths};
pub use listing_cache::ListingCache;
pub use stat_cache::{FileStat, Hash, StatCache, hash_file};

use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::config::Gate;

/// A path relative to the config folder as a key string: UTF-8 as is, other bytes escaped so
/// two different names never share a string.
#[must_use]
pub fn path_string(p: &Path) -> String {
    match p.to_str() {
        Some(s) if !s.starts_with("\\x:") => s.to_owned(),
        _ => format!("\\x:{}", hex(p.as_os_str().as_bytes())),
    }
}

/// Content hashes of files under the config folder, memoised for one run.
pub struct Fingerprinter {
    root: PathBuf,
    stat: StatCache,
    /// Relative path -> hash and stat, or None when the file is missing/unreadable.
    memo: Mutex<HashMap<std::ffi::OsString, Option<(Hash, FileStat)>>>,
}

impl Fingerprinter {
    #[must_use]
    pub fn new(root: &Path, stat: StatCache) -> Self {
        Fingerprinter {
            root: root.to_path_buf(),
            stat,
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// The stat cache's own load warning, if any.
    #[must_use]
    pub fn stat_warning(&self) -> Option<&str> {
        self.stat.load_warning.as_deref()
    }

    fn compute(&self, rel: &Path) -> Option<(Hash, FileStat)> {
        let abs = self.root.join(rel);
        match self.stat.hash(&abs) {
            Ok(v) => Some(v),
            Err(_) => {
                self.stat.forget(&abs);
                None
            }
        }
    }

    /// Hash many files in parallel and remember the results.
    pub fn prehash<'a>(&self, paths: impl IntoParallelIterator<Item = &'a PathBuf>) {
        let results: Vec<(std::ffi::OsString, Option<(Hash, FileStat)>)> = paths
            .into_par_iter()
            .map(|p| (p.as_os_str().to_owned(), self.compute(p)))
            .collect();
        if let Ok(mut memo) = self.memo.lock() {
            memo.extend(results);
        }
    }

    /// The hash and stat of one file (None when missing), memoised.
    pub fn file(&self, rel: &Path) -> Option<(Hash, FileStat)> {
        if let Some(v) = self
            .memo
            .lock()
            .ok()
            .and_then(|m| m.get(rel.as_os_str()).copied())
        {
            return v;
        }
        let v = self.compute(rel);
        if let Ok(mut memo) = self.memo.lock() {
            memo.insert(rel.as_os_str().to_owned(), v);
        }
        v
    }

    /// Forget what we know of a file (a gate just wrote it).
    pub fn invalidate(&self, rel: &Path) {
        if let Ok(mut memo) = self.memo.lock() {
            memo.remove(rel.as_os_str());
        }
    }

    /// Record a hash we already know (a file just restored or written by us).
    pub fn record(&self, rel: &Path) {
        self.invalidate(rel);
        let _ = self.file(rel);
    }

    /// Artifacts of a gate as path -> hex hash (None when absent).
    #[must_use]
    pub fn artifact_hashes(&self, gate: &Gate) -> BTreeMap<String, Option<String>> {
        gate.artifacts
            .iter()
            .map(|a| (a.clone(), self.file(Path::new(a)).map(|(h, _)| hex(&h))))
            .collect()
    }

    /// The key material of `gate` given its expanded inputs and its needs' artifact hashes.
    #[must_use]
    pub fn material(
        &self,
        gate: &Gate,
        inputs: &[PathBuf],
        upstream: BTreeMap<String, BTreeMap<String, Option<String>>>,
    ) -> KeyMaterial {
        KeyMaterial {
            format: FORMAT_VERSION,
            kind: serde_json::to_string(&gate.kind).unwrap_or_default(),
            artifacts: gate.artifacts.clone(),
            inputs: inputs
                .iter()
                .map(|p| {
                    (
                        path_string(p),
                        self.file(p)
                            .map_or_else(|| "missing".to_owned(), |(h, _)| hex(&h)),
                    )
                })
                .collect(),
            env: gate
                .env
                .iter()
                .map(|name| (name.clone(), std::env::var(name).ok()))
                .collect(),
            upstream,
        }
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
}
