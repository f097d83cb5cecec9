//! The local cache store: content-addressed entry files under `<cache_dir>/entries/`.

use std::io;
use std::path::{Path, PathBuf};

use super::Store;
use super::entry::MAX_ENTRY_FILE_BYTES;
use crate::fingerprint::CacheKey;

/// Entries at `entries/<first two hex>/<key hex>`, written to a temporary name and renamed.
/// No fsync: a torn entry after a power loss fails its checksum and is treated as a miss.
pub struct LocalStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl LocalStore {
    /// The store under `cache_dir` (entries in `entries/`, temporary files in `tmp/`).
    #[must_use]
    pub fn new(cache_dir: &Path) -> Self {
        LocalStore {
            dir: cache_dir.join("entries"),
            tmp: cache_dir.join("tmp"),
        }
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        let hex = key.hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// Remove temporary files older than an hour (left by a killed runner); younger ones may
    /// belong to a runner still writing. Two places: `tmp/` (entries being written) and the
    /// cache folder itself, where `bincodec::write_atomic` writes the index, the stat cache and
    /// the report as `.tmp-*` before renaming (those were never cleaned, so every kill at the
    /// wrong moment left one behind for good).
    pub fn clean_stale_temporaries(&self) {
        let is_old = |e: &std::fs::DirEntry| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600)
        };
        for e in std::fs::read_dir(&self.tmp).into_iter().flatten().flatten() {
            if is_old(&e) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let Some(cache_dir) = self.tmp.parent() else {
            return;
        };
        for e in std::fs::read_dir(cache_dir).into_iter().flatten().flatten() {
            let temporary = e.file_name().as_encoded_bytes().starts_with(b".tmp-")
                && e.file_type().is_ok_and(|t| t.is_file());
            if temporary && is_old(&e) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl LocalStore {
    /// `Store::put`, giving back the entry file's modification time (ms since the epoch), which
    /// the ledger records with the store.
    pub(crate) fn put_written(&self, key: &CacheKey, data: &[u8]) -> io::Result<u64> {
        use std::io::Write as _;
        let dest = self.path(key);
        let mut tmp = crate::files::in_dir(&self.tmp, || {
            tempfile::Builder::new()
                .prefix("entry-")
                .tempfile_in(&self.tmp)
        })?;
        tmp.write_all(data)?;
        // The entry's folder (`entries/<first two hex digits>`) is made when the rename finds
        // it missing.
        let parent = dest.parent().unwrap_or(Path::new(""));
        let mut tmp = Some(tmp);
        let file = crate::files::in_dir(parent, || match tmp.take() {
            Some(t) => t
                .persist(&dest)
                .map_err(|tempfile::PersistError { error, file }| {
                    tmp = Some(file);
                    error
                }),
            None => Err(io::Error::other("the entry's temporary file is gone")),
        })?;
        let written = file.metadata()?.modified()?;
        Ok(written
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }
}

impl Store for LocalStore {
    fn name(&self) -> &'static str {
        "local cache"
    }

    fn get(&self, key: &CacheKey) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        let file = match std::fs::File::open(self.path(key)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // Check the size before reading: a planted multi-gigabyte (or sparse) file under an
        // entry's name must not be read into memory. Nothing larger is ever written (and
        // `Entry::decode` would reject it anyway, after the damage was done).
        let len = file.metadata()?.len();
        if len > MAX_ENTRY_FILE_BYTES {
            return Err(io::Error::other(format!(
                "{} is {len} bytes, more than any entry the runner writes",
                self.path(key).display()
            )));
        }
        let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(MAX_ENTRY_FILE_BYTES + 1).read_to_end(&mut data)?;
        Ok(Some(data))
    }

    fn put(&self, key: &CacheKey, data: &[u8]) -> io::Result<()> {
        self.put_written(key, data).map(drop)
    }

    fn remove(&self, key: &CacheKey) {
        let _ = std::fs::remove_file(self.path(key));
    }
}
