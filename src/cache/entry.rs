//! A cache entry: one self-verifying archive of a gate's artifacts and captured output.
//!
//! Layout (see `bincodec`): magic, the manifest as JSON, each file's bytes, the log's bytes,
//! then a BLAKE3 of all of it. Every file also carries its own hash in the manifest.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::bincodec::{Reader, Writer};
use crate::fingerprint::KeyMaterial;
use crate::signing::{Signature, Signer, TrustedKeys, short};
use crate::vocab::{CacheKey, hex};

const MAGIC: &[u8] = b"RUNNER-ENTRY-1\n";

/// Largest entry the runner writes or accepts (bigger artifacts are not cached).
pub const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// Largest entry file read or decoded: the artifacts' limit plus room for the manifest and the
/// log (whose kept tail is up to 4 MiB). With only 1 MiB of room, an entry whose artifacts
/// were near the limit and whose log was long was written, then rejected on every read.
pub const MAX_ENTRY_FILE_BYTES: u64 = MAX_ENTRY_BYTES + 8 * 1024 * 1024;

/// One artifact in an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative to the config folder, `/`-separated.
    pub path: String,
    /// Length of the content, in bytes.
    pub size: u64,
    /// Any execute bit was set when stored: restored with mode 0755, else 0644.
    pub executable: bool,
    /// BLAKE3 of the content, hex.
    pub hash: String,
    /// A symlink found in an artifact folder or by a glob, stored as a link: its target, as
    /// written in it (never followed). The content is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What an entry holds besides the bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The key the entry was stored under; checked on read (an entry copied under another key
    /// is rejected).
    pub key: String,
    /// The gate whose run the entry holds.
    pub gate: String,
    /// When the entry was made: the storing run's time, RFC 3339.
    pub created_at: String,
    /// The artifacts: the files (and links) the gate's `artifacts` matched, each once.
    pub files: Vec<FileRecord>,
    /// Length of the captured log that follows the files, in bytes.
    pub log_bytes: u64,
    /// What the key was made of, for `runner explain`.
    pub material: KeyMaterial,
    /// Dilithium2 signature over the key and the content hash (remote entries; SPEC 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A decoded, verified entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key, gate, file records, key material and signature.
    pub manifest: Manifest,
    /// File contents, in `manifest.files` order.
    pub contents: Vec<Vec<u8>>,
    /// The captured output of the run that made the entry (its last 4 MiB at most).
    pub log: Vec<u8>,
}

/// Why an entry was rejected.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Unreadable or inconsistent (bad checksum, a file not matching its hash, truncated), with
    /// the detail.
    #[error("corrupt entry: {0}")]
    Corrupt(String),
    /// Made for another key than the one it was read for.
    #[error("entry is for key {found}, not {expected} (copied under another key?)")]
    WrongKey {
        /// The key the entry was read for, hex.
        expected: String,
        /// The key in the entry's manifest, hex.
        found: String,
    },
    /// A file path that is not plain and relative (`..`, absolute, empty), as written.
    #[error("unsafe path `{0}` in entry")]
    UnsafePath(String),
    /// Bigger than `MAX_ENTRY_FILE_BYTES`; the entry's size in bytes.
    #[error("entry too large ({0} bytes)")]
    TooLarge(u64),
}

/// The domain of entry signatures: an entry signature can never pass for another kind.
const SIGNING_DOMAIN: &[u8] = b"runner-entry-signature-v1";

impl Entry {
    /// What an entry's signature covers: the key it was made for and its content hash.
    fn signing_message(&self) -> Vec<u8> {
        [self.manifest.key.as_bytes(), &self.content_hash()].concat()
    }

    /// Sign the entry (its key and content hash) in place.
    pub fn sign(&mut self, signer: &Signer) -> Result<(), String> {
        self.manifest.signature = Some(signer.sign(SIGNING_DOMAIN, &self.signing_message())?);
        Ok(())
    }

    /// Accept the entry, read for `requested`, only with a valid signature by a trusted key over
    /// that very key and the entry's content. Err says why, in words.
    pub fn check_signature(
        &self,
        requested: &CacheKey,
        trusted: &TrustedKeys,
    ) -> Result<(), String> {
        if !crate::signing::available() {
            return Err(crate::signing::dilithium_unavailable());
        }
        if self.manifest.key != requested.hex() {
            return Err(format!(
                "it was made for key {}, not {}",
                short(&self.manifest.key),
                short(&requested.hex())
            ));
        }
        let Some(sig) = &self.manifest.signature else {
            return Err("it is unsigned".to_owned());
        };
        trusted
            .verify(SIGNING_DOMAIN, &self.signing_message(), sig)
            .map(drop)
    }

    /// Hash that signatures cover: everything but the signature itself.
    #[must_use]
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(self.manifest.key.as_bytes());
        for (rec, bytes) in self.manifest.files.iter().zip(&self.contents) {
            h.update(rec.path.as_bytes());
            h.update(&[0, u8::from(rec.executable)]);
            h.update(blake3::hash(bytes).as_bytes());
            if let Some(target) = &rec.link {
                // Only links add bytes: the hash of an entry without links is what it was.
                h.update(b"\0link\0");
                h.update(&(target.len() as u64).to_le_bytes());
                h.update(target.as_bytes());
            }
        }
        h.update(blake3::hash(&self.log).as_bytes());
        *h.finalize().as_bytes()
    }

    /// Serialize to the archive format.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(MAGIC);
        w.bytes(&serde_json::to_vec(&self.manifest).unwrap_or_default());
        for c in &self.contents {
            w.bytes(c);
        }
        w.bytes(&self.log);
        w.finish()
    }

    /// Decode and verify an archive read for `expected` key: checksum, key, per-file hashes,
    /// sizes and path safety. Nothing is written anywhere.
    pub fn decode(data: &[u8], expected: &CacheKey) -> Result<Self, EntryError> {
        if data.len() as u64 > MAX_ENTRY_FILE_BYTES {
            return Err(EntryError::TooLarge(data.len() as u64));
        }
        let corrupt = |e: &dyn std::fmt::Display| EntryError::Corrupt(e.to_string());
        let mut r = Reader::open(data, MAGIC).map_err(|e| corrupt(&e))?;
        let manifest: Manifest =
            serde_json::from_slice(r.bytes().map_err(|e| corrupt(&e))?).map_err(|e| corrupt(&e))?;
        if manifest.key != expected.hex() {
            return Err(EntryError::WrongKey {
                expected: expected.hex(),
                found: manifest.key,
            });
        }
        let mut contents = Vec::with_capacity(manifest.files.len());
        for rec in &manifest.files {
            check_path(&rec.path)?;
            let bytes = r.bytes().map_err(|e| corrupt(&e))?;
            if bytes.len() as u64 != rec.size || hex(blake3::hash(bytes).as_bytes()) != rec.hash {
                return Err(EntryError::Corrupt(format!(
                    "content of {} does not match its hash",
                    rec.path
                )));
            }
            if let Some(target) = &rec.link
                && (target.is_empty() || target.contains('\0') || !bytes.is_empty())
            {
                return Err(EntryError::Corrupt(format!(
                    "link {} has no usable target",
                    rec.path
                )));
            }
            contents.push(bytes.to_vec());
        }
        let log = r.bytes().map_err(|e| corrupt(&e))?.to_vec();
        if log.len() as u64 != manifest.log_bytes || !r.is_empty() {
            return Err(EntryError::Corrupt("trailing or missing bytes".to_owned()));
        }
        let mut seen = std::collections::HashSet::new();
        if !manifest.files.iter().all(|f| seen.insert(f.path.as_str())) {
            return Err(EntryError::Corrupt("a path appears twice".to_owned()));
        }
        // A path is a file or a folder, not both (`out/a` and `out/a/b`): restoring both
        // would write through what the first one put there.
        for f in &manifest.files {
            let mut folder = f.path.as_str();
            while let Some((parent, _)) = folder.rsplit_once('/') {
                if seen.contains(parent) {
                    return Err(EntryError::UnsafePath(f.path.clone()));
                }
                folder = parent;
            }
        }
        Ok(Entry {
            manifest,
            contents,
            log,
        })
    }
}

/// A path an entry may restore: relative, plain components only, no `..`, valid UTF-8.
pub fn check_path(path: &str) -> Result<(), EntryError> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\0')
        && !path.contains('\\')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(EntryError::UnsafePath(path.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &CacheKey, path: &str) -> Entry {
        let content = b"hello".to_vec();
        Entry {
            manifest: Manifest {
                key: key.hex(),
                gate: "g".into(),
                created_at: "now".into(),
                files: vec![FileRecord {
                    path: path.into(),
                    size: 5,
                    executable: false,
                    hash: hex(blake3::hash(&content).as_bytes()),
                    link: None,
                }],
                log_bytes: 3,
                material: KeyMaterial::default(),
                signature: None,
            },
            contents: vec![content],
            log: b"log".to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        let key = CacheKey([7; 32]);
        let data = entry(&key, "out/a.txt").encode();
        let back = Entry::decode(&data, &key).unwrap();
        assert_eq!(back.contents[0], b"hello");
        assert_eq!(back.log, b"log");
    }

    #[test]
    fn rejects_wrong_key_flips_and_truncation() {
        let key = CacheKey([7; 32]);
        let data = entry(&key, "out/a.txt").encode();
        assert!(matches!(
            Entry::decode(&data, &CacheKey([8; 32])),
            Err(EntryError::WrongKey { .. })
        ));
        for i in [0, 20, data.len() / 2, data.len() - 1] {
            let mut bad = data.clone();
            bad[i] ^= 0x40;
            assert!(Entry::decode(&bad, &key).is_err(), "flip at {i}");
        }
        assert!(Entry::decode(&data[..data.len() - 5], &key).is_err());
    }

    #[test]
    fn links_round_trip_and_a_path_is_never_both_a_file_and_a_folder() {
        let key = CacheKey([7; 32]);
        let mut e = entry(&key, "out/l");
        e.contents[0] = Vec::new();
        e.manifest.files[0].size = 0;
        e.manifest.files[0].hash = hex(blake3::hash(b"").as_bytes());
        e.manifest.files[0].link = Some("/etc/passwd".into());
        let back = Entry::decode(&e.encode(), &key).unwrap();
        assert_eq!(back.manifest.files[0].link.as_deref(), Some("/etc/passwd"));
        // The target is covered by what signatures sign.
        let mut other = e.clone();
        other.manifest.files[0].link = Some("/etc/shadow".into());
        assert_ne!(e.content_hash(), other.content_hash());
        // A link with content, or with no target, is corrupt.
        let mut bad = entry(&key, "out/l");
        bad.manifest.files[0].link = Some("x".into());
        assert!(Entry::decode(&bad.encode(), &key).is_err());
        other.manifest.files[0].link = Some(String::new());
        assert!(Entry::decode(&other.encode(), &key).is_err());
        // `out/l` and `out/l/x`: restoring both would write through the first.
        let mut both = entry(&key, "out/l");
        both.manifest.files.push(FileRecord {
            path: "out/l/x".into(),
            ..both.manifest.files[0].clone()
        });
        both.contents.push(both.contents[0].clone());
        assert!(matches!(
            Entry::decode(&both.encode(), &key),
            Err(EntryError::UnsafePath(p)) if p == "out/l/x"
        ));
    }

    #[test]
    fn rejects_hostile_paths() {
        let key = CacheKey([7; 32]);
        for p in ["/etc/passwd", "../x", "a/../../x", "", "./a", "a\\..\\b"] {
            let data = entry(&key, p).encode();
            assert!(
                matches!(Entry::decode(&data, &key), Err(EntryError::UnsafePath(_))),
                "{p}"
            );
        }
    }
}

#[cfg(all(test, feature = "pqc"))]
mod signature_tests {
    use super::*;
    use crate::signing::tests::pair;

    fn entry(key: &CacheKey) -> Entry {
        let content = b"artifact".to_vec();
        Entry {
            manifest: Manifest {
                key: key.hex(),
                gate: "g".into(),
                created_at: String::new(),
                files: vec![FileRecord {
                    path: "out/a.txt".into(),
                    size: content.len() as u64,
                    executable: false,
                    hash: hex(blake3::hash(&content).as_bytes()),
                    link: None,
                }],
                log_bytes: 0,
                material: KeyMaterial::default(),
                signature: None,
            },
            contents: vec![content],
            log: Vec::new(),
        }
    }

    #[test]
    fn entry_signatures_bind_key_content_and_signer() {
        let dir = tempfile::tempdir().unwrap();
        let (ci, ci_pub) = pair(dir.path(), "ci");
        let (stranger, _) = pair(dir.path(), "stranger");
        let mut trusted = TrustedKeys::default();
        trusted.add("ci.pub", ci_pub);
        let key = CacheKey([1; 32]);

        let mut good = entry(&key);
        assert!(
            good.check_signature(&key, &trusted)
                .unwrap_err()
                .contains("unsigned")
        );
        good.sign(&ci).unwrap();
        good.check_signature(&key, &trusted).unwrap();

        // Copied under another key: the manifest says the old key.
        assert!(
            good.check_signature(&CacheKey([2; 32]), &trusted)
                .unwrap_err()
                .contains("made for key")
        );
        // Re-labelled for the other key: the signature no longer matches.
        let mut relabelled = good.clone();
        relabelled.manifest.key = CacheKey([2; 32]).hex();
        assert!(
            relabelled
                .check_signature(&CacheKey([2; 32]), &trusted)
                .unwrap_err()
                .contains("does not match")
        );
        // Content changed after signing.
        let mut changed = good.clone();
        changed.contents[0] = b"poisoned".to_vec();
        changed.manifest.files[0].hash = hex(blake3::hash(b"poisoned").as_bytes());
        assert!(
            changed
                .check_signature(&key, &trusted)
                .unwrap_err()
                .contains("does not match")
        );
        // Signed by someone else.
        let mut foreign = entry(&key);
        foreign.sign(&stranger).unwrap();
        assert!(
            foreign
                .check_signature(&key, &trusted)
                .unwrap_err()
                .contains("unknown key")
        );
    }
}
