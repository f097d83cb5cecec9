//! Dilithium2 signing of remote cache entries and run reports (SPEC 10): `runner keygen`,
//! `runner verify`, the report's `<report>.sig`, and the trust policy remote reads go through.
//!
//! Key files are text: a header line, then base64. The secret file holds the public key followed
//! by the secret key (a Dilithium secret key alone does not give back its public key, and the
//! key id is the hex BLAKE3 of the public key). Signed messages carry a domain tag, so an entry
//! signature can never pass for a report signature or the other way round:
//!
//! - entry:  `"runner-entry-signature-v1\0" || key hex || Entry::content_hash()`
//! - report: `"runner-report-signature-v1\0" || BLAKE3(report file bytes)`
//!
//! The cryptography sits behind the cargo feature `pqc`; without it every operation fails with
//! one clear message and remote entries cannot be trusted.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::cache::{Entry, entry::Signature};
use crate::config::{Config, SigningSettings};
use crate::exit_code;
use crate::fingerprint::{CacheKey, hex};
use crate::run::Workspace;

const SECRET_HEADER: &str = "runner dilithium2 secret key v1";
const PUBLIC_HEADER: &str = "runner dilithium2 public key v1";
const ENTRY_DOMAIN: &[u8] = b"runner-entry-signature-v1\0";
const REPORT_DOMAIN: &[u8] = b"runner-report-signature-v1\0";
const REPORT_SIG_FORMAT: &str = "runner-report-signature-v1";
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

    /// The key named by `settings.key_env`: Ok(None) when the variable is unset or empty (a
    /// build without the key, e.g. a pull request), an error when it is set but unusable.
    pub fn from_env(settings: &SigningSettings, root: &Path) -> Result<Option<Self>, String> {
        let Some(value) = std::env::var_os(&settings.key_env).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let var = &settings.key_env;
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

    fn sign(&self, msg: &[u8]) -> Result<String, String> {
        dilithium::sign(&self.secret, msg).map(|s| B64.encode(s))
    }

    /// Sign `entry` (its key and content hash) in place.
    pub fn sign_entry(&self, entry: &mut Entry) -> Result<(), String> {
        let sig = self.sign(&entry_message(&entry.manifest.key, &entry.content_hash()))?;
        entry.manifest.signature = Some(Signature {
            key_id: self.id.clone(),
            sig,
        });
        Ok(())
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
    /// Load `trusted_keys` (relative to `root`); each unreadable file is a warning.
    #[must_use]
    pub fn load(settings: &SigningSettings, root: &Path) -> (Self, Vec<String>) {
        let mut trusted = TrustedKeys::default();
        let mut warnings = Vec::new();
        for rel in &settings.trusted_keys {
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

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// Accept `entry`, read for `requested`, only with a valid signature by a trusted key over
    /// that very key and the entry's content. Err says why, in words.
    pub fn check_entry(&self, requested: &CacheKey, entry: &Entry) -> Result<(), String> {
        if !available() {
            return Err(dilithium_unavailable());
        }
        if entry.manifest.key != requested.hex() {
            return Err(format!(
                "it was made for key {}, not {}",
                short(&entry.manifest.key),
                short(&requested.hex())
            ));
        }
        let Some(sig) = &entry.manifest.signature else {
            return Err("it is unsigned".to_owned());
        };
        let Some((_, public)) = self.keys.get(&sig.key_id) else {
            return Err(format!(
                "it is signed by an unknown key {}",
                short(&sig.key_id)
            ));
        };
        let bytes = B64
            .decode(sig.sig.as_bytes())
            .map_err(|_| "its signature is not base64".to_owned())?;
        if dilithium::verify(
            public,
            &entry_message(&entry.manifest.key, &entry.content_hash()),
            &bytes,
        ) {
            Ok(())
        } else {
            Err(format!(
                "its signature by key {} does not match its content",
                short(&sig.key_id)
            ))
        }
    }

    /// Check a report signature; Ok names the key file that signed it.
    fn check_report(&self, report: &[u8], sig: &ReportSignature) -> Result<String, String> {
        if sig.format != REPORT_SIG_FORMAT || !sig.algorithm.eq_ignore_ascii_case("dilithium2") {
            return Err(format!(
                "unsupported signature format {} / {}",
                sig.format, sig.algorithm
            ));
        }
        let Some((label, public)) = self.keys.get(&sig.key_id) else {
            return Err(format!(
                "signed by key {}, which is not among trusted_keys",
                short(&sig.key_id)
            ));
        };
        let digest = blake3::hash(report);
        if hex(digest.as_bytes()) != sig.report_blake3 {
            return Err("the report was changed after it was signed".to_owned());
        }
        let bytes = B64
            .decode(sig.signature.as_bytes())
            .map_err(|_| "the signature is not base64".to_owned())?;
        if dilithium::verify(public, &report_message(digest.as_bytes()), &bytes) {
            Ok(label.clone())
        } else {
            Err(format!(
                "the signature by key {} does not match the report",
                short(&sig.key_id)
            ))
        }
    }
}

/// `<report>.sig`.
#[derive(Debug, Serialize, Deserialize)]
struct ReportSignature {
    format: String,
    algorithm: String,
    key_id: String,
    /// Hex BLAKE3 of the report file's bytes.
    report_blake3: String,
    /// Base64 Dilithium2 signature.
    signature: String,
}

fn entry_message(key_hex: &str, content_hash: &[u8; 32]) -> Vec<u8> {
    [ENTRY_DOMAIN, key_hex.as_bytes(), content_hash].concat()
}

fn report_message(digest: &[u8; 32]) -> Vec<u8> {
    [REPORT_DOMAIN, digest].concat()
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn dilithium_unavailable() -> String {
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

fn parse_public(text: &str) -> Result<Vec<u8>, String> {
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

/// `runner keygen --out PREFIX`.
pub fn keygen_command(out: &Path) -> i32 {
    match keygen(out) {
        Ok((key, public, id)) => {
            println!(
                "wrote {} (secret, mode 0600) and {}",
                key.display(),
                public.display()
            );
            println!("key id {id}");
            println!(
                "next: list {} under [settings.signing] trusted_keys, and give CI the secret key through \
                 the variable named by key_env (its path, or its content)",
                public.display()
            );
            exit_code::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_code::USAGE
        }
    }
}

/// Where a report's signature lives: `<report>.sig`.
#[must_use]
pub fn signature_path(report: &Path) -> PathBuf {
    let mut s = report.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Sign the bytes of a report file with `signer`; the text of `<report>.sig`.
fn sign_report(signer: &Signer, report: &[u8]) -> Result<String, String> {
    let digest = blake3::hash(report);
    let sig = ReportSignature {
        format: REPORT_SIG_FORMAT.to_owned(),
        algorithm: "dilithium2".to_owned(),
        key_id: signer.id.clone(),
        report_blake3: hex(digest.as_bytes()),
        signature: signer.sign(&report_message(digest.as_bytes()))?,
    };
    serde_json::to_string_pretty(&sig)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// `runner verify REPORT`: exit 0 when `<report>.sig` is a valid signature of the report by a
/// trusted key, 1 otherwise (missing, unknown key, changed report, no trusted keys).
pub fn verify_command(ws: &Workspace, report: &Path) -> i32 {
    match verify_report(&ws.config, report) {
        Ok(msg) => {
            println!("{msg}");
            exit_code::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e}", report.display());
            // SPEC 10: verify exits 0 or 1.
            exit_code::GATES_FAILED
        }
    }
}

fn verify_report(config: &Config, report: &Path) -> Result<String, String> {
    if !available() {
        return Err(dilithium_unavailable());
    }
    let Some(settings) = &config.settings.signing else {
        return Err(format!(
            "{} has no [settings.signing] trusted_keys to verify against",
            config.file_name
        ));
    };
    let (trusted, warnings) = TrustedKeys::load(settings, &config.root);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if trusted.is_empty() {
        return Err(
            "no trusted key could be loaded from [settings.signing] trusted_keys".to_owned(),
        );
    }
    let data = std::fs::read(report).map_err(|e| format!("cannot read the report: {e}"))?;
    let sig_path = signature_path(report);
    let sig_text = match std::fs::read_to_string(&sig_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "the report is not signed ({} is missing)",
                sig_path.display()
            ));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", sig_path.display())),
    };
    let sig: ReportSignature = serde_json::from_str(&sig_text).map_err(|e| {
        format!(
            "{} is not a runner report signature: {e}",
            sig_path.display()
        )
    })?;
    let signer = trusted.check_report(&data, &sig)?;
    Ok(format!(
        "ok: {} is signed by trusted key {signer} ({})",
        report.display(),
        short(&sig.key_id)
    ))
}

/// Sign the report at `path` when `[settings.signing]` and the key are present; a warning
/// when it could not be signed. Without the key (a pull-request build) nothing happens.
#[must_use]
pub fn sign_report_if_configured(config: &Config, path: &Path) -> Option<String> {
    let settings = config.settings.signing.as_ref()?;
    let signer = match Signer::from_env(settings, &config.root) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => return Some(format!("the report is not signed: {e}")),
    };
    let result = std::fs::read(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|data| sign_report(&signer, &data))
        .and_then(|text| {
            let sig = signature_path(path);
            crate::bincodec::write_atomic(&sig, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", sig.display()))
        });
    result
        .err()
        .map(|e| format!("the report is not signed: {e}"))
}

#[cfg(all(test, feature = "pqc"))]
mod tests {
    use super::*;
    use crate::cache::{FileRecord, Manifest};
    use crate::fingerprint::KeyMaterial;

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
                }],
                log_bytes: 0,
                material: KeyMaterial::default(),
                signature: None,
            },
            contents: vec![content],
            log: Vec::new(),
        }
    }

    fn pair(dir: &Path, name: &str) -> (Signer, Vec<u8>) {
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
    fn entry_signatures_bind_key_content_and_signer() {
        let dir = tempfile::tempdir().unwrap();
        let (ci, ci_pub) = pair(dir.path(), "ci");
        let (stranger, _) = pair(dir.path(), "stranger");
        let mut trusted = TrustedKeys::default();
        trusted.add("ci.pub", ci_pub);
        let key = CacheKey([1; 32]);

        let mut good = entry(&key);
        assert!(
            trusted
                .check_entry(&key, &good)
                .unwrap_err()
                .contains("unsigned")
        );
        ci.sign_entry(&mut good).unwrap();
        trusted.check_entry(&key, &good).unwrap();

        // Copied under another key: the manifest says the old key.
        assert!(
            trusted
                .check_entry(&CacheKey([2; 32]), &good)
                .unwrap_err()
                .contains("made for key")
        );
        // Re-labelled for the other key: the signature no longer matches.
        let mut relabelled = good.clone();
        relabelled.manifest.key = CacheKey([2; 32]).hex();
        assert!(
            trusted
                .check_entry(&CacheKey([2; 32]), &relabelled)
                .unwrap_err()
                .contains("does not match")
        );
        // Content changed after signing.
        let mut changed = good.clone();
        changed.contents[0] = b"poisoned".to_vec();
        changed.manifest.files[0].hash = hex(blake3::hash(b"poisoned").as_bytes());
        assert!(
            trusted
                .check_entry(&key, &changed)
                .unwrap_err()
                .contains("does not match")
        );
        // Signed by someone else.
        let mut foreign = entry(&key);
        stranger.sign_entry(&mut foreign).unwrap();
        assert!(
            trusted
                .check_entry(&key, &foreign)
                .unwrap_err()
                .contains("unknown key")
        );
    }

    #[test]
    fn report_signature_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (ci, ci_pub) = pair(dir.path(), "ci");
        let mut trusted = TrustedKeys::default();
        trusted.add("keys/ci.pub", ci_pub);
        let report = br#"{"version":1}"#;
        let sig: ReportSignature =
            serde_json::from_str(&sign_report(&ci, report).unwrap()).unwrap();
        assert_eq!(trusted.check_report(report, &sig).unwrap(), "keys/ci.pub");
        assert!(
            trusted
                .check_report(br#"{"version":2}"#, &sig)
                .unwrap_err()
                .contains("changed")
        );
        // An entry signature is not a report signature (domain separation).
        let mut e = entry(&CacheKey([3; 32]));
        ci.sign_entry(&mut e).unwrap();
        let forged = ReportSignature {
            signature: e.manifest.signature.unwrap().sig,
            ..sig
        };
        assert!(trusted.check_report(report, &forged).is_err());
    }
}
