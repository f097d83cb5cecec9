//! `audit-normalize`: the outputs of three audit tools (structural gaps,
//! failure modes, fact checks) normalized into one audit report (the
//! `audit-report` gate's artifact). Formerly `runner audit normalize`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use runner_tasks::args::{Parsed, argv};
use runner_tasks::audit::{EXIT_SUCCESS, normalize_command};
use runner_tasks::{Args, Opt};

const PROGRAM: &str = "audit-normalize";

const USAGE: &str = "\
audit-normalize: normalize structural-gap, failure-mode and fact-check outputs
into one audit report (schemas/audit_report.schema.json)

Usage: audit-normalize FILE... [--out PATH]

Arguments:
  FILE...     audit tool outputs, each a JSON array of entries; the format is
              the file name (structural_gaps, failure_modes, fact_checks),
              else the keys of the first entry (samples/audit/README.md)

Options:
  --out PATH  where to write the report (atomically) [default: audit_report.json]
  -h, --help  print this help

Environment:
  RUNNER_NOW  an RFC 3339 time: adds generated_at (in UTC) to the report;
              without it the same inputs give the same bytes

Exit codes: 0 report written; 1 the report cannot be written;
            2 usage error or problems in the inputs (every one listed,
            no report written).
";

const OPTIONS: &[Opt] = &[Opt::operands("FILE"), Opt::value("out")];

const DEFAULT_OUT: &str = "audit_report.json";

fn main() -> ExitCode {
    let parsed = match argv().and_then(|argv| Args::parse(argv, OPTIONS)) {
        Ok(parsed) => parsed,
        Err(failure) => return failure.report(PROGRAM),
    };
    match parsed {
        Parsed::Help => {
            print!("{USAGE}");
            ExitCode::from(EXIT_SUCCESS)
        }
        Parsed::Run(args) => {
            let files: Vec<PathBuf> = args.operands().iter().map(PathBuf::from).collect();
            let out = Path::new(args.value("out").unwrap_or(DEFAULT_OUT));
            ExitCode::from(normalize_command(&files, out))
        }
    }
}
