//! Clock: what `history.rs` does not already cover. A hand-edited line whose run sequence
//! number is at the very top of its range (so every later run's number saturates there), and
//! lines whose times are far in the past or future, do not break streak arithmetic.

use crate::harness::Repo;

fn smoke() -> Repo {
    let repo = Repo::new().gates(
        "[gates.smoke]\nmode = \"observational\"\ngraduate_after_days = 2\ncache = false\nrun = \"exit $(cat outcome)\"\n",
    );
    repo.write("outcome", "0");
    repo
}

/// The STREAK and GRADUATION cells of `runner status` for `smoke`.
fn standing(repo: &Repo, now: &str) -> (String, String) {
    let out = repo.run(&["status", "--now", now]);
    out.expect_code(0);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("smoke "))
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .to_owned();
    let streak = row
        .split("  ")
        .map(str::trim)
        .find(|c| c.contains("green days"))
        .unwrap_or_default()
        .to_owned();
    let graduation = row
        .rsplit("  ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    (streak, graduation)
}

#[test]
fn saturated_run_numbers_and_extreme_times_do_not_break_streaks() {
    let repo = smoke();
    let line = |at: &str, status: &str, run: &str| {
        format!(
            r#"{{"at":"{at}","gate":"smoke","status":"{status}","mode":"observational","cached":false,"commit":null{run}}}"#
        )
    };
    repo.write(
        ".runner/history.jsonl",
        &[
            line(
                "2026-11-01T10:00:00Z",
                "pass",
                r#","run":18446744073709551615"#,
            ),
            line("0001-01-01T00:00:00Z", "fail", ""),
            line("9999-12-31T23:59:59Z", "fail", ""),
            String::new(),
        ]
        .join("\n"),
    );
    let run = |day: u32, outcome: &str, code: i32| {
        repo.write("outcome", outcome);
        repo.run(&["run", "--now", &format!("2026-11-{day:02}T10:00:00Z")])
            .expect_code(code);
    };
    run(2, "0", 0);
    assert_eq!(
        standing(&repo, "2026-11-02T12:00:00Z"),
        (
            "2/2 green days".to_owned(),
            "graduated on 2026-11-02".to_owned()
        )
    );
    // Graduated, so a failure now fails the run; the streak restarts after it.
    run(3, "1", 1);
    assert_eq!(standing(&repo, "2026-11-03T12:00:00Z").0, "0/2 green days");
    run(4, "0", 0);
    run(5, "0", 0);
    assert_eq!(
        standing(&repo, "2026-11-05T12:00:00Z"),
        (
            "2/2 green days".to_owned(),
            "graduated on 2026-11-02".to_owned()
        )
    );
    let history = repo.read(".runner/history.jsonl");
    assert_eq!(history.lines().count(), 7, "{history}");
}
