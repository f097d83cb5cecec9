//! Labels a run asks CI to put on the pull request.

use std::fmt;

/// The prefix of every [`Label::SmokeFailed`] label, whatever its length (`report merge` and CI
/// steps recognise the labels by it).
pub const SMOKE_FAILED_PREFIX: &str = "smoke-failed:";

/// The prefix of every [`Label::Flaky`] label.
pub const FLAKY_PREFIX: &str = "flaky:";

/// The longest label GitHub accepts, in characters.
pub const MAX_LEN: usize = 50;

/// How many hex digits of the gate name's BLAKE3 end a shortened label.
const HASH_HEX: usize = 8;

/// A pull-request label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Label {
    /// An observational gate failed: `smoke-failed:<gate>`. When that is longer than
    /// [`MAX_LEN`] characters, the gate name is cut and the label ends in `-` and the first 8 hex
    /// digits of the BLAKE3 of the whole name: `smoke-failed:<first 28 characters>-<8 hex>`,
    /// exactly 50 characters, the same on every run, and different for two names that share
    /// their first 28 characters.
    SmokeFailed(String),
    /// A gate passed only on a retry (`retries`): `flaky:<gate>`, shortened like
    /// [`Label::SmokeFailed`] past [`MAX_LEN`] characters (`flaky:<first 35 characters>-<8 hex>`).
    Flaky(String),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, gate) = match self {
            Label::SmokeFailed(gate) => (SMOKE_FAILED_PREFIX, gate),
            Label::Flaky(gate) => (FLAKY_PREFIX, gate),
        };
        let room = MAX_LEN - prefix.len();
        if gate.chars().count() <= room {
            return write!(f, "{prefix}{gate}");
        }
        let kept: String = gate.chars().take(room - 1 - HASH_HEX).collect();
        let hash = blake3::hash(gate.as_bytes()).to_hex();
        let short = hash.get(..HASH_HEX).unwrap_or(hash.as_str());
        write!(f, "{prefix}{kept}-{short}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(gate: &str) -> String {
        Label::SmokeFailed(gate.to_owned()).to_string()
    }

    #[test]
    fn smoke_labels_fit_githubs_limit() {
        let name = |len: usize| "g".repeat(len - SMOKE_FAILED_PREFIX.len());
        let hash8 = |gate: &str| blake3::hash(gate.as_bytes()).to_hex()[..8].to_owned();
        // (label length if unshortened, expected label)
        let table: Vec<(usize, String)> = vec![
            (14, "smoke-failed:g".to_owned()),
            (49, format!("smoke-failed:{}", name(49))),
            (50, format!("smoke-failed:{}", name(50))),
            (
                51,
                format!("smoke-failed:{}-{}", "g".repeat(28), hash8(&name(51))),
            ),
            (
                200,
                format!("smoke-failed:{}-{}", "g".repeat(28), hash8(&name(200))),
            ),
        ];
        for (len, want) in table {
            let gate = name(len);
            let got = label(&gate);
            assert_eq!(got, want, "{len}");
            assert_eq!(got.chars().count(), len.min(MAX_LEN), "{len}: {got}");
            assert!(got.starts_with(SMOKE_FAILED_PREFIX), "{got}");
            assert_eq!(got, label(&gate), "deterministic");
        }
        assert_ne!(label(&name(51)), label(&name(200)));
    }

    #[test]
    fn long_names_with_a_common_prefix_get_different_labels() {
        let common = "integration-latency-benchmark-eu-west-1"; // 39 characters
        let common = format!("{common}x");
        assert_eq!(common.len(), 40);
        let (a, b) = (format!("{common}-staging"), format!("{common}-production"));
        let (la, lb) = (label(&a), label(&b));
        assert_ne!(la, lb);
        for l in [&la, &lb] {
            assert_eq!(l.chars().count(), MAX_LEN, "{l}");
            assert!(
                l.starts_with("smoke-failed:integration-latency-benchm"),
                "{l}"
            );
        }
        assert_eq!(
            la,
            format!(
                "smoke-failed:{}-{}",
                &a[..28],
                &blake3::hash(a.as_bytes()).to_hex()[..8]
            )
        );
    }

    #[test]
    fn flaky_labels_fit_githubs_limit_too() {
        let flaky = |gate: &str| Label::Flaky(gate.to_owned()).to_string();
        assert_eq!(flaky("unit"), "flaky:unit");
        let fits = "f".repeat(MAX_LEN - FLAKY_PREFIX.len());
        assert_eq!(flaky(&fits), format!("flaky:{fits}"));
        for len in [MAX_LEN - FLAKY_PREFIX.len() + 1, 200] {
            let gate = "f".repeat(len);
            let got = flaky(&gate);
            assert_eq!(got.chars().count(), MAX_LEN, "{got}");
            assert_eq!(
                got,
                format!(
                    "flaky:{}-{}",
                    "f".repeat(35),
                    &blake3::hash(gate.as_bytes()).to_hex()[..8]
                )
            );
        }
        // Same gate, other label: the shortened names differ only by their prefix.
        let long = "integration-latency-benchmark-eu-west-1-production";
        assert!(flaky(long).ends_with(&label(long)[label(long).len() - 8..]));
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        let gate = "é".repeat(37); // 37 characters, 74 bytes: fits
        assert_eq!(label(&gate), format!("smoke-failed:{gate}"));
        let gate = "é".repeat(38);
        let got = label(&gate);
        assert_eq!(got.chars().count(), MAX_LEN, "{got}");
        assert!(got.starts_with(&format!("smoke-failed:{}-", "é".repeat(28))));
    }
}
