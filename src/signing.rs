//! Dilithium2 signatures over bytes with a domain tag (SPEC 10): key files, `Signer::sign`,
//! `TrustedKeys::verify`, and `keygen`. What is signed is the caller's business: the cache
//! entry and the run report each build their own message and name their own domain, so a
//! signature made for one can never pass for the other.
//!
//! Key files are text: a header line, then base64. The secret file holds the public key followed
//! by the secret key (a Dilithium secret key alone does not give back its public key, and the
//! key id is the hex BLAKE3 of the public key). The signed bytes are `domain || 0x00 || message`.
//!
//! The cryptography sits behind the cargo feature `pqc`; without it every operation fails with
//! one clear message and nothing can be trusted.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::vocab::hex;

const SECRET_HEADER: &str = "runner dilithium2 secret key v1";
const PUBLIC_HEADER: &str = "runner dilithium2 public key v1";
const UNAVAILABLE: &str = "this runner was built without the `pqc` feature, so Dilithium2 signing is \
    unavailable; rebuild it with default features";

/// The Dilithium2 primitives, or their absence.
#[cfg(feature = "pqc")]
mod dilithium {
    use pqcrypto_dilithium::dilithium2;
    use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _, SecretKey as _};

    pub(super) const PUBLIC_BYTES: usize = dilithium2::public_key_bytes();
    pub(super) const SECRET_BYTES: usize = dilithium2::secret_key_bytes();

    /// (public, secret) bytes of a fresh pair.
    pub(super) fn keypair() -> Result<(Vec<u8>, Vec<u8>), String> {
        let (pk, sk) = dilithium2::keypair();
        Ok((pk.as_bytes().to_vec(), sk.as_bytes().to_vec()))
    }

    pub(super) fn sign(secret: &[u8], msg: &[u8]) -> Result<Vec<u8>, String> {
        let sk = dilithium2::SecretKey::from_bytes(secret)
            .map_err(|e| format!("not a Dilithium2 secret key: {e}"))?;
        Ok(dilithium2::detached_sign(msg, &sk).as_bytes().to_vec())
    }

    pub(super) fn verify(public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        let (Ok(pk), Ok(sig)) = (
            dilithium2::PublicKey::from_bytes(public),
            dilithium2::DetachedSignature::from_bytes(sig),
        ) else {
            return false;
        };
        dilithium2::verify_detached_signature(&sig, msg, &pk).is_ok()
    }
}

/// Without the `pqc` feature: the same functions, each failing with one clear message.
#[cfg(not(feature = "pqc"))]
mod dilithium {
    use super::UNAVAILABLE;

    // Dilithium2's sizes, so key files still parse and report clear errors.
    pub(super) const PUBLIC_BYTES: usize = 1312;
    pub(super) const SECRET_BYTES: usize = 2560;

    pub(super) fn keypair() -> Result<(Vec<u8>, Vec<u8>), String> {
        Err(UNAVAILABLE.to_owned())
    }

    pub(super) fn sign(_secret: &[u8], _msg: &[u8]) -> Result<Vec<u8>, String> {
        Err(UNAVAILABLE.to_owned())
    }

    pub(super) fn verify(_public: &[u8], _msg: &[u8], _sig: &[u8]) -> bool {
        false
    }
}

/// Why signing is unavailable in this build (meaningful when `available()` is false).
#[must_use]
pub fn unavailable_reason() -> &'static str {
    UNAVAILABLE
}

/// Whether this build can sign and verify.
#[must_use]
pub fn available() -> bool {
    cfg!(feature = "pqc")
}

/// Hex BLAKE3 of a public key: how signatures name their signer.
#[must_use]
pub fn key_id(public: &[u8]) -> String {
    hex(blake3::hash(public).as_bytes())
}

/// A secret key with its public half, ready to sign.
pub struct Signer {
    public: Vec<u8>,
    secret: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Parse the text of a secret key file, or its bare base64 line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = decode_key_text(text, SECRET_HEADER)?;
        if bytes.len() != dilithium::PUBLIC_BYTES + dilithium::SECRET_BYTES {
            return Err(format!(
                "not a runner Dilithium2 secret key ({} bytes, expected {})",
                bytes.len(),
                dilithium::PUBLIC_BYTES + dilithium::SECRET_BYTES
            ));
        }
        let (public, secret) = bytes.split_at(dilithium::PUBLIC_BYTES);
        Ok(Signer {
            id: key_id(public),
            public: public.to_vec(),
            secret: secret.to_vec(),
        })
    }

    /// The key named by the variable `key_env` (its path, relative to `root` or absolute, or
    /// the key itself): Ok(None) when the variable is unset or empty (a build without the key,
    /// e.g. a pull request), an error when it is set but unusable.
    pub fn from_env(key_env: &str, root: &Path) -> Result<Option<Self>, String> {
        let Some(value) = std::env::var_os(key_env).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let var = key_env;
        let value = value.to_string_lossy().into_owned();
        let trimmed = value.trim();
        let text = if trimmed.starts_with(SECRET_HEADER) || trimmed.contains('\n') {
            trimmed.to_owned()
        } else if let Some(path) = [PathBuf::from(trimmed), root.join(trimmed)]
            .into_iter()
            .find(|p| p.is_file())
        {
            std::fs::read_to_string(&path)
                .map_err(|e| format!("${var}: cannot read {}: {e}", path.display()))?
        } else if looks_like_base64(trimmed) {
            trimmed.to_owned()
        } else {
            return Err(format!(
                "${var} is neither a readable key file nor a base64 key (no file {trimmed})"
            ));
        };
        if !available() {
            return Err(dilithium_unavailable());
        }
        Signer::parse(&text)
            .map(Some)
            .map_err(|e| format!("${var}: {e}"))
    }

    /// Hex BLAKE3 of the public key.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sign `message` under `domain` (a tag naming what is signed, without NUL bytes).
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> Result<Signature, String> {
        let sig = dilithium::sign(&self.secret, &signed_bytes(domain, message))?;
        Ok(Signature {
            key_id: self.id.clone(),
            sig: B64.encode(sig),
        })
    }

    /// The public half (for tests and keygen).
    #[must_use]
    pub fn public(&self) -> &[u8] {
        &self.public
    }
}

/// The public keys whose signatures are accepted, by key id.
#[derive(Debug, Default, Clone)]
pub struct TrustedKeys {
    keys: BTreeMap<String, (String, Vec<u8>)>,
}

impl TrustedKeys {
    /// Load public key files (relative to `root`); each unreadable file is a warning.
    #[must_use]
    pub fn load(files: &[String], root: &Path) -> (Self, Vec<String>) {
        let mut trusted = TrustedKeys::default();
        let mut warnings = Vec::new();
        for rel in files {
            let path = root.join(rel);
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|t| parse_public(&t));
            match parsed {
                Ok(public) => trusted.add(rel, public),
                Err(e) => warnings.push(format!("trusted key {rel}: {e}; it is ignored")),
            }
        }
        (trusted, warnings)
    }

    /// Trust `public`, remembered under the name `label`.
    pub fn add(&mut self, label: &str, public: Vec<u8>) {
        self.keys
            .insert(key_id(&public), (label.to_owned(), public));
    }

    /// No key is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Is the key with this id (hex BLAKE3 of the public key, see `key_id`) trusted?
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// Check that `signature` is a valid signature of `message` under `domain` by one of these
    /// keys; Ok names the key file that signed. Err says why, in words.
    pub fn verify(
        &self,
        domain: &[u8],
        message: &[u8],
        signature: &Signature,
    ) -> Result<&str, String> {
        if !available() {
            return Err(dilithium_unavailable());
        }
        let Some((label, public)) = self.keys.get(&signature.key_id) else {
            return Err(format!(
                "it is signed by an unknown key {}",
                short(&signature.key_id)
            ));
        };
        let bytes = B64
            .decode(signature.sig.as_bytes())
            .map_err(|_| "its signature is not base64".to_owned())?;
        if dilithium::verify(public, &signed_bytes(domain, message), &bytes) {
            Ok(label)
        } else {
            Err(format!(
                "its signature by key {} does not match its content",
                short(&signature.key_id)
            ))
        }
    }
}

/// A detached signature: who signed, and the signature in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Hex BLAKE3 of the signer's public key.
    pub key_id: String,
    /// Base64 of the detached signature.
    pub sig: String,
}

/// The bytes a signature covers: the domain, a NUL, the message.
fn signed_bytes(domain: &[u8], message: &[u8]) -> Vec<u8> {
    [domain, b"\0", message].concat()
}

/// The first 12 characters of a key id or hash, for messages.
#[must_use]
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The error every operation gives in a build without the `pqc` feature.
#[must_use]
pub fn dilithium_unavailable() -> String {
    UNAVAILABLE.to_owned()
}

fn looks_like_base64(s: &str) -> bool {
    s.len() > 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The base64 body of a key file, its header line (when present) checked.
fn decode_key_text(text: &str, header: &str) -> Result<Vec<u8>, String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    if let Some(first) = lines.peek().filter(|l| l.starts_with("runner ")) {
        if *first != header {
            return Err(format!(
                "the file starts with `{first}`, expected `{header}`"
            ));
        }
        lines.next();
    }
    let body: String = lines.collect();
    B64.decode(body.as_bytes())
        .map_err(|e| format!("not base64: {e}"))
}

pub(crate) fn parse_public(text: &str) -> Result<Vec<u8>, String> {
    let bytes = decode_key_text(text, PUBLIC_HEADER)?;
    if bytes.len() == dilithium::PUBLIC_BYTES {
        Ok(bytes)
    } else {
        Err(format!(
            "not a Dilithium2 public key ({} bytes, expected {})",
            bytes.len(),
            dilithium::PUBLIC_BYTES
        ))
    }
}

/// `PREFIX.key` and `PREFIX.pub`.
fn key_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".key"), with(".pub"))
}

/// Write a fresh pair: `PREFIX.key` (mode 0600) and `PREFIX.pub`. Refuses to overwrite.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf, String), String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let (public, secret) = dilithium::keypair()?;
    let (key_path, pub_path) = key_paths(prefix);
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(format!(
                "{} already exists; remove it first or choose another --out",
                p.display()
            ));
        }
    }
    if let Some(dir) = key_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let secret_text = format!(
        "{SECRET_HEADER}\n{}\n",
        B64.encode([public.as_slice(), secret.as_slice()].concat())
    );
    let public_text = format!("{PUBLIC_HEADER}\n{}\n", B64.encode(&public));
    let write = |path: &Path, mode: u32, text: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&key_path, 0o600, &secret_text)?;
    write(&pub_path, 0o644, &public_text)?;
    Ok((key_path, pub_path, key_id(&public)))
}

#[cfg(all(test, feature = "pqc"))]
pub(crate) mod tests {
    use super::*;

    /// A fresh key pair under `dir`: the signer and its public key.
    pub(crate) fn pair(dir: &Path, name: &str) -> (Signer, Vec<u8>) {
        let (key, public, _) = keygen(&dir.join(name)).unwrap();
        let signer = Signer::parse(&std::fs::read_to_string(key).unwrap()).unwrap();
        let public = parse_public(&std::fs::read_to_string(public).unwrap()).unwrap();
        (signer, public)
    }

    #[test]
    fn keygen_writes_a_private_secret_and_refuses_to_overwrite() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (signer, public) = pair(dir.path(), "keys/ci");
        assert_eq!(signer.public(), public.as_slice());
        let mode = std::fs::metadata(dir.path().join("keys/ci.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            keygen(&dir.path().join("keys/ci"))
                .unwrap_err()
                .contains("already exists")
        );
        // The bare base64 line works too (a CI secret holding the key itself).
        let text = std::fs::read_to_string(dir.path().join("keys/ci.key")).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert_eq!(Signer::parse(line).unwrap().id(), signer.id());
        assert!(Signer::parse(&text.replace("secret", "public")).is_err());
    }

    #[test]
    fn a_signature_holds_for_its_domain_and_message_only() {
        let dir = tempfile::tempdir().unwrap();
        let (ci, ci_pub) = pair(dir.path(), "ci");
        let (stranger, _) = pair(dir.path(), "stranger");
        let mut trusted = TrustedKeys::default();
        trusted.add("ci.pub", ci_pub);
        let sig = ci.sign(b"runner-test-v1", b"message").unwrap();
        assert_eq!(
            trusted.verify(b"runner-test-v1", b"message", &sig),
            Ok("ci.pub")
        );
        assert!(trusted.verify(b"runner-test-v1", b"massage", &sig).is_err());
        assert!(
            trusted
                .verify(b"runner-other-v1", b"message", &sig)
                .is_err()
        );
        // Moving bytes between domain and message does not make another valid signature.
        assert!(
            trusted
                .verify(b"runner-test-v1\0mess", b"age", &sig)
                .is_err()
        );
        let foreign = stranger.sign(b"runner-test-v1", b"message").unwrap();
        assert!(
            trusted
                .verify(b"runner-test-v1", b"message", &foreign)
                .unwrap_err()
                .contains("unknown key")
        );
    }
}
