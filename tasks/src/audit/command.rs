//! `audit-normalize FILE... --out PATH`: read every input, report every problem, and write the
//! audit report only when there is none.
//!
//! Ported from `runner audit normalize`: the same messages (on stderr, without a program
//! prefix), the same report bytes and the same exit codes.

use std::env::VarError;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::normalize::{Input, normalize};
use super::report::AuditReport;
use crate::atomic_write::write_atomic_io;
use crate::failure::{EXIT_RUNTIME, EXIT_USAGE};

/// Exit code when the report was written.
pub const EXIT_SUCCESS: u8 = 0;

/// Exit code when the report cannot be written (the inputs were fine).
const WRITE_FAILED: u8 = EXIT_RUNTIME;

/// The environment variable that fixes the clock (RFC 3339).
pub const CLOCK_VAR: &str = "RUNNER_NOW";

/// Normalize the audit outputs `files` into one report at `out`. Exit 2 for any problem with
/// the inputs (all listed, no report written), 1 when the report cannot be written, else 0.
///
/// The clock is read from [`CLOCK_VAR`] in the process environment.
#[must_use]
pub fn normalize_command(files: &[PathBuf], out: &Path) -> u8 {
    if files.is_empty() {
        eprintln!("error: no input files; usage: audit-normalize FILE... --out PATH");
        return EXIT_USAGE;
    }
    let inputs: Vec<Input> = files.iter().map(|path| Input::load(path)).collect();
    let normalized = normalize(&inputs);
    let clock = generated_at(std::env::var(CLOCK_VAR));
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
            return EXIT_USAGE;
        }
    };
    let generated_at = match clock {
        Ok(at) => at,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let report = AuditReport::new(summaries, findings, generated_at);
    if let Err(e) = write_atomic_io(out, report.to_json().as_bytes()) {
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
    EXIT_SUCCESS
}

/// `generated_at` from the value of [`CLOCK_VAR`]: only when the clock is fixed, as RFC 3339
/// in UTC; without it the same inputs give the same bytes.
fn generated_at(runner_now: Result<String, VarError>) -> Result<Option<String>, String> {
    match runner_now {
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err("RUNNER_NOW is not valid UTF-8".to_owned()),
        Ok(text) => {
            let now = fixed_now(&text)?;
            Ok(Some(rfc3339(now.to_offset(time::UtcOffset::UTC))))
        }
    }
}

/// The fixed clock `text` (RFC 3339). The message is the runner's own, which also names its
/// `--now` flag.
fn fixed_now(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        format!(
            "--now / RUNNER_NOW `{text}` is not an RFC 3339 time ({e}); write e.g. 2026-11-24T10:00:00Z"
        )
    })
}

/// RFC 3339 text of a time.
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (the variable's value, the `generated_at` or the start of the message).
    type ClockCase = (
        Result<String, VarError>,
        Result<Option<&'static str>, &'static str>,
    );

    #[test]
    fn clock_from_the_environment_value() {
        let cases: Vec<ClockCase> = vec![
            (Err(VarError::NotPresent), Ok(None)),
            (
                Ok("2026-11-24T12:00:00+02:00".into()),
                Ok(Some("2026-11-24T10:00:00Z")),
            ),
            (
                Ok("2026-11-24T10:00:00Z".into()),
                Ok(Some("2026-11-24T10:00:00Z")),
            ),
            (
                Ok("2026-11-24T10:00:00.25-01:30".into()),
                Ok(Some("2026-11-24T11:30:00.25Z")),
            ),
            (
                Ok("yesterday".into()),
                Err("--now / RUNNER_NOW `yesterday` is not an RFC 3339 time ("),
            ),
            (
                Ok(String::new()),
                Err("--now / RUNNER_NOW `` is not an RFC 3339 time ("),
            ),
            (
                Err(VarError::NotUnicode(std::ffi::OsString::from("x"))),
                Err("RUNNER_NOW is not valid UTF-8"),
            ),
        ];
        for (value, want) in cases {
            let shown = format!("{value:?}");
            match (generated_at(value), want) {
                (Ok(got), Ok(want)) => assert_eq!(got.as_deref(), want, "{shown}"),
                (Err(got), Err(want)) => {
                    assert!(got.starts_with(want), "{shown}: {got}");
                }
                (got, want) => panic!("{shown}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn bad_clock_names_the_fix() {
        let message = fixed_now("2026-11-24 10:00").unwrap_err();
        assert!(
            message.ends_with("; write e.g. 2026-11-24T10:00:00Z"),
            "{message}"
        );
    }
}
