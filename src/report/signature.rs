//! The run report's signature, `<report>.sig` (SPEC 10): made at the end of a run when the
//! signing key is present, checked by `runner verify`. The message is the BLAKE3 of the
//! report file's bytes, signed under the report domain.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::signing::{Signature, Signer, TrustedKeys, short};
use crate::vocab::hex;

/// The domain of report signatures: an entry signature can never pass for one.
const SIGNING_DOMAIN: &[u8] = b"runner-report-signature-v1";
const FORMAT: &str = "runner-report-signature-v1";

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

/// Where a report's signature lives: `<report>.sig`.
#[must_use]
pub fn signature_path(report: &Path) -> PathBuf {
    let mut s = report.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Sign the bytes of a report file with `signer`; the text of `<report>.sig`.
fn sign(signer: &Signer, report: &[u8]) -> Result<String, String> {
    let digest = blake3::hash(report);
    let signature = signer.sign(SIGNING_DOMAIN, digest.as_bytes())?;
    let sig = ReportSignature {
        format: FORMAT.to_owned(),
        algorithm: "dilithium2".to_owned(),
        key_id: signature.key_id,
        report_blake3: hex(digest.as_bytes()),
        signature: signature.sig,
    };
    serde_json::to_string_pretty(&sig)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// Check a report signature; Ok names the key file that signed it.
fn check(trusted: &TrustedKeys, report: &[u8], sig: &ReportSignature) -> Result<String, String> {
    if sig.format != FORMAT || !sig.algorithm.eq_ignore_ascii_case("dilithium2") {
        return Err(format!(
            "unsupported signature format {} / {}",
            sig.format, sig.algorithm
        ));
    }
    if !trusted.contains(&sig.key_id) {
        return Err(format!(
            "signed by key {}, which is not among trusted_keys",
            short(&sig.key_id)
        ));
    }
    let digest = blake3::hash(report);
    if hex(digest.as_bytes()) != sig.report_blake3 {
        return Err("the report was changed after it was signed".to_owned());
    }
    let signature = Signature {
        key_id: sig.key_id.clone(),
        sig: sig.signature.clone(),
    };
    trusted
        .verify(SIGNING_DOMAIN, digest.as_bytes(), &signature)
        .map(str::to_owned)
        .map_err(|_| {
            format!(
                "the signature by key {} does not match the report",
                short(&sig.key_id)
            )
        })
}

/// The result of checking a report: warnings about the trusted keys, then the verdict (Ok: a
/// sentence naming the signer; Err: why it is not trusted).
pub struct Verification {
    /// Trusted keys that could not be loaded, and why.
    pub warnings: Vec<String>,
    /// Ok: a sentence naming the signer; Err: why the report is not trusted.
    pub verdict: Result<String, String>,
}

/// Check `<report>.sig` against the config's trusted keys.
#[must_use]
pub fn verify(config: &Config, report: &Path) -> Verification {
    let mut warnings = Vec::new();
    let verdict = verify_inner(config, report, &mut warnings);
    Verification { warnings, verdict }
}

fn verify_inner(
    config: &Config,
    report: &Path,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
    if !crate::signing::available() {
        return Err(crate::signing::dilithium_unavailable());
    }
    let Some(settings) = &config.settings.signing else {
        return Err(format!(
            "{} has no [settings.signing] trusted_keys to verify against",
            config.file_name
        ));
    };
    let (trusted, load_warnings) = TrustedKeys::load(&settings.trusted_keys, &config.root);
    warnings.extend(load_warnings);
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
    let signer = check(&trusted, &data, &sig)?;
    Ok(format!(
        "ok: {} is signed by trusted key {signer} ({})",
        report.display(),
        short(&sig.key_id)
    ))
}

/// Sign the report at `path` when `[settings.signing]` and the key are present; a warning
/// when it could not be signed. Without the key (a pull-request build) nothing happens.
#[must_use]
pub fn sign_if_configured(config: &Config, path: &Path) -> Option<String> {
    let settings = config.settings.signing.as_ref()?;
    let signer = match Signer::from_env(&settings.key_env, &config.root) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => return Some(format!("the report is not signed: {e}")),
    };
    let result = std::fs::read(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|data| sign(&signer, &data))
        .and_then(|text| {
            let sig = signature_path(path);
            crate::bincodec::write_atomic_shared(&sig, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", sig.display()))
        });
    result
        .err()
        .map(|e| format!("the report is not signed: {e}"))
}

#[cfg(all(test, feature = "pqc"))]
mod tests {
    use super::*;
    use crate::signing::tests::pair;

    #[test]
    fn report_signature_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (ci, ci_pub) = pair(dir.path(), "ci");
        let mut trusted = TrustedKeys::default();
        trusted.add("keys/ci.pub", ci_pub);
        let report = br#"{"version":1}"#;
        let sig: ReportSignature = serde_json::from_str(&sign(&ci, report).unwrap()).unwrap();
        assert_eq!(check(&trusted, report, &sig).unwrap(), "keys/ci.pub");
        assert!(
            check(&trusted, br#"{"version":2}"#, &sig)
                .unwrap_err()
                .contains("changed")
        );
        // An entry signature is not a report signature (domain separation).
        let entry_sig = ci
            .sign(
                b"runner-entry-signature-v1",
                &[b"k".as_slice(), &[0; 32]].concat(),
            )
            .unwrap();
        let forged = ReportSignature {
            signature: entry_sig.sig,
            ..sig
        };
        assert!(check(&trusted, report, &forged).is_err());
    }
}
