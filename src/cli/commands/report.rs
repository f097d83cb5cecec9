//! `runner report merge A.json B.json ... --out merged.json` and `runner report html`.

use std::path::{Path, PathBuf};

use crate::cli::error::{CmdResult, Done, Error};
use time::OffsetDateTime;

use crate::history::History;
use crate::report::{json, merge};
use crate::workspace::Workspace;

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

/// `runner report html [--report PATH] [--out FILE]`: the page of a JSON report (the last run's
/// by default), with the config's needs and the history's graduation progress around it.
pub(super) fn html(
    ws: &Workspace,
    report: Option<PathBuf>,
    out: Option<PathBuf>,
    now: Option<OffsetDateTime>,
) -> CmdResult {
    let dir = &ws.config.settings.cache_dir;
    let report_path = report.unwrap_or_else(|| dir.join("report.json"));
    let read = json::read(&report_path).map_err(|e| {
        Error::Usage(format!(
            "{e}\n  hint: `runner run` writes the report there; or name one with --report PATH"
        ))
    })?;
    let history = History::load(&ws.config.settings.history);
    let page = crate::page::render(&ws.config, &read, &history, super::clock(now));
    let out = out.unwrap_or_else(|| dir.join("report.html"));
    crate::bincodec::write_atomic_shared(&out, page.as_bytes())
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", out.display())))?;
    println!(
        "wrote {} ({} gates, {} KiB)",
        out.display(),
        read.gates.len(),
        page.len().div_ceil(1024)
    );
    Ok(Done::Success)
}
