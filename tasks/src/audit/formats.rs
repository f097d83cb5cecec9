//! The three audit input formats, how a file's format is decided, and how one entry of each
//! becomes a finding.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use super::fields::Entry;
use super::problem::Problem;
use super::report::{Finding, Source};
use super::severity::{Level, Severity, VerificationStatus, failure_mode_severity};
use super::summary::summary;

/// Which audit tool's format an input file is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Architecture review: `{finding_id, severity, gap_description, evidence, recommendation}`.
    StructuralGaps,
    /// Failure-mode analysis: `{failure_mode, likelihood, impact, mitigation, owner}`.
    FailureModes,
    /// Documentation fact check: `{claim, verification_status, sources, confidence}`.
    FactChecks,
}

/// Owner of a finding whose input names none.
const UNASSIGNED: &str = "unassigned";

impl Format {
    /// The name used in file names and in the report.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Format::StructuralGaps => "structural_gaps",
            Format::FailureModes => "failure_modes",
            Format::FactChecks => "fact_checks",
        }
    }

    /// The format named by the file name without its extension, if it is exactly one.
    #[must_use]
    pub fn from_file_name(path: &Path) -> Option<Self> {
        match path.file_stem()?.to_str()? {
            "structural_gaps" => Some(Format::StructuralGaps),
            "failure_modes" => Some(Format::FailureModes),
            "fact_checks" => Some(Format::FactChecks),
            _ => None,
        }
    }

    /// The format told by the keys of a file's first entry, checked in a fixed order.
    #[must_use]
    pub fn from_keys(first: &Map<String, Value>) -> Option<Self> {
        [
            ("finding_id", Format::StructuralGaps),
            ("failure_mode", Format::FailureModes),
            ("claim", Format::FactChecks),
        ]
        .into_iter()
        .find_map(|(key, format)| first.contains_key(key).then_some(format))
    }

    /// The input field a finding's id is read from; `None` for positional ids.
    #[must_use]
    pub(crate) fn id_field(self) -> Option<&'static str> {
        match self {
            Format::StructuralGaps => Some("finding_id"),
            Format::FailureModes | Format::FactChecks => None,
        }
    }

    /// Read one entry as this format. The id is known even when other fields have problems,
    /// so that duplicates are reported together with them; the finding only when the entry
    /// has no problem at all.
    pub(crate) fn read(self, entry: &mut Entry<'_>) -> (Option<String>, Option<Finding>) {
        let draft = match self {
            Format::StructuralGaps => structural_gap(entry),
            Format::FailureModes => failure_mode(entry),
            Format::FactChecks => fact_check(entry),
        };
        // Read even after a problem, so that all of them are reported.
        let eta_days = entry.optional_count("eta_days");
        let (id, fields) = match (draft.id, draft.fields) {
            (Some(id), Some(fields)) if entry.is_clean() => (id, fields),
            (id, _) => return (id, None),
        };
        let finding = Finding {
            id: id.clone(),
            severity: fields.severity,
            title: fields.title,
            evidence: fields.evidence,
            remediation: fields.remediation,
            owner: fields.owner,
            eta_days: eta_days.unwrap_or_else(|| fields.severity.default_eta_days()),
            source: Source {
                file: entry.file().to_owned(),
                format: self,
                index: entry.index(),
            },
        };
        (Some(id), Some(finding))
    }
}

/// What a format's own fields give, before the common optional fields.
struct Draft {
    id: Option<String>,
    fields: Option<Fields>,
}

struct Fields {
    severity: Severity,
    title: String,
    evidence: String,
    remediation: String,
    owner: String,
}

/// The optional `owner`, `"unassigned"` when absent. A bad owner also gives the default, but
/// marks the entry, so no finding is made from it.
fn optional_owner(entry: &mut Entry<'_>) -> String {
    entry
        .optional_text("owner")
        .unwrap_or_else(|| UNASSIGNED.to_owned())
}

/// `PREFIX-NNN` from a 0-based index: 1-based, at least three digits.
fn positional_id(prefix: &str, index: usize) -> String {
    format!("{prefix}-{:03}", index + 1)
}

/// Is `id` of the form `^[A-Za-z0-9][A-Za-z0-9._-]*$`?
fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn structural_gap(entry: &mut Entry<'_>) -> Draft {
    let id = entry.text("finding_id").and_then(|id| {
        if is_valid_id(&id) {
            Some(id)
        } else {
            entry.fail("finding_id", Problem::BadId(id));
            None
        }
    });
    let severity = entry.enumeration("severity", Severity::parse, Severity::ACCEPTED);
    let description = entry.text("gap_description");
    let evidence = entry.text("evidence");
    let remediation = entry.text("recommendation");
    let owner = optional_owner(entry);
    let fields = (|| {
        Some(Fields {
            severity: severity?,
            title: summary(&description?),
            evidence: evidence?,
            remediation: remediation?,
            owner,
        })
    })();
    Draft { id, fields }
}

fn failure_mode(entry: &mut Entry<'_>) -> Draft {
    let description = entry.text("failure_mode");
    let likelihood = entry.enumeration("likelihood", Level::parse, Level::ACCEPTED);
    let impact = entry.enumeration("impact", Level::parse, Level::ACCEPTED);
    let mitigation = entry.text("mitigation");
    let owner = entry.text("owner");
    let fields = (|| {
        let (likelihood, impact) = (likelihood?, impact?);
        let (score, severity) = failure_mode_severity(likelihood, impact);
        Some(Fields {
            severity,
            title: summary(&description?),
            evidence: format!(
                "likelihood={}, impact={}, score={score}",
                likelihood.as_str(),
                impact.as_str()
            ),
            remediation: mitigation?,
            owner: owner?,
        })
    })();
    Draft {
        id: Some(positional_id("FM", entry.index())),
        fields,
    }
}

fn fact_check(entry: &mut Entry<'_>) -> Draft {
    let claim = entry.text("claim");
    let status = entry.enumeration(
        "verification_status",
        VerificationStatus::parse,
        VerificationStatus::ACCEPTED,
    );
    let sources = entry.text_list("sources");
    let confidence = entry.fraction("confidence");
    let owner = optional_owner(entry);
    let fields = (|| {
        let (status, sources, confidence) = (status?, sources?, confidence?);
        let sources = if sources.is_empty() {
            "none".to_owned()
        } else {
            sources.join("; ")
        };
        Some(Fields {
            severity: status.severity(confidence),
            title: summary(&claim?),
            evidence: format!(
                "verification_status={}, confidence={}%; sources: {sources}",
                status.as_str(),
                percent(confidence)
            ),
            remediation: status.remediation().to_owned(),
            owner,
        })
    })();
    Draft {
        id: Some(positional_id("FC", entry.index())),
        fields,
    }
}

/// A confidence from 0 to 1 as a whole percentage, rounded half away from zero.
///
/// The rounding works on the number's shortest decimal form (what the input file most
/// likely wrote), so `0.285` gives 29 although the nearest double is a little below 0.285.
#[must_use]
fn percent(confidence: f64) -> u64 {
    // Display never uses an exponent and gives the shortest text that reads back the same.
    let text = format!("{}", confidence.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digit = |i: usize| {
        fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| u64::from(b - b'0'))
    };
    let whole: u64 = whole.parse().unwrap_or(0);
    let round_up = u64::from(digit(2) >= 5);
    whole * 100 + digit(0) * 10 + digit(1) + round_up
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::problem::InputError;

    #[test]
    fn format_from_file_name() {
        let cases = [
            (
                "samples/audit/structural_gaps.json",
                Some(Format::StructuralGaps),
            ),
            ("failure_modes.json", Some(Format::FailureModes)),
            ("x/fact_checks", Some(Format::FactChecks)),
            ("fact_checks.yaml", Some(Format::FactChecks)),
            ("Fact_Checks.json", None),
            ("fact_checks_2024.json", None),
            ("gaps.json", None),
        ];
        for (path, want) in cases {
            assert_eq!(Format::from_file_name(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn format_from_first_entry_keys_in_order() {
        let cases = [
            (r#"{"finding_id": 1}"#, Some(Format::StructuralGaps)),
            (r#"{"failure_mode": 1}"#, Some(Format::FailureModes)),
            (r#"{"claim": 1}"#, Some(Format::FactChecks)),
            (
                r#"{"claim": 1, "finding_id": 1}"#,
                Some(Format::StructuralGaps),
            ),
            (
                r#"{"claim": 1, "failure_mode": 1}"#,
                Some(Format::FailureModes),
            ),
            (r#"{"id": 1}"#, None),
        ];
        for (json, want) in cases {
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                Format::from_keys(value.as_object().unwrap()),
                want,
                "{json}"
            );
        }
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        let cases = [
            (0.0, 0),
            (1.0, 100),
            (0.98, 98),
            (0.7, 70),
            (0.65, 65),
            (0.285, 29),
            (0.284_999, 28),
            (0.005, 1),
            (0.004_9, 0),
            (0.995, 100),
            (0.125, 13),
            (0.57, 57),
        ];
        for (confidence, want) in cases {
            assert_eq!(percent(confidence), want, "{confidence}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(positional_id("FM", 0), "FM-001");
        assert_eq!(positional_id("FC", 41), "FC-042");
        assert_eq!(positional_id("FM", 998), "FM-999");
        assert_eq!(positional_id("FM", 999), "FM-1000");
        for (id, valid) in [
            ("SG-001", true),
            ("a", true),
            ("9.x_y-z", true),
            ("-x", false),
            ("SG 1", false),
            ("é", false),
        ] {
            assert_eq!(is_valid_id(id), valid, "{id}");
        }
    }

    /// Read `json` (one object) as `format` at index 2 of `f.json`.
    fn read(format: Format, json: &str) -> (Option<String>, Option<Finding>, Vec<String>) {
        let value: Value = serde_json::from_str(json).unwrap();
        let mut errors: Vec<InputError> = Vec::new();
        let mut entry = Entry::new("f.json", 2, value.as_object().unwrap(), &mut errors);
        let (id, finding) = format.read(&mut entry);
        (
            id,
            finding,
            errors.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn structural_gap_entry() {
        let (id, finding, errors) = read(
            Format::StructuralGaps,
            r#"{"finding_id": " SG-9 ", "severity": "Informational", "gap_description": "Gap. More.",
                "evidence": "e", "recommendation": "r", "extra": 1}"#,
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(id.as_deref(), Some("SG-9"));
        let f = finding.unwrap();
        assert_eq!(
            (f.id.as_str(), f.severity, f.title.as_str()),
            ("SG-9", Severity::Info, "Gap")
        );
        assert_eq!(
            (
                f.evidence.as_str(),
                f.remediation.as_str(),
                f.owner.as_str(),
                f.eta_days
            ),
            ("e", "r", "unassigned", 180)
        );
        assert_eq!(
            (f.source.file.as_str(), f.source.format, f.source.index),
            ("f.json", Format::StructuralGaps, 2)
        );
    }

    #[test]
    fn failure_mode_entry() {
        let (id, finding, errors) = read(
            Format::FailureModes,
            r#"{"failure_mode": "It breaks", "likelihood": "High", "impact": "high", "mitigation": "m",
                "owner": "ops", "eta_days": 3}"#,
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(id.as_deref(), Some("FM-003"));
        let f = finding.unwrap();
        assert_eq!(
            (f.severity, f.evidence.as_str()),
            (Severity::Critical, "likelihood=high, impact=high, score=9")
        );
        assert_eq!(
            (f.owner.as_str(), f.eta_days, f.remediation.as_str()),
            ("ops", 3, "m")
        );
    }

    #[test]
    fn fact_check_entry() {
        let (id, finding, errors) = read(
            Format::FactChecks,
            r#"{"claim": "X is Y.", "verification_status": "Partially verified", "sources": [],
                "confidence": 0.3, "owner": "docs"}"#,
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(id.as_deref(), Some("FC-003"));
        let f = finding.unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.title, "X is Y");
        assert_eq!(
            f.evidence,
            "verification_status=partially_verified, confidence=30%; sources: none"
        );
        assert_eq!(
            f.remediation,
            "Verify the remaining parts of the claim or narrow it to what is verified."
        );
        assert_eq!((f.owner.as_str(), f.eta_days), ("docs", 30));
    }

    #[test]
    fn every_problem_of_an_entry_is_reported() {
        let cases: &[(Format, &str, Option<&str>, &[&str])] = &[
            (
                Format::StructuralGaps,
                r#"{"finding_id": "-bad", "severity": "urgent", "evidence": "", "recommendation": 1, "eta_days": 7.0}"#,
                None,
                &[
                    "f.json: [2].finding_id: `-bad` is not a valid id: it must match ^[A-Za-z0-9][A-Za-z0-9._-]*$",
                    "f.json: [2].severity: unknown value `urgent`; expected one of critical, high, medium, low, info (aliases: moderate for medium, informational for info)",
                    "f.json: [2].gap_description: required field is missing",
                    "f.json: [2].evidence: must not be empty",
                    "f.json: [2].recommendation: expected a string, found a number",
                    "f.json: [2].eta_days: must be a non-negative integer such as 7, found 7.0",
                ],
            ),
            (
                // The id is known despite the other problems.
                Format::StructuralGaps,
                r#"{"finding_id": "SG-1", "severity": "high"}"#,
                Some("SG-1"),
                &[
                    "f.json: [2].gap_description: required field is missing",
                    "f.json: [2].evidence: required field is missing",
                    "f.json: [2].recommendation: required field is missing",
                ],
            ),
            (
                Format::FailureModes,
                r#"{"failure_mode": "x", "likelihood": "rare", "impact": "low", "mitigation": "m"}"#,
                Some("FM-003"),
                &[
                    "f.json: [2].likelihood: unknown value `rare`; expected one of low, medium, high",
                    "f.json: [2].owner: required field is missing",
                ],
            ),
            (
                Format::FactChecks,
                r#"{"claim": "c", "verification_status": "true", "sources": ["a", null], "confidence": 1.5, "owner": null}"#,
                Some("FC-003"),
                &[
                    "f.json: [2].verification_status: unknown value `true`; expected one of verified, partially_verified, unverified, disputed, refuted",
                    "f.json: [2].sources[1]: expected a string, found null",
                    "f.json: [2].confidence: must be a number from 0 to 1, found 1.5",
                    "f.json: [2].owner: expected a string, found null",
                ],
            ),
        ];
        for (format, json, want_id, want_errors) in cases {
            let (id, finding, errors) = read(*format, json);
            assert_eq!(errors, *want_errors, "{json}");
            assert_eq!(id.as_deref(), *want_id, "{json}");
            assert!(finding.is_none(), "{json}");
        }
    }
}
