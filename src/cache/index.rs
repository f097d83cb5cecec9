//! The cache index: gate -> the key and artifact hashes of its last stored or restored run.
//!
//! One file read once per run. It is only a fast path: when a gate's key and its artifacts on
//! disk match the index, the hit needs no entry read at all. The entries stay the truth.
//!
//! Each record also says when this checkout last reported a use of its entry to the cache's
//! ledger (`used`): a hit reports a use only when that is older than `USE_RESOLUTION_MS`, so
//! a no-op run soon after another writes nothing at all.

use std::path::{Path, PathBuf};

use crate::bincodec::{self, Reader, Writer};
use crate::fasthash::{FastBuild, FastMap};
use crate::fingerprint::CacheKey;

const MAGIC: &[u8] = b"RUNNER-INDEX-2\n";
/// The format before `used` (read as never used, so the first hit reports its use).
const MAGIC_1: &[u8] = b"RUNNER-INDEX-1\n";

/// What the index remembers of one gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRecord {
    /// The key of the gate's last stored or restored run.
    pub key: CacheKey,
    /// Artifact path -> content hash.
    pub files: Vec<(String, [u8; 32])>,
    /// When a use of the entry was last reported to the ledger (run clock, ms since the epoch;
    /// 0: never).
    pub used: u64,
}

/// Gate name -> record.
pub struct Index {
    path: PathBuf,
    /// Gate name -> record (foldhash: a lookup per gate of every run).
    records: FastMap<String, IndexRecord>,
    dirty: bool,
    /// Why the file on disk was ignored, if it was.
    pub load_warning: Option<String>,
}

impl Index {
    /// Read the index at `path`: empty when the file cannot be read, and empty with a
    /// `load_warning` when it cannot be decoded.
    #[must_use]
    pub fn load(path: &Path) -> Self {
        let mut load_warning = None;
        let records = match std::fs::read(path) {
            Ok(data) => decode(&data).unwrap_or_else(|e| {
                load_warning = Some(format!("{}: {e}; ignoring it", path.display()));
                FastMap::default()
            }),
            Err(_) => FastMap::default(),
        };
        Index {
            path: path.to_path_buf(),
            records,
            dirty: false,
            load_warning,
        }
    }

    /// Forget every record, without writing (call `save` first): the file keeps them.
    pub fn release(&mut self) {
        self.records = FastMap::default();
        self.dirty = false;
    }

    /// The record of `gate`, if the index has one.
    #[must_use]
    pub fn get(&self, gate: &str) -> Option<&IndexRecord> {
        self.records.get(gate)
    }

    /// Remember `record` as `gate`'s latest (the index is written back only if this changed it).
    pub fn set(&mut self, gate: &str, record: IndexRecord) {
        if self.records.get(gate) != Some(&record) {
            self.records.insert(gate.to_owned(), record);
            self.dirty = true;
        }
    }

    /// A hit on `gate`'s record at `now` (ms): true when the use is worth reporting (the last
    /// report is older than `resolution` ms, or in the future of a clock that went back), and
    /// then the record says so.
    pub fn touch(&mut self, gate: &str, now: u64, resolution: u64) -> bool {
        let Some(record) = self.records.get_mut(gate) else {
            return false;
        };
        if now >= record.used && now - record.used < resolution {
            return false;
        }
        record.used = now;
        self.dirty = true;
        true
    }

    /// Forget `gate`.
    pub fn remove(&mut self, gate: &str) {
        if self.records.remove(gate).is_some() {
            self.dirty = true;
        }
    }

    /// Write back if changed.
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut w = Writer::new(MAGIC);
        w.u64(self.records.len() as u64);
        for (gate, rec) in &self.records {
            w.bytes(gate.as_bytes());
            w.raw(&rec.key.0);
            w.u32(u32::try_from(rec.files.len()).unwrap_or(u32::MAX));
            for (path, hash) in &rec.files {
                w.bytes(path.as_bytes());
                w.raw(hash);
            }
            w.u64(rec.used);
        }
        bincodec::write_atomic(&self.path, &w.finish())?;
        self.dirty = false;
        Ok(())
    }
}

fn decode(data: &[u8]) -> Result<FastMap<String, IndexRecord>, bincodec::DecodeError> {
    use bincodec::DecodeError::Truncated;
    let (mut r, with_used) = match Reader::open(data, MAGIC) {
        Ok(r) => (r, true),
        Err(bincodec::DecodeError::Magic) => (Reader::open(data, MAGIC_1)?, false),
        Err(e) => return Err(e),
    };
    let n = r.u64()?;
    let mut out = FastMap::with_capacity_and_hasher(
        usize::try_from(n).unwrap_or(0).min(1 << 20),
        FastBuild::default(),
    );
    for _ in 0..n {
        let gate = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| Truncated)?;
        let key = CacheKey(r.raw(32)?.try_into().map_err(|_| Truncated)?);
        let count = r.u32()?;
        let mut files = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            let path = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| Truncated)?;
            files.push((path, r.raw(32)?.try_into().map_err(|_| Truncated)?));
        }
        let used = if with_used { r.u64()? } else { 0 };
        out.insert(gate, IndexRecord { key, files, used });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index");
        let mut i = Index::load(&p);
        i.set(
            "a",
            IndexRecord {
                key: CacheKey([1; 32]),
                files: vec![("out/a".into(), [2; 32])],
                used: 5,
            },
        );
        i.save().unwrap();
        let mut j = Index::load(&p);
        assert_eq!(j.get("a").unwrap().files[0].0, "out/a");
        assert_eq!(j.get("a").unwrap().used, 5);
        // A use is reported once per resolution, and again after a clock went back.
        assert!(!j.touch("a", 7, 10));
        assert!(j.touch("a", 15, 10));
        assert!(!j.touch("a", 24, 10));
        assert!(j.touch("a", 3, 10));
        assert!(!j.touch("absent", 100, 10));
        assert!(j.load_warning.is_none());
        std::fs::write(&p, b"junk").unwrap();
        assert!(Index::load(&p).load_warning.is_some());
    }
}
