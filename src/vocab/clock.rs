//! The clock: `--now`, else `RUNNER_NOW`, else the system time; and RFC 3339 text.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The time of a run: `flag` (from `--now`), else the environment's `RUNNER_NOW`, else now.
/// `env_now` is the value of `RUNNER_NOW`, passed in so callers (and tests) own the environment.
pub fn now(flag: Option<&str>, env_now: Option<&str>) -> Result<OffsetDateTime, String> {
    match flag.or(env_now) {
        Some(t) => parse(t),
        None => Ok(OffsetDateTime::now_utc()),
    }
}

/// Parse an RFC 3339 time as `--now` takes it.
pub fn parse(t: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(t, &Rfc3339).map_err(|e| {
        format!("--now / RUNNER_NOW `{t}` is not an RFC 3339 time ({e}); write e.g. 2026-11-24T10:00:00Z")
    })
}

/// RFC 3339 text of a time.
#[must_use]
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_the_environment() {
        let t = now(Some("2026-01-02T03:04:05Z"), Some("2020-01-01T00:00:00Z")).unwrap();
        assert_eq!(rfc3339(t), "2026-01-02T03:04:05Z");
        let t = now(None, Some("2020-01-01T00:00:00Z")).unwrap();
        assert_eq!(rfc3339(t), "2020-01-01T00:00:00Z");
        assert!(
            now(Some("yesterday"), None)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }
}
