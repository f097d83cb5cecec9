//! Gate logs in CI output: `--log-order grouped` prints each gate's log when it finishes, in
//! the CI system's collapsible group (GitHub Actions `::group::`, GitLab sections, Buildkite
//! `---` headers), and the failing gates' logs expanded after the summary line. `stream` is
//! the display as it always was (status lines; `--verbose` streams lines as they come).

use std::fmt::Write as _;
use std::path::Path;

use crate::proc::tail::tail_bytes_of;

/// `--log-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogOrder {
    /// Grouped under GitHub Actions, GitLab CI and Buildkite; stream elsewhere.
    #[default]
    Auto,
    /// A gate's whole log printed when it finishes, in one block (a collapsible group in CI).
    Grouped,
    /// Status lines as gates finish; `--verbose` streams their lines as they come.
    Stream,
}

/// The CI system whose log folding is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CiSystem {
    GitHub,
    GitLab,
    Buildkite,
    /// No folding: log lines prefixed with `[gate] `.
    Plain,
}

impl CiSystem {
    /// From the variables each system sets: `GITHUB_ACTIONS=true`, `GITLAB_CI`, `BUILDKITE`.
    pub(super) fn detect(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |k: &str| env(k).is_some_and(|v| !v.is_empty() && v != "false");
        if env("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            CiSystem::GitHub
        } else if set("GITLAB_CI") {
            CiSystem::GitLab
        } else if set("BUILDKITE") {
            CiSystem::Buildkite
        } else {
            CiSystem::Plain
        }
    }
}

impl LogOrder {
    /// Whether logs are grouped, `auto` decided by the CI system.
    pub(super) fn grouped(self, ci: CiSystem) -> bool {
        match self {
            LogOrder::Auto => ci != CiSystem::Plain,
            LogOrder::Grouped => true,
            LogOrder::Stream => false,
        }
    }
}

/// The most of one log printed in a group; longer logs keep their end (the whole log stays in
/// `cache/logs/`).
pub(super) const MAX_GROUP_BYTES: u64 = 1024 * 1024;

/// Lines of a failing gate's log printed expanded after the summary.
pub(super) const FAILURE_LINES: usize = 100;

/// A log's text for printing: all of it up to `max` bytes, else a note and its end from a
/// line boundary; always ending in a newline unless empty.
pub(super) fn log_text(log: &Path, max: u64) -> String {
    let len = std::fs::metadata(log).map_or(0, |m| m.len());
    let bytes = tail_bytes_of(log, max);
    let mut text = String::new();
    let body: &[u8] = if len > max {
        let start = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        let _ = writeln!(
            text,
            "[... {} earlier bytes left out; the whole log: {}]",
            len - (bytes.len() - start) as u64,
            log.display()
        );
        &bytes[start..]
    } else {
        &bytes
    };
    text.push_str(&String::from_utf8_lossy(body));
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A GitLab section name: letters, digits, `_`, `.` and `-` only, unique per gate index.
fn section_name(gate: &str, index: usize) -> String {
    let clean: String = gate
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("gate_{index}_{clean}")
}

/// One gate's block: `title` (its status line) as the group's header and `body` (its log)
/// inside, collapsed where the system can. `started`/`ended` are Unix seconds (GitLab shows
/// the section's duration from them).
pub(super) fn group(
    ci: CiSystem,
    gate: &str,
    index: usize,
    title: &str,
    body: &str,
    (started, ended): (i64, i64),
) -> String {
    let mut out = String::new();
    match ci {
        CiSystem::GitHub => {
            let _ = writeln!(out, "::group::{title}");
            out.push_str(body);
            out.push_str("::endgroup::\n");
        }
        CiSystem::GitLab => {
            let name = section_name(gate, index);
            let _ = writeln!(
                out,
                "\x1b[0Ksection_start:{started}:{name}[collapsed=true]\r\x1b[0K{title}"
            );
            out.push_str(body);
            let _ = writeln!(out, "\x1b[0Ksection_end:{ended}:{name}\r\x1b[0K");
        }
        CiSystem::Buildkite => {
            let _ = writeln!(out, "--- {title}");
            out.push_str(body);
        }
        CiSystem::Plain => {
            let _ = writeln!(out, "{title}");
            for line in body.lines() {
                let _ = writeln!(out, "[{gate}] {line}");
            }
        }
    }
    out
}

/// A status line without a log, in grouped order: Buildkite starts a header (else the line
/// would land in the previous gate's collapsed group); the others print it as it is.
pub(super) fn line(ci: CiSystem, title: &str) -> String {
    match ci {
        CiSystem::Buildkite => format!("--- {title}\n"),
        _ => format!("{title}\n"),
    }
}

/// What goes before the summary line: Buildkite opens an expanded section for it (else it
/// would be folded into the last gate's group).
pub(super) fn before_summary(ci: CiSystem) -> &'static str {
    match ci {
        CiSystem::Buildkite => "+++ runner: summary\n",
        _ => "",
    }
}

/// A failing gate's log, expanded, after the summary: a header line and the log's last lines.
pub(super) fn failure(ci: CiSystem, gate: &str, title: &str, log: &Path) -> String {
    let tail = crate::proc::tail::last_lines(&tail_bytes_of(log, MAX_GROUP_BYTES), FAILURE_LINES);
    let mut out = match ci {
        CiSystem::Buildkite => format!("+++ {title}\n"),
        _ => format!("{title}\n"),
    };
    for l in tail.lines() {
        let _ = writeln!(out, "    | {l}");
    }
    let _ = writeln!(
        out,
        "    (last {FAILURE_LINES} lines at most; the whole log of {gate}: {})",
        log.display()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_are_told_apart_by_their_variables() {
        let env = |k: &'static str, v: &'static str| move |n: &str| (n == k).then(|| v.to_owned());
        assert_eq!(
            CiSystem::detect(&env("GITHUB_ACTIONS", "true")),
            CiSystem::GitHub
        );
        assert_eq!(
            CiSystem::detect(&env("GITHUB_ACTIONS", "1")),
            CiSystem::Plain
        );
        assert_eq!(
            CiSystem::detect(&env("GITLAB_CI", "true")),
            CiSystem::GitLab
        );
        assert_eq!(
            CiSystem::detect(&env("BUILDKITE", "true")),
            CiSystem::Buildkite
        );
        assert_eq!(CiSystem::detect(&env("CI", "true")), CiSystem::Plain);
        assert!(LogOrder::Auto.grouped(CiSystem::GitLab));
        assert!(!LogOrder::Auto.grouped(CiSystem::Plain));
        assert!(!LogOrder::Stream.grouped(CiSystem::GitHub));
    }

    #[test]
    fn groups_per_system() {
        let body = "line 1\nline 2\n";
        let g = group(CiSystem::GitHub, "a b", 3, "PASS a b", body, (10, 12));
        assert_eq!(g, "::group::PASS a b\nline 1\nline 2\n::endgroup::\n");
        let g = group(CiSystem::GitLab, "a b", 3, "PASS a b", body, (10, 12));
        assert_eq!(
            g,
            "\x1b[0Ksection_start:10:gate_3_a_b[collapsed=true]\r\x1b[0KPASS a b\nline 1\nline 2\n\
             \x1b[0Ksection_end:12:gate_3_a_b\r\x1b[0K\n"
        );
        let g = group(CiSystem::Buildkite, "a", 0, "PASS a", body, (0, 0));
        assert_eq!(g, "--- PASS a\nline 1\nline 2\n");
        let g = group(CiSystem::Plain, "a", 0, "PASS a", body, (0, 0));
        assert_eq!(g, "PASS a\n[a] line 1\n[a] line 2\n");
    }

    #[test]
    fn long_logs_keep_their_end_from_a_line_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, &text).unwrap();
        assert_eq!(log_text(&log, 10_000), text);
        let cut = log_text(&log, 30);
        let mut lines = cut.lines();
        assert!(lines.next().unwrap().starts_with("[... "), "{cut}");
        assert_eq!(lines.collect::<Vec<_>>(), ["line 97", "line 98", "line 99"]);
    }
}
