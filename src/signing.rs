//! Dilithium2 signing of cache entries and reports (SPEC 10). Being built.

use crate::run::Workspace;

/// `runner keygen --out PREFIX`.
pub fn keygen_command(_out: &std::path::Path) -> i32 {
    eprintln!("error: `runner keygen` is not available in this build yet");
    crate::exit_code::USAGE
}

/// `runner verify REPORT`.
pub fn verify_command(_ws: &Workspace, _report: &std::path::Path) -> i32 {
    eprintln!("error: `runner verify` is not available in this build yet");
    crate::exit_code::USAGE
}

/// Sign the report at `path` when `[settings.signing]` and the key are present; a warning
/// when it could not be signed.
#[must_use]
pub fn sign_report_if_configured(_config: &crate::config::Config, _path: &std::path::Path) -> Option<String> {
    None
}
