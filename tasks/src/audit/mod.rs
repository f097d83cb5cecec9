//! `audit-normalize` (formerly `runner audit normalize`): the outputs of three audit tools
//! (structural gaps, failure modes, fact checks) mapped onto one report with one severity scale
//! (`samples/audit/README.md`).

mod command;
mod fields;
mod formats;
mod normalize;
mod problem;
mod report;
mod severity;
mod summary;

pub use command::{CLOCK_VAR, EXIT_SUCCESS, normalize_command};
pub use formats::Format;
pub use problem::{InputError, Problem};
pub use report::{AUDIT_REPORT_VERSION, AuditReport, Counts, Finding, InputSummary, Source};
pub use severity::Severity;
