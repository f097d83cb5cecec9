//! The cache key (SPEC 4): a versioned struct of sorted maps, serialized and hashed with BLAKE3.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::vocab::{CacheKey, hex};

/// Bumped whenever what enters the key or the entry format changes (2: the environment mode).
pub const FORMAT_VERSION: u32 = 2;

/// Everything a gate's result depends on. Stored in each cache entry so `explain` can say what
/// changed since the gate's last stored run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KeyMaterial {
    /// `FORMAT_VERSION` when the material was made.
    pub format: u32,
    /// The environment mode the gate runs under (`strict`, `loose`: `[settings] env_mode`):
    /// what its process and its runtime inputs see of the caller's environment. Empty in
    /// entries of format 1, which did not record it.
    #[serde(default)]
    pub env_mode: String,
    /// The kind and its settings (`{"kind":"command","run":"..."}`).
    pub kind: String,
    /// Declared artifact paths: an entry must hold every artifact the gate now declares.
    pub artifacts: Vec<String>,
    /// Input path (relative to the config folder) -> BLAKE3 of its content, hex.
    pub inputs: BTreeMap<String, String>,
    /// Declared env variable -> its value (None when unset).
    pub env: BTreeMap<String, Option<String>>,
    /// Needed gate -> its artifacts' path -> content hash (None when absent).
    pub upstream: BTreeMap<String, BTreeMap<String, Option<String>>>,
    /// Runtime input command -> its output (`inputs = [{ run = "mypy --version" }]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime: BTreeMap<String, RuntimeOutput>,
}

/// What a runtime input's command printed: the hash that enters the key, and its first line
/// for people (`explain`, the diff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RuntimeOutput {
    /// BLAKE3 of the whole output, hex.
    pub hash: String,
    /// The output's first non-empty line, at most 120 characters.
    pub shown: String,
}

/// How a missing input's hash is written in the key material.
pub(super) const MISSING: &str = "missing";
/// How an absent artifact of a needed gate is written in the key.
pub(super) const ABSENT: &str = "absent";

/// The canonical encoding a key is the BLAKE3 of: length-prefixed fields in one buffer,
/// hashed once (many tiny `Hasher::update` calls cost more than the copy). `KeyMaterial::key`
/// and the fingerprinter's allocation-free `Fingerprinter::key` both write through it, so the
/// two cannot encode differently.
pub(super) struct KeyEncoder {
    buf: Vec<u8>,
}

impl KeyEncoder {
    /// Start a key: the domain tag, the format version, the environment mode and the kind's
    /// settings.
    #[must_use]
    pub(super) fn new(format: u32, env_mode: &str, kind: &[u8]) -> Self {
        let mut k = KeyEncoder {
            buf: Vec::with_capacity(1024),
        };
        k.field(b"runner-key");
        k.field(&format.to_le_bytes());
        k.field(env_mode.as_bytes());
        k.field(kind);
        k
    }

    pub(super) fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// The number of entries of the list or map that follows.
    pub(super) fn count(&mut self, n: usize) {
        self.field(&(n as u64).to_le_bytes());
    }

    /// The runtime inputs (command, output hash), sorted by command; nothing at all when there
    /// are none, so the keys of gates without them are what they were before they existed.
    pub(super) fn runtime<'a>(
        &mut self,
        entries: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) {
        if entries.len() == 0 {
            return;
        }
        self.field(b"runtime");
        self.count(entries.len());
        for (command, hash) in entries {
            self.field(command.as_bytes());
            self.field(hash.as_bytes());
        }
    }

    /// A declared env variable and its value (unset is not the same as empty).
    pub(super) fn env(&mut self, name: &str, value: Option<&str>) {
        self.field(name.as_bytes());
        match value {
            Some(v) => {
                self.field(b"set");
                self.field(v.as_bytes());
            }
            None => self.field(b"unset"),
        }
    }

    /// A content hash as the 64 lower-case hex digits the material holds.
    pub(super) fn hash_hex(&mut self, hash: &[u8; 32]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in hash.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 15)];
        }
        self.field(&out);
    }

    #[must_use]
    pub(super) fn finish(self) -> CacheKey {
        CacheKey(*blake3::hash(&self.buf).as_bytes())
    }
}

impl KeyMaterial {
    /// The key: BLAKE3 over a canonical, length-prefixed encoding of every field (maps are
    /// sorted, so hash-map order and file order cannot change it).
    #[must_use]
    pub fn key(&self) -> CacheKey {
        let mut k = KeyEncoder::new(self.format, &self.env_mode, self.kind.as_bytes());
        k.count(self.artifacts.len());
        for a in &self.artifacts {
            k.field(a.as_bytes());
        }
        k.count(self.inputs.len());
        for (path, hash) in &self.inputs {
            k.field(path.as_bytes());
            k.field(hash.as_bytes());
        }
        k.count(self.env.len());
        for (name, value) in &self.env {
            k.env(name, value.as_deref());
        }
        k.count(self.upstream.len());
        for (gate, arts) in &self.upstream {
            k.field(gate.as_bytes());
            k.count(arts.len());
            for (path, hash) in arts {
                k.field(path.as_bytes());
                k.field(hash.as_deref().unwrap_or(ABSENT).as_bytes());
            }
        }
        k.runtime(
            self.runtime
                .iter()
                .map(|(c, o)| (c.as_str(), o.hash.as_str())),
        );
        k.finish()
    }

    /// Lines saying what differs from `old`, in words (empty when nothing does).
    #[must_use]
    pub fn diff(&self, old: &KeyMaterial) -> Vec<String> {
        let mut out = Vec::new();
        if self.format != old.format {
            out.push(format!(
                "cache format changed ({} -> {})",
                old.format, self.format
            ));
        }
        if self.env_mode != old.env_mode {
            let shown = |m: &str| {
                if m.is_empty() {
                    "(not recorded)".to_owned()
                } else {
                    m.to_owned()
                }
            };
            out.push(format!(
                "env_mode changed: {} -> {}",
                shown(&old.env_mode),
                shown(&self.env_mode)
            ));
        }
        if self.kind != old.kind {
            out.push(format!(
                "gate settings changed: {} -> {}",
                old.kind, self.kind
            ));
        }
        if self.artifacts != old.artifacts {
            out.push(format!(
                "declared artifacts changed: {:?} -> {:?}",
                old.artifacts, self.artifacts
            ));
        }
        diff_maps(&mut out, "input", &old.inputs, &self.inputs, |v| short(v));
        diff_maps(&mut out, "env", &old.env, &self.env, |v| {
            v.as_deref()
                .map_or_else(|| "(unset)".to_owned(), |s| format!("{s:?}"))
        });
        for (gate, arts) in &self.upstream {
            match old.upstream.get(gate) {
                None => out.push(format!("new need `{gate}`")),
                Some(old_arts) => diff_maps(
                    &mut out,
                    &format!("artifact of `{gate}`"),
                    old_arts,
                    arts,
                    |v| v.as_deref().map_or_else(|| "(absent)".to_owned(), short),
                ),
            }
        }
        for gate in old
            .upstream
            .keys()
            .filter(|g| !self.upstream.contains_key(*g))
        {
            out.push(format!("need `{gate}` removed"));
        }
        diff_maps(
            &mut out,
            "runtime input",
            &old.runtime,
            &self.runtime,
            |v| format!("{:?}", v.shown),
        );
        out
    }
}

fn short(hex: &str) -> String {
    hex.get(..12).unwrap_or(hex).to_owned()
}

fn diff_maps<V: PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    show: impl Fn(&V) -> String,
) {
    for (k, v) in new {
        match old.get(k) {
            None => out.push(format!("{what} added: {k}")),
            Some(o) if o != v => {
                out.push(format!("{what} changed: {k} ({} -> {})", show(o), show(v)));
            }
            Some(_) => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(format!("{what} removed: {k}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material() -> KeyMaterial {
        KeyMaterial {
            format: FORMAT_VERSION,
            env_mode: "strict".into(),
            kind: r#"{"kind":"command","run":"true"}"#.into(),
            artifacts: vec!["out/a.txt".into()],
            inputs: BTreeMap::from([
                ("a.txt".into(), "aa".repeat(32)),
                ("b.txt".into(), "bb".repeat(32)),
            ]),
            env: BTreeMap::from([("X".into(), Some("1".into()))]),
            upstream: BTreeMap::new(),
            runtime: BTreeMap::new(),
        }
    }

    #[test]
    fn key_is_stable_and_sensitive() {
        let m = material();
        assert_eq!(m.key(), material().key());
        let mut changed = material();
        changed.env.insert("X".into(), Some("2".into()));
        assert_ne!(m.key(), changed.key());
        assert_eq!(
            changed.diff(&m),
            vec!["env changed: X (\"1\" -> \"2\")".to_owned()]
        );
        let mut unset = material();
        unset.env.insert("X".into(), None);
        assert_ne!(unset.key(), m.key());
    }

    #[test]
    fn the_env_mode_is_in_the_key_and_the_diff() {
        let strict = material();
        let mut loose = material();
        loose.env_mode = "loose".into();
        assert_ne!(strict.key(), loose.key());
        assert_eq!(
            strict.diff(&loose),
            vec!["env_mode changed: loose -> strict".to_owned()]
        );
    }

    #[test]
    fn hex_round_trip() {
        let k = material().key();
        assert_eq!(CacheKey::from_hex(&k.hex()), Some(k));
    }
}
