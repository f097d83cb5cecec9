//! Durations as written in gates.toml (`"30s"`, `"5m"`, `"1h30m"`, `"250ms"`, `"30d"`) and as
//! people read them (`humantime`).

use std::time::Duration;

/// Parse a duration such as `5m`, `30s`, `1h30m`, `250ms` or `30d` (days of 24 hours).
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write for example \"30s\", \"5m\" or \"1h\"".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| {
            format!("`{text}` is not a duration; write for example \"30s\", \"5m\" or \"1h\"")
        })?;
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            "d" => value * 86_400.0,
            "" => {
                return Err(format!(
                    "`{text}` has no unit; add one of ms, s, m, h, d (for example \"{number}s\")"
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}`; use ms, s, m, h or d"
                ));
            }
        };
        total += Duration::from_secs_f64(seconds);
        rest = next;
    }
    Ok(total)
}

/// `1m30s`, `45s`, `250ms`, `30d`, `2d3h`.
#[must_use]
pub fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if !ms.is_multiple_of(1000) || ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64()).replace(".0s", "s")
    } else {
        let s = d.as_secs();
        let (days, rest) = (s / 86_400, s % 86_400);
        let tail = match (rest / 3600, (rest % 3600) / 60, rest % 60) {
            (0, 0, 0) => String::new(),
            (0, 0, sec) => format!("{sec}s"),
            (0, m, 0) => format!("{m}m"),
            (0, m, sec) => format!("{m}m{sec}s"),
            (h, 0, 0) => format!("{h}h"),
            (h, m, sec) => format!("{h}h{m}m{sec}s"),
        };
        if days > 0 {
            format!("{days}d{tail}")
        } else {
            tail
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse("1d12h"), Ok(Duration::from_secs(36 * 3600)));
    }

    #[test]
    fn for_people() {
        for (secs, text) in [
            (45, "45s"),
            (90, "1m30s"),
            (3600, "1h"),
            (86_400 * 30, "30d"),
        ] {
            assert_eq!(humantime(Duration::from_secs(secs)), text);
        }
        assert_eq!(
            humantime(Duration::from_secs(86_400 * 2 + 3 * 3600)),
            "2d3h"
        );
        assert_eq!(humantime(Duration::from_secs(86_400 + 5)), "1d5s");
        assert_eq!(humantime(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn rejects_bad() {
        for t in ["", "5", "5x", "m", "abc"] {
            assert!(parse(t).is_err(), "{t}");
        }
    }
}
