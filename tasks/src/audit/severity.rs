//! The report's one severity scale, and the input scales (likelihood and impact levels,
//! verification statuses) that map onto it.

use serde::Serialize;

/// Normalize an enum text before matching: trim, ASCII lower-case, and every space and
/// hyphen becomes `_` (`" Partially verified"` → `partially_verified`).
#[must_use]
pub(crate) fn normalize_enum(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Normalized severity, from most to least urgent; the derived order is the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Due in a day by default.
    Critical,
    /// Due in a week by default.
    High,
    /// Due in 30 days by default.
    Medium,
    /// Due in 90 days by default.
    Low,
    /// Due in 180 days by default.
    Info,
}

impl Severity {
    /// Every severity, most urgent first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The accepted values of a structural gap's `severity`, for error messages.
    pub(crate) const ACCEPTED: &'static str =
        "critical, high, medium, low, info (aliases: moderate for medium, informational for info)";

    /// A structural gap's severity from its normalized text, with the two aliases.
    #[must_use]
    pub(crate) fn parse(normalized: &str) -> Option<Self> {
        Some(match normalized {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" => Severity::Low,
            "info" | "informational" => Severity::Info,
            _ => return None,
        })
    }

    /// The name written in the report.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Days until the remediation is due when the input gives no `eta_days`.
    #[must_use]
    pub fn default_eta_days(self) -> u64 {
        match self {
            Severity::Critical => 1,
            Severity::High => 7,
            Severity::Medium => 30,
            Severity::Low => 90,
            Severity::Info => 180,
        }
    }
}

/// A failure mode's likelihood or impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub(crate) const ACCEPTED: &'static str = "low, medium, high";

    #[must_use]
    pub(crate) fn parse(normalized: &str) -> Option<Self> {
        Some(match normalized {
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            _ => return None,
        })
    }

    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    fn weight(self) -> u8 {
        match self {
            Level::Low => 1,
            Level::Medium => 2,
            Level::High => 3,
        }
    }
}

/// A failure mode's score (likelihood × impact, 1 to 9) and the severity it gives.
#[must_use]
pub(crate) fn failure_mode_severity(likelihood: Level, impact: Level) -> (u8, Severity) {
    let score = likelihood.weight() * impact.weight();
    let severity = match score {
        9 => Severity::Critical,
        6 => Severity::High,
        3 | 4 => Severity::Medium,
        2 => Severity::Low,
        // Only 1 is left: the product of two weights in 1..=3 is one of 1, 2, 3, 4, 6, 9.
        _ => Severity::Info,
    };
    (score, severity)
}

/// A fact check's verdict on a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerificationStatus {
    Verified,
    PartiallyVerified,
    Unverified,
    Disputed,
    Refuted,
}

impl VerificationStatus {
    pub(crate) const ACCEPTED: &'static str =
        "verified, partially_verified, unverified, disputed, refuted";

    #[must_use]
    pub(crate) fn parse(normalized: &str) -> Option<Self> {
        Some(match normalized {
            "verified" => VerificationStatus::Verified,
            "partially_verified" => VerificationStatus::PartiallyVerified,
            "unverified" => VerificationStatus::Unverified,
            "disputed" => VerificationStatus::Disputed,
            "refuted" => VerificationStatus::Refuted,
            _ => return None,
        })
    }

    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Verified => "verified",
            VerificationStatus::PartiallyVerified => "partially_verified",
            VerificationStatus::Unverified => "unverified",
            VerificationStatus::Disputed => "disputed",
            VerificationStatus::Refuted => "refuted",
        }
    }

    /// Severity from the status and the checker's confidence in it (0 to 1): the higher the
    /// confidence in a bad verdict, the more urgent.
    #[must_use]
    pub(crate) fn severity(self, confidence: f64) -> Severity {
        use Severity::{Critical, High, Info, Low, Medium};
        // Columns: confidence >= 0.8, 0.5 <= confidence < 0.8, confidence < 0.5.
        let row = match self {
            VerificationStatus::Verified => [Info, Info, Low],
            VerificationStatus::PartiallyVerified => [Low, Low, Medium],
            VerificationStatus::Unverified => [Medium, Medium, Medium],
            VerificationStatus::Disputed => [High, High, Medium],
            VerificationStatus::Refuted => [Critical, High, High],
        };
        let column = if confidence >= 0.8 {
            0
        } else if confidence >= 0.5 {
            1
        } else {
            2
        };
        row[column]
    }

    /// The remediation text for a claim with this status.
    #[must_use]
    pub(crate) fn remediation(self) -> &'static str {
        match self {
            VerificationStatus::Verified => "No action: the claim is verified.",
            VerificationStatus::PartiallyVerified => {
                "Verify the remaining parts of the claim or narrow it to what is verified."
            }
            VerificationStatus::Unverified => "Find a primary source for the claim or remove it.",
            VerificationStatus::Disputed => {
                "Resolve the dispute with the owners of the cited sources and correct the claim."
            }
            VerificationStatus::Refuted => "Correct or retract the claim.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::{Critical, High, Info, Low, Medium};

    #[test]
    fn enum_texts_are_normalized() {
        let cases = [
            ("Medium", "medium"),
            (" medium ", "medium"),
            ("MEDIUM", "medium"),
            ("Partially verified", "partially_verified"),
            ("partially-verified", "partially_verified"),
            ("\tPartially  Verified\n", "partially__verified"),
            // Only ASCII letters are lower-cased.
            ("ÉLEVÉ", "ÉlevÉ"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_enum(input), want, "{input:?}");
        }
    }

    #[test]
    fn structural_gap_severities_and_aliases() {
        let cases = [
            ("critical", Some(Critical)),
            ("high", Some(High)),
            ("medium", Some(Medium)),
            ("moderate", Some(Medium)),
            ("low", Some(Low)),
            ("info", Some(Info)),
            ("informational", Some(Info)),
            ("urgent", None),
            ("minor", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(Severity::parse(text), want, "{text}");
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn eta_defaults_by_severity() {
        let want = [
            (Critical, 1),
            (High, 7),
            (Medium, 30),
            (Low, 90),
            (Info, 180),
        ];
        for (s, days) in want {
            assert_eq!(s.default_eta_days(), days, "{s:?}");
        }
    }

    #[test]
    fn severities_sort_most_urgent_first() {
        let mut all = [Info, Low, Critical, Medium, High];
        all.sort();
        assert_eq!(all, Severity::ALL);
    }

    #[test]
    fn failure_mode_table() {
        use Level::{High as H, Low as L, Medium as M};
        let cases = [
            (L, L, 1, Info),
            (L, M, 2, Low),
            (L, H, 3, Medium),
            (M, L, 2, Low),
            (M, M, 4, Medium),
            (M, H, 6, High),
            (H, L, 3, Medium),
            (H, M, 6, High),
            (H, H, 9, Critical),
        ];
        for (likelihood, impact, score, severity) in cases {
            assert_eq!(
                failure_mode_severity(likelihood, impact),
                (score, severity),
                "{likelihood:?} x {impact:?}"
            );
        }
        for (text, want) in [
            ("low", Some(L)),
            ("medium", Some(M)),
            ("high", Some(H)),
            ("critical", None),
        ] {
            assert_eq!(Level::parse(text), want, "{text}");
        }
    }

    #[test]
    fn fact_check_table_with_boundaries() {
        use VerificationStatus::{Disputed, PartiallyVerified, Refuted, Unverified, Verified};
        // Confidences probing each column and both boundaries.
        let columns = [1.0, 0.8, 0.799_999, 0.5, 0.499_999, 0.0];
        let cases = [
            (Verified, [Info, Info, Info, Info, Low, Low]),
            (PartiallyVerified, [Low, Low, Low, Low, Medium, Medium]),
            (Unverified, [Medium; 6]),
            (Disputed, [High, High, High, High, Medium, Medium]),
            (Refuted, [Critical, Critical, High, High, High, High]),
        ];
        for (status, want) in cases {
            for (confidence, severity) in columns.iter().zip(want) {
                assert_eq!(
                    status.severity(*confidence),
                    severity,
                    "{status:?} at {confidence}"
                );
            }
            assert_eq!(VerificationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(VerificationStatus::parse("false"), None);
    }
}
