//! Threshold expressions: `"<= 50"` parsed into an operator and a limit, and evaluated; and
//! baseline expressions, `"<= baseline * 1.10"`, whose limit follows the metric's history.

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

/// How a baseline threshold's limit follows the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// `baseline * 1.10`: the limit is the baseline times this (finite, positive).
    Factor(f64),
    /// `baseline + 2`, `baseline - 2`: the limit is the baseline plus this (finite).
    Offset(f64),
}

impl Scale {
    /// The limit for a baseline value.
    #[must_use]
    pub fn limit(self, baseline: f64) -> f64 {
        match self {
            Scale::Factor(f) => baseline * f,
            Scale::Offset(d) => baseline + d,
        }
    }
}

/// A parsed `"<op> baseline [* f | + d | - d]"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineExpr {
    /// `<`, `<=` (lower is better) or `>`, `>=` (higher is better).
    pub op: Op,
    /// How the limit follows the baseline.
    pub scale: Scale,
}

impl fmt::Display for BaselineExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scale {
            Scale::Factor(1.0) => write!(f, "{} baseline", self.op),
            Scale::Factor(x) => write!(f, "{} baseline * {x}", self.op),
            Scale::Offset(d) if d < 0.0 => write!(f, "{} baseline - {}", self.op, -d),
            Scale::Offset(d) => write!(f, "{} baseline + {d}", self.op),
        }
    }
}

/// Is `text` a baseline expression (it names `baseline`)? Then [`parse_baseline`] reads it.
#[must_use]
pub fn names_baseline(text: &str) -> bool {
    text.contains("baseline")
}

/// Parse `"<= baseline * 1.10"`, `">= baseline * 0.9"`, `"<= baseline + 2"`, `"< baseline"`.
/// The error says what was expected.
pub fn parse_baseline(text: &str) -> Result<BaselineExpr, String> {
    let t = text.trim();
    let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
        .into_iter()
        .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (op, rest)))
        .ok_or_else(|| {
            format!("baseline threshold `{text}` must start with one of < <= > >= (a baseline is compared with, not equal to)")
        })?;
    let rest = rest
        .trim_start()
        .strip_prefix("baseline")
        .ok_or_else(|| format!("baseline threshold `{text}`: write `baseline` right after `{op}`"))?
        .trim();
    let number = |s: &str| -> Result<f64, String> {
        let s = s.trim();
        let n: f64 = s
            .replace('_', "")
            .parse()
            .map_err(|_| format!("baseline threshold `{text}`: `{s}` is not a number"))?;
        if n.is_finite() {
            Ok(n)
        } else {
            Err(format!(
                "baseline threshold `{text}`: `{s}` must be a finite number"
            ))
        }
    };
    let scale = if rest.is_empty() {
        Scale::Factor(1.0)
    } else if let Some(f) = rest.strip_prefix('*') {
        let f = number(f)?;
        if f <= 0.0 {
            return Err(format!(
                "baseline threshold `{text}`: the factor must be positive"
            ));
        }
        Scale::Factor(f)
    } else if let Some(d) = rest.strip_prefix('+') {
        Scale::Offset(number(d)?)
    } else if let Some(d) = rest.strip_prefix('-') {
        Scale::Offset(-number(d)?)
    } else {
        return Err(format!(
            "baseline threshold `{text}`: after `baseline` write `* factor`, `+ number` or `- number`"
        ));
    };
    Ok(BaselineExpr { op, scale })
}

/// `max_regression = "10%"` (relative) or `= 2.5` (absolute), with the direction in which the
/// metric gets worse, as a baseline expression.
pub fn regression(
    text_or_number: Result<&str, f64>,
    lower_is_better: bool,
) -> Result<BaselineExpr, String> {
    let op = if lower_is_better { Op::Le } else { Op::Ge };
    let sign = if lower_is_better { 1.0 } else { -1.0 };
    match text_or_number {
        Ok(text) => {
            let pct = text
                .trim()
                .strip_suffix('%')
                .ok_or_else(|| format!("max_regression `{text}` must be a percentage such as \"10%\" (or a number: an absolute change)"))?;
            let p: f64 = pct
                .trim()
                .parse()
                .map_err(|_| format!("max_regression `{text}`: `{pct}` is not a number"))?;
            if !p.is_finite() || p < 0.0 || (!lower_is_better && p >= 100.0) {
                return Err(format!(
                    "max_regression `{text}` must be at least 0%{}",
                    if lower_is_better {
                        ""
                    } else {
                        " and below 100%"
                    }
                ));
            }
            Ok(BaselineExpr {
                op,
                scale: Scale::Factor(1.0 + sign * p / 100.0),
            })
        }
        Err(d) => {
            if !d.is_finite() || d < 0.0 {
                return Err(format!("max_regression {d} must be a number at least 0"));
            }
            Ok(BaselineExpr {
                op,
                scale: Scale::Offset(sign * d),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_baseline_expressions() {
        for (text, op, scale) in [
            ("<= baseline * 1.10", Op::Le, Scale::Factor(1.1)),
            (">= baseline*0.9", Op::Ge, Scale::Factor(0.9)),
            ("< baseline", Op::Lt, Scale::Factor(1.0)),
            ("<= baseline + 2", Op::Le, Scale::Offset(2.0)),
            ("> baseline - 0.5", Op::Gt, Scale::Offset(-0.5)),
        ] {
            assert_eq!(
                parse_baseline(text),
                Ok(BaselineExpr { op, scale }),
                "{text}"
            );
        }
        for text in [
            "== baseline",
            "<= baseline * 0",
            "<= baseline * -1",
            "<= baseline / 2",
            "<= 2 * baseline",
            "<= baseline * x",
            "<= baseline + inf",
        ] {
            assert!(parse_baseline(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_baseline("<= baseline * 1.1").map(|e| e.to_string()),
            Ok("<= baseline * 1.1".to_owned())
        );
    }

    #[test]
    fn max_regression_follows_the_direction() {
        assert_eq!(
            regression(Ok("10%"), true),
            Ok(BaselineExpr {
                op: Op::Le,
                scale: Scale::Factor(1.1)
            })
        );
        assert_eq!(
            regression(Ok("10%"), false),
            Ok(BaselineExpr {
                op: Op::Ge,
                scale: Scale::Factor(0.9)
            })
        );
        assert_eq!(
            regression(Err(2.0), true),
            Ok(BaselineExpr {
                op: Op::Le,
                scale: Scale::Offset(2.0)
            })
        );
        assert_eq!(
            regression(Err(2.0), false),
            Ok(BaselineExpr {
                op: Op::Ge,
                scale: Scale::Offset(-2.0)
            })
        );
        for bad in ["10", "-5%", "x%"] {
            assert!(regression(Ok(bad), true).is_err(), "{bad}");
        }
        assert!(regression(Ok("100%"), false).is_err());
        assert!(regression(Err(-1.0), true).is_err());
    }

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
