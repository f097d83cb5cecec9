//! The local cache store: content-addressed entry files under `<cache_dir>/entries/`.

use std::io;
use std::path::{Path, PathBuf};

use super::Store;
use crate::fingerprint::CacheKey;

/// Entries at `entries/<first two hex>/<key hex>`, written to a temporary name and renamed.
/// No fsync: a torn entry after a power loss fails its checksum and is treated as a miss.
pub struct LocalStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl LocalStore {
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
    /// belong to a runner still writing.
    pub fn clean_stale_temporaries(&self) {
        let Ok(read) = std::fs::read_dir(&self.tmp) else {
            return;
        };
        for e in read.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Store for LocalStore {
    fn name(&self) -> &'static str {
        "local cache"
    }

    fn get(&self, key: &CacheKey) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(key)) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put(&self, key: &CacheKey, data: &[u8]) -> io::Result<()> {
        use std::io::Write as _;
        let dest = self.path(key);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::create_dir_all(&self.tmp)?;
        let mut tmp = tempfile::Builder::new()
            .prefix("entry-")
            .tempfile_in(&self.tmp)?;
        tmp.write_all(data)?;
        tmp.persist(&dest).map_err(|e| e.error)?;
        Ok(())
    }

    fn remove(&self, key: &CacheKey) {
        let _ = std::fs::remove_file(self.path(key));
    }
}
