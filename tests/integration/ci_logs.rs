//! Gate logs in CI output (`--log-order`): under GitHub Actions, GitLab CI and Buildkite each
//! executed gate's whole log is printed in one folded group when it finishes, the failing
//! gates' logs expanded after the summary line; `stream` is the display without groups.

use crate::harness::Repo;

/// Two gates printing at the same time (their lines interleave in time), one of them failing,
/// and a third after the first.
const GATES: &str = r#"
[gates.alpha]
run = "for i in 1 2 3 4; do echo alpha-$i; sleep 0.05; done"

[gates.beta]
run = "for i in 1 2 3 4; do echo beta-$i >&2; sleep 0.05; done; exit 3"

[gates.gamma]
needs = ["alpha"]
run = "echo gamma-1"
"#;

fn repo(var: &str, value: &str) -> Repo {
    Repo::new()
        .gates(GATES)
        .env("GITLAB_CI", "")
        .env("BUILDKITE", "")
        .env(var, value)
}

/// The lines of `stdout` from the one equal to `first` to the first one starting with `end`,
/// both included.
fn block<'a>(stdout: &'a str, first: &str, end: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no line {first:?} in\n{stdout}"));
    let stop = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with(end))
        .map_or(lines.len(), |i| start + 1 + i);
    lines[start..=stop.min(lines.len() - 1)].to_vec()
}

fn summary_index(stdout: &str) -> usize {
    stdout
        .lines()
        .position(|l| l.starts_with("3 gates:"))
        .unwrap_or_else(|| panic!("no summary in\n{stdout}"))
}

#[test]
fn github_actions_groups_each_log_and_expands_failures_after_the_summary() {
    let repo = repo("GITHUB_ACTIONS", "true");
    let out = repo.run(&["run", "-j", "2"]);
    out.expect_code(1);
    let alpha = block(&out.stdout, "::group::PASS    alpha", "::endgroup::");
    assert_eq!(
        alpha[1..],
        ["alpha-1", "alpha-2", "alpha-3", "alpha-4", "::endgroup::"]
    );
    let beta = block(&out.stdout, "::group::FAIL    beta", "::endgroup::");
    assert!(beta[0].contains("command exited with code 3"), "{beta:?}");
    assert_eq!(
        beta[1..],
        ["beta-1", "beta-2", "beta-3", "beta-4", "::endgroup::"]
    );
    assert!(
        out.stdout.contains("::group::PASS    gamma"),
        "{}",
        out.stdout
    );
    // After the summary: beta's log again, outside any group.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let after = &lines[summary_index(&out.stdout) + 1..];
    assert!(after[0].starts_with("FAIL    beta"), "{after:?}");
    assert!(after.contains(&"    | beta-4"), "{after:?}");
    assert!(!after.iter().any(|l| l.starts_with("::")), "{after:?}");
    assert!(!after.iter().any(|l| l.contains("alpha")), "{after:?}");

    // A replay has no log of this run: a plain line, no group.
    let out = repo.run(&["run", "-j", "2"]);
    assert!(
        out.stdout.contains("\nPASS    alpha") || out.stdout.starts_with("PASS    alpha"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("::group::PASS    alpha"),
        "{}",
        out.stdout
    );
}

#[test]
fn gitlab_folds_each_log_in_a_collapsed_section() {
    let repo = repo("GITLAB_CI", "true");
    let out = repo.run(&["run", "-j", "2"]);
    out.expect_code(1);
    let start = out
        .stdout
        .lines()
        .find(|l| l.contains("section_start:") && l.contains("alpha"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    // ESC[0Ksection_start:<unix seconds>:<name>[collapsed=true]\rESC[0K<header>
    let rest = start
        .strip_prefix("\x1b[0Ksection_start:")
        .unwrap_or_else(|| panic!("{start:?}"));
    let (ts, rest) = rest.split_once(':').expect("a timestamp");
    assert!(ts.parse::<i64>().is_ok_and(|t| t > 1_600_000_000), "{ts}");
    let (name, header) = rest
        .split_once("[collapsed=true]\r\x1b[0K")
        .expect("collapsed");
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
        "{name}"
    );
    assert!(header.starts_with("PASS    alpha"), "{header:?}");
    let block = block(&out.stdout, start, "\x1b[0Ksection_end:");
    assert_eq!(block[1..5], ["alpha-1", "alpha-2", "alpha-3", "alpha-4"]);
    assert!(
        block[5].starts_with("\x1b[0Ksection_end:")
            && block[5].ends_with(&format!(":{name}\r\x1b[0K")),
        "{:?}",
        block[5]
    );
    let after: Vec<&str> = out
        .stdout
        .lines()
        .skip(summary_index(&out.stdout) + 1)
        .collect();
    assert!(after[0].starts_with("FAIL    beta"), "{after:?}");
    assert!(after.contains(&"    | beta-1"), "{after:?}");
}

#[test]
fn buildkite_uses_collapsed_headers_and_expands_failures() {
    let repo = repo("BUILDKITE", "true");
    let out = repo.run(&["run", "-j", "2"]);
    out.expect_code(1);
    let alpha = block(&out.stdout, "--- PASS    alpha", "--- ");
    assert_eq!(alpha[1..5], ["alpha-1", "alpha-2", "alpha-3", "alpha-4"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let summary = summary_index(&out.stdout);
    assert_eq!(lines[summary - 1], "+++ runner: summary", "{}", out.stdout);
    assert!(
        lines[summary + 1].starts_with("+++ FAIL    beta"),
        "{}",
        out.stdout
    );
    assert!(
        lines[summary + 2..].contains(&"    | beta-4"),
        "{}",
        out.stdout
    );
}

#[test]
fn stream_order_prints_no_groups_and_grouped_works_outside_ci() {
    let repo = repo("GITHUB_ACTIONS", "true");
    let out = repo.run(&["run", "-j", "2", "--log-order", "stream"]);
    out.expect_code(1);
    assert!(!out.stdout.contains("::group::"), "{}", out.stdout);
    assert!(!out.stdout.contains("alpha-1"), "{}", out.stdout);

    let plain = Repo::new().gates(GATES);
    let out = plain.run(&["run", "-j", "2", "--log-order", "grouped"]);
    out.expect_code(1);
    let alpha = block(&out.stdout, "PASS    alpha", "PASS");
    assert_eq!(
        alpha[1..5],
        [
            "[alpha] alpha-1",
            "[alpha] alpha-2",
            "[alpha] alpha-3",
            "[alpha] alpha-4"
        ]
    );
    // Without --log-order, outside CI: the display as it was.
    let out = plain.run(&["run", "-j", "2", "--no-cache"]);
    assert!(!out.stdout.contains("[alpha]"), "{}", out.stdout);
}
