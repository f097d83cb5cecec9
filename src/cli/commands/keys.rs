//! `runner keygen --out PREFIX` and `runner verify REPORT`.

use std::path::Path;

use crate::cli::error::{CmdResult, Done, Error};
use crate::workspace::Workspace;

/// Write a Dilithium2 key pair.
pub(super) fn keygen(out: &Path) -> CmdResult {
    let (key, public, id) = crate::signing::keygen(out).map_err(Error::Usage)?;
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
    Ok(Done::Success)
}

/// Exit 0 when `<report>.sig` is a valid signature of the report by a trusted key, 1 otherwise
/// (missing, unknown key, changed report, no trusted keys): SPEC 10.
pub(super) fn verify(ws: &Workspace, report: &Path) -> CmdResult {
    let v = crate::report::signature::verify(&ws.config, report);
    for w in &v.warnings {
        eprintln!("warning: {w}");
    }
    match v.verdict {
        Ok(msg) => {
            println!("{msg}");
            Ok(Done::Success)
        }
        Err(e) => Err(Error::CheckFailed(format!("{}: {e}", report.display()))),
    }
}
