//! `runner audit normalize FILE... --out PATH`: read every input, report every problem, and
//! write the audit report only when there is none.

use std::path::{Path, PathBuf};

use super::normalize::{Input, normalize};
use super::report::AuditReport;
use crate::vocab::exit_code;

/// Exit code when the report cannot be written (the inputs were fine).
const WRITE_FAILED: i32 = exit_code::GATES_FAILED;

/// Normalize the audit outputs `files` into one report at `out`. Exit 2 for any problem with
/// the inputs (all listed, no report written), 1 when the report cannot be written, else 0.
#[must_use]
pub fn normalize_command(files: &[PathBuf], out: &Path) -> i32 {
    if files.is_empty() {
        eprintln!("error: no input files; usage: runner audit normalize FILE... --out PATH");
        return exit_code::USAGE;
    }
    let inputs: Vec<Input> = files.iter().map(|path| Input::load(path)).collect();
    let normalized = normalize(&inputs);
    let clock = generated_at();
    let (summaries, findings) = match normalized {
        Ok(parts) => parts,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            if let Err(e) = &clock {
                eprintln!("error: {e}");
            }
            let n = errors.len();
            eprintln!(
                "error: {n} problem{} in the audit inputs; no report written",
                if n == 1 { "" } else { "s" }
            );
            return exit_code::USAGE;
        }
    };
    let generated_at = match clock {
        Ok(at) => at,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let report = AuditReport::new(summaries, findings, generated_at);
    if let Err(e) = crate::bincodec::write_atomic(out, report.to_json().as_bytes()) {
        eprintln!(
            "error: cannot write the audit report {}: {e}",
            out.display()
        );
        return WRITE_FAILED;
    }
    let c = report.counts;
    println!(
        "wrote {}: {} findings ({} critical, {} high, {} medium, {} low, {} info)",
        out.display(),
        c.total,
        c.critical,
        c.high,
        c.medium,
        c.low,
        c.info
    );
    exit_code::SUCCESS
}

/// `generated_at`: only when the clock is fixed by `RUNNER_NOW`, as RFC 3339 in UTC; without
/// it the same inputs give the same bytes.
fn generated_at() -> Result<Option<String>, String> {
    match std::env::var("RUNNER_NOW") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err("RUNNER_NOW is not valid UTF-8".to_owned()),
        Ok(text) => {
            let now = crate::vocab::clock::now(None, Some(&text))?;
            Ok(Some(crate::vocab::clock::rfc3339(
                now.to_offset(time::UtcOffset::UTC),
            )))
        }
    }
}
