//! Threshold expressions: `"<= 50"` parsed into an operator and a limit, and evaluated.

use std::fmt;

use serde::Serialize;

/// A comparison operator of a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`: the value is below the limit.
    #[serde(rename = "<")]
    Lt,
    /// `<=`: the value is at most the limit.
    #[serde(rename = "<=")]
    Le,
    /// `>`: the value is above the limit.
    #[serde(rename = ">")]
    Gt,
    /// `>=`: the value is at least the limit.
    #[serde(rename = ">=")]
    Ge,
    /// `==`: the value equals the limit exactly.
    #[serde(rename = "==")]
    Eq,
    /// `!=`: the value differs from the limit (NaN never does).
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// The operator as written in gates.toml.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Does `value <op> limit` hold? NaN never holds.
    #[must_use]
    #[expect(
        clippy::float_cmp,
        reason = "== and != in thresholds mean exact comparison"
    )]
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Eq => value == limit,
            Op::Ne => value != limit && !value.is_nan(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `"<op> <number>"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdExpr {
    /// How the metric's value is compared with `limit`.
    pub op: Op,
    /// The number after the operator; always finite.
    pub limit: f64,
}

/// Parse `"<= 50"`, `">=0.7"`, `"== 0"`. The error says what was expected.
pub fn parse(text: &str) -> Result<ThresholdExpr, String> {
    let t = text.trim();
    let (op, rest) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (op, rest)))
    .ok_or_else(|| format!("threshold `{text}` must start with one of < <= > >= == !="))?;
    let number = rest.trim();
    if number.is_empty() {
        return Err(format!("threshold `{text}` has no number after `{op}`"));
    }
    let limit: f64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("threshold `{text}`: `{number}` is not a number"))?;
    if !limit.is_finite() {
        return Err(format!(
            "threshold `{text}`: the limit must be a finite number"
        ));
    }
    Ok(ThresholdExpr { op, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operator() {
        for (text, op, limit) in [
            ("<= 50", Op::Le, 50.0),
            (">=0.70", Op::Ge, 0.7),
            ("< 0.05", Op::Lt, 0.05),
            ("> -1", Op::Gt, -1.0),
            ("== 0", Op::Eq, 0.0),
            ("!= 3", Op::Ne, 3.0),
            ("  <=  1e3 ", Op::Le, 1000.0),
        ] {
            assert_eq!(parse(text), Ok(ThresholdExpr { op, limit }), "{text}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for text in ["50", "=< 5", "<=", "<= abc", "<= inf", "", "<= NaN"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn evaluates() {
        assert!(Op::Le.holds(50.0, 50.0));
        assert!(!Op::Lt.holds(50.0, 50.0));
        assert!(Op::Ne.holds(1.0, 2.0));
        assert!(!Op::Ge.holds(f64::NAN, 0.0));
        assert!(!Op::Ne.holds(f64::NAN, 0.0));
    }
}
