//! The audit report (`schemas/audit_report.schema.json`, version 1): the public model and
//! how it is assembled from the findings of every input.

use serde::Serialize;

use super::formats::Format;
use super::severity::Severity;

/// Version of the report format.
pub const AUDIT_REPORT_VERSION: u32 = 1;

/// `audit_report.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// [`AUDIT_REPORT_VERSION`].
    pub version: u32,
    /// RFC 3339 UTC; only when the clock is fixed, so that the same inputs give the same bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// Every input file, in command-line order.
    pub inputs: Vec<InputSummary>,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// Findings per severity.
    pub counts: Counts,
}

/// One input file: the format it was read as and how many findings it gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputSummary {
    /// The file exactly as given on the command line.
    pub file: String,
    /// The format it was read as.
    pub format: Format,
    /// How many entries (and so findings) it has.
    pub findings: usize,
}

/// One normalized finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Unique across the report: the structural gap's own id, else `FM-NNN` or `FC-NNN`.
    pub id: String,
    /// On the report's one scale.
    pub severity: Severity,
    /// One line, at most 100 characters.
    pub title: String,
    /// What shows the finding.
    pub evidence: String,
    /// What to do about it.
    pub remediation: String,
    /// Who owns it; `unassigned` when the input names nobody.
    pub owner: String,
    /// Days until the remediation is due.
    pub eta_days: u64,
    /// Where it came from.
    pub source: Source,
}

/// Where a finding came from in the raw tool output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The input file exactly as given on the command line.
    pub file: String,
    /// The format the file was read as.
    pub format: Format,
    /// 0-based position in the file's top-level array.
    pub index: usize,
}

/// Findings per severity; all five keys are always present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Critical findings.
    pub critical: usize,
    /// High findings.
    pub high: usize,
    /// Medium findings.
    pub medium: usize,
    /// Low findings.
    pub low: usize,
    /// Informational findings.
    pub info: usize,
    /// All findings.
    pub total: usize,
}

impl Counts {
    /// Count `findings` by severity.
    #[must_use]
    pub fn of(findings: &[Finding]) -> Self {
        let mut counts = Counts {
            total: findings.len(),
            ..Counts::default()
        };
        for finding in findings {
            *match finding.severity {
                Severity::Critical => &mut counts.critical,
                Severity::High => &mut counts.high,
                Severity::Medium => &mut counts.medium,
                Severity::Low => &mut counts.low,
                Severity::Info => &mut counts.info,
            } += 1;
        }
        counts
    }
}

impl AuditReport {
    /// The report of `findings` (in input order: files in command-line order, then array
    /// position), sorted by severity; the sort is stable, so equal severities keep that order.
    #[must_use]
    pub fn new(
        inputs: Vec<InputSummary>,
        mut findings: Vec<Finding>,
        generated_at: Option<String>,
    ) -> Self {
        findings.sort_by_key(|f| f.severity);
        let counts = Counts::of(&findings);
        AuditReport {
            version: AUDIT_REPORT_VERSION,
            generated_at,
            inputs,
            findings,
            counts,
        }
    }

    /// Pretty JSON with a final newline, as written to disk.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and integers cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: Severity, index: usize) -> Finding {
        Finding {
            id: id.to_owned(),
            severity,
            title: "t".into(),
            evidence: "e".into(),
            remediation: "r".into(),
            owner: "o".into(),
            eta_days: severity.default_eta_days(),
            source: Source {
                file: "f.json".into(),
                format: Format::StructuralGaps,
                index,
            },
        }
    }

    #[test]
    fn sorted_by_severity_stably_with_counts() {
        use Severity::{Critical, High, Info, Low};
        let findings = vec![
            finding("a", Low, 0),
            finding("b", Critical, 1),
            finding("c", Info, 2),
            finding("d", Low, 3),
            finding("e", High, 4),
            finding("f", Critical, 5),
        ];
        let report = AuditReport::new(Vec::new(), findings, None);
        let order: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(order, ["b", "f", "e", "a", "d", "c"]);
        assert_eq!(
            report.counts,
            Counts {
                critical: 2,
                high: 1,
                medium: 0,
                low: 2,
                info: 1,
                total: 6
            }
        );
    }

    #[test]
    fn json_shape() {
        let inputs = vec![InputSummary {
            file: "x/fact_checks.json".into(),
            format: Format::FactChecks,
            findings: 0,
        }];
        let report = AuditReport::new(inputs, Vec::new(), None);
        let text = report.to_json();
        assert!(text.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "version": 1,
                "inputs": [{"file": "x/fact_checks.json", "format": "fact_checks", "findings": 0}],
                "findings": [],
                "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0, "total": 0}
            })
        );
        let dated = AuditReport::new(Vec::new(), Vec::new(), Some("2026-11-24T10:00:00Z".into()));
        let value: serde_json::Value = serde_json::from_str(&dated.to_json()).unwrap();
        assert_eq!(value["generated_at"], "2026-11-24T10:00:00Z");
    }

    #[test]
    fn finding_serializes_every_field() {
        let value = serde_json::to_value(finding("SG-1", Severity::Medium, 3)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "id": "SG-1", "severity": "medium", "title": "t", "evidence": "e", "remediation": "r",
                "owner": "o", "eta_days": 30,
                "source": {"file": "f.json", "format": "structural_gaps", "index": 3}
            })
        );
    }
}
