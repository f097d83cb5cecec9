//! `runner report merge A.json B.json ... --out merged.json`.

use std::path::{Path, PathBuf};

use crate::cli::error::{CmdResult, Done, Error};
use crate::report::{json, merge};

/// Merge shard reports. Exits with the merged report's exit code (so a final CI job fails when
/// a shard's blocking gate failed); 2 when a report cannot be read or written.
pub(super) fn merge(reports: &[PathBuf], out: &Path) -> CmdResult {
    let mut read = Vec::with_capacity(reports.len());
    for path in reports {
        match json::read(path) {
            Ok(r) if r.version == 1 => read.push(r),
            Ok(r) => {
                return Err(Error::Usage(format!(
                    "{}: report version {} is not supported (expected 1)",
                    path.display(),
                    r.version
                )));
            }
            Err(e) => return Err(Error::Usage(e.to_string())),
        }
    }
    let merged =
        merge::merge(&read).ok_or_else(|| Error::Usage("no reports to merge".to_owned()))?;
    json::write(&merged, out)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", out.display())))?;
    println!(
        "merged {} reports: {} gates: {} -> exit {}",
        read.len(),
        merged.gates.len(),
        merged.summary,
        merged.exit_code
    );
    Ok(Done::Run(merged.exit_code))
}
