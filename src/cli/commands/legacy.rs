//! `runner audit normalize` and `runner pqc-bench`, until the suite's own programs replace them.

use std::path::{Path, PathBuf};

use crate::cli::error::{CmdResult, Done, Error};

pub fn audit_normalize(files: &[PathBuf], out: &Path) -> CmdResult {
    match crate::audit::normalize_command(files, out) {
        0 => Ok(Done::Success),
        code => Ok(Done::Run(code)),
    }
}

pub fn pqc_bench(json: bool, iterations: u32, message_bytes: usize) -> CmdResult {
    let artifact = crate::kinds::pqc::bench(iterations.max(1), message_bytes)
        .map_err(|e| Error::CheckFailed(e.to_string()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&artifact).unwrap_or_default()
        );
    } else {
        for key in [
            "keygen_ms",
            "sign_p50_ms",
            "sign_p95_ms",
            "verify_p50_ms",
            "verify_p95_ms",
        ] {
            println!(
                "{key:<14} {}",
                artifact
                    .get(key)
                    .map_or_else(String::new, ToString::to_string)
            );
        }
    }
    Ok(Done::Success)
}
