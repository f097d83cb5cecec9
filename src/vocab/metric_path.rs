//! Metric paths: `a.b[2].c`, a dotted path into a metrics JSON document. Parsed once, when the
//! config is loaded, for thresholds and exports alike.

use std::fmt;

use serde_json::Value;

/// A measured value as a person reads it: whole numbers as they are, others to about three
/// significant digits (`76.74897119341564` -> `76.7`, `0.0431` -> `0.0431`, `1234.567` ->
/// `1234.6`). Reports keep full precision; this is for the console and summaries.
#[must_use]
pub fn for_people(v: f64) -> String {
    if !v.is_finite() || (v.fract() == 0.0 && v.abs() < 1e15) {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor();
    // Digits after the point: at least 1, enough for three significant digits below 100.
    let decimals = (2.0 - magnitude).clamp(1.0, 12.0);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 1..=12 just above"
    )]
    let decimals = decimals as usize;
    let text = format!("{v:.decimals$}");
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_owned()
}

/// One step of a metric path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// A key into a JSON object (`b` in `a.b`).
    Key(String),
    /// A 0-based index into a JSON array (`2` in `a[2]`).
    Index(usize),
}

/// A parsed metric path, with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricPath {
    text: String,
    steps: Vec<PathStep>,
}

impl MetricPath {
    /// Parse `a.b[2].c`.
    pub fn parse(path: &str) -> Result<Self, String> {
        Ok(MetricPath {
            text: path.to_owned(),
            steps: parse_steps(path)?,
        })
    }

    /// The path as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The steps, in order.
    #[must_use]
    pub fn steps(&self) -> &[PathStep] {
        &self.steps
    }

    /// Follow the path into a JSON document.
    #[must_use]
    pub fn lookup<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        lookup(v, &self.steps)
    }
}

impl fmt::Display for MetricPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parse `a.b[2].c` into steps.
pub fn parse_steps(path: &str) -> Result<Vec<PathStep>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.find('[').map_or((part, ""), |i| part.split_at(i));
        if key.is_empty() && (rest.is_empty() || steps.is_empty() && !path.starts_with('[')) {
            return Err(format!("empty segment in metric path `{path}`"));
        }
        if !key.is_empty() {
            steps.push(PathStep::Key(key.to_owned()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in metric path `{path}`"))?;
            let index = rest[1..close].parse().map_err(|_| {
                format!(
                    "`[{}]` in metric path `{path}` is not an array index",
                    &rest[1..close]
                )
            })?;
            steps.push(PathStep::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected `{rest}` in metric path `{path}`"));
            }
        }
    }
    Ok(steps)
}

/// Follow parsed steps into a JSON document.
#[must_use]
pub fn lookup<'a>(v: &'a Value, path: &[PathStep]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, step| match step {
        PathStep::Key(k) => v.get(k),
        PathStep::Index(i) => v.get(i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_paths() {
        use PathStep::{Index, Key};
        assert_eq!(
            parse_steps("a.b[2].c").unwrap(),
            vec![Key("a".into()), Key("b".into()), Index(2), Key("c".into())]
        );
        assert_eq!(
            parse_steps("x[0][1]").unwrap(),
            vec![Key("x".into()), Index(0), Index(1)]
        );
        for bad in ["", "a..b", "a[", "a[x]", "a[0]b"] {
            assert!(parse_steps(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_for_people() {
        for (v, shown) in [
            (76.748_971_193_415_64, "76.7"),
            (0.043_123, "0.0431"),
            (1234.567, "1234.6"),
            (0.43, "0.43"),
            (3.0, "3"),
            (2.5, "2.5"),
            (0.000_123_45, "0.000123"),
            (-12.345, "-12.3"),
        ] {
            assert_eq!(for_people(v), shown, "{v}");
        }
    }

    #[test]
    fn lookup_follows_keys_and_indexes() {
        let doc = serde_json::json!({"a": {"b": [1, 2, {"c": 7}]}});
        let p = MetricPath::parse("a.b[2].c").unwrap();
        assert_eq!(p.lookup(&doc), Some(&serde_json::json!(7)));
        assert_eq!(p.to_string(), "a.b[2].c");
        assert_eq!(MetricPath::parse("a.z").unwrap().lookup(&doc), None);
    }
}
