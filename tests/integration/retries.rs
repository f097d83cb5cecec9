//! Retries (`retries = N`, `runner run --retries N`): a pass after a failed attempt is a flaky
//! pass (report, label, history, `runner status`, no green day); each attempt's log is kept;
//! what the runner cannot judge is never retried.

use serde_json::Value;

use crate::harness::Repo;

/// A command that counts its attempts in `<counter>` and fails until attempt `pass_on`.
fn counted(counter: &str, pass_on: u32) -> String {
    format!(
        "n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo \"attempt $n\"; [ $n -ge {pass_on} ]"
    )
}

/// The lines of the history file, parsed.
fn history(repo: &Repo) -> Vec<Value> {
    repo.read(".runner/history.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The cells of `gate`'s row in `runner status` at `now`.
fn status_row(repo: &Repo, now: &str, gate: &str) -> Vec<String> {
    let out = repo.run(&["status", "--now", now]);
    out.expect_code(0);
    out.stdout
        .lines()
        .find(|l| l.split("  ").next() == Some(gate))
        .unwrap_or_else(|| panic!("no row for {gate}:\n{}", out.stdout))
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_gate_that_fails_once_then_passes_is_a_flaky_pass() {
    let repo = Repo::new().gates(&format!(
        "[gates.unit]\nrun = '{}'\nretries = 2\n\n[gates.steady]\nrun = \"true\"\n",
        counted("count", 2)
    ));
    let now = "2026-11-02T10:00:00Z";
    let out = repo.run(&["run", "--now", now, "--summary", "summary.md"]);
    out.expect_code(0);
    assert_eq!(repo.read("count").trim(), "2", "ran twice");
    assert!(
        repo.read("summary.md")
            .contains("| unit | ✅ pass (flaky: attempt 2) |"),
        "{}",
        repo.read("summary.md")
    );
    let unit = repo.gate("unit");
    assert_eq!(unit["status"], "pass", "{unit:#}");
    assert_eq!(unit["flaky"], true, "{unit:#}");
    assert_eq!(unit["attempts"], 2, "{unit:#}");
    assert!(unit["reason"].is_null(), "{unit:#}");
    let steady = repo.gate("steady");
    assert!(
        steady.get("flaky").is_none() && steady.get("attempts").is_none(),
        "{steady:#}"
    );
    assert_eq!(repo.report()["labels"], serde_json::json!(["flaky:unit"]));
    assert_eq!(repo.report()["summary"]["pass"], 2);
    // Each attempt's log: the failed one kept aside, the last one where gate logs are.
    assert_eq!(repo.read("cache/logs/attempts/unit.1.log"), "attempt 1\n");
    assert_eq!(repo.read("cache/logs/unit.log"), "attempt 2\n");
    assert!(!repo.path("cache/logs/attempts/unit.2.log").exists());
    assert!(
        out.stdout.contains(
            "RETRY   unit: attempt 1 of 3 failed: command exited with code 1; running it again (log: "
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("unit.1.log)"),
        "the retry line names the kept log:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("(flaky: passed on attempt 2)"),
        "{}",
        out.stdout
    );
    // The history line says so; the steady gate's says nothing.
    let lines = history(&repo);
    let line = |gate: &str| lines.iter().find(|l| l["gate"] == gate).cloned().unwrap();
    assert_eq!(line("unit")["flaky"], true);
    assert!(line("steady").get("flaky").is_none());
    // `runner status`: the last result and the flake rate over the latest runs.
    let row = status_row(&repo, "2026-11-02T12:00:00Z", "unit");
    assert_eq!(row[4], "pass 2026-11-02T10:00:00Z (flaky)", "{row:?}");
    assert_eq!(row[6], "1/1 runs (100%)", "{row:?}");
    assert_eq!(
        status_row(&repo, "2026-11-02T12:00:00Z", "steady")[6],
        "0/1 runs"
    );
    // The pass was stored: the next run replays it, a plain pass, and keeps the attempt logs
    // of the last execution.
    repo.run(&["run", "--now", "2026-11-02T11:00:00Z"])
        .expect_code(0);
    let unit = repo.gate("unit");
    assert_eq!(
        (unit["status"].as_str(), unit["cached"].as_bool()),
        (Some("pass"), Some(true))
    );
    assert!(unit.get("flaky").is_none(), "{unit:#}");
    assert!(repo.report()["labels"].as_array().unwrap().is_empty());
    assert!(repo.path("cache/logs/attempts/unit.1.log").exists());
    // An execution that passes at once: the rate counts executions, not replays.
    repo.run(&["run", "--no-cache", "--now", "2026-11-02T11:30:00Z"])
        .expect_code(0);
    assert_eq!(repo.read("count").trim(), "3");
    assert!(repo.gate("unit").get("flaky").is_none());
    assert!(
        !repo.path("cache/logs/attempts/unit.1.log").exists(),
        "an execution without retries leaves no attempt log of an earlier run"
    );
    let row = status_row(&repo, "2026-11-02T12:00:00Z", "unit");
    assert_eq!(row[6], "1/2 runs (50%)", "{row:?}");
}

#[test]
fn a_gate_that_always_fails_fails_after_retries_plus_one_attempts() {
    let repo = Repo::new().gates(
        "[gates.broken]\nrun = 'echo x >> attempts.txt; echo \"try $(wc -l < attempts.txt)\"; exit 3'\nretries = 2\n",
    );
    let out = repo.run(&["run"]);
    out.expect_code(1);
    assert_eq!(repo.read("attempts.txt").lines().count(), 3);
    let g = repo.gate("broken");
    assert_eq!(g["status"], "fail");
    assert!(g.get("flaky").is_none(), "{g:#}");
    assert_eq!(g["attempts"], 3);
    assert_eq!(g["reason"], "command exited with code 3 (attempt 3 of 3)");
    assert!(repo.report()["labels"].as_array().unwrap().is_empty());
    assert_eq!(
        repo.read("cache/logs/attempts/broken.1.log").trim(),
        "try 1"
    );
    assert_eq!(
        repo.read("cache/logs/attempts/broken.2.log").trim(),
        "try 2"
    );
    assert_eq!(repo.read("cache/logs/broken.log").trim(), "try 3");
    assert_eq!(
        out.stdout.matches("RETRY   broken").count(),
        2,
        "{}",
        out.stdout
    );
    assert!(history(&repo)[0].get("flaky").is_none());
}

#[test]
fn the_gates_retries_win_over_the_runs() {
    let repo = Repo::new().gates(&format!(
        "[gates.inherits]\nrun = '{}'\n\n[gates.never]\nrun = '{}'\nretries = 0\n",
        counted("inherits.n", 2),
        counted("never.n", 2),
    ));
    // Without --retries, nothing is retried.
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("inherits").0, "fail");
    std::fs::remove_file(repo.path("inherits.n")).unwrap();
    std::fs::remove_file(repo.path("never.n")).unwrap();
    repo.run(&["run", "--retries", "1"]).expect_code(1);
    assert_eq!(repo.read("inherits.n").trim(), "2");
    assert_eq!(repo.gate("inherits")["flaky"], true);
    assert_eq!(
        repo.read("never.n").trim(),
        "1",
        "retries = 0 wins over --retries"
    );
    assert_eq!(repo.status("never").0, "fail");
}

#[test]
fn what_the_runner_cannot_judge_is_not_retried() {
    let repo = Repo::new().gates(
        r#"
[gates.guarded]
run = "echo x >> guarded.n; mkdir -p out; echo '<testsuite tests=\"0\"></testsuite>' > out/j.xml"
artifacts = ["out/j.xml"]
junit = "out/j.xml"
retries = 3

[gates.no-artifact]
run = "echo x >> no-artifact.n"
artifacts = ["out/missing.txt"]
retries = 3

[gates.runtime]
run = "echo x >> runtime.n"
inputs = [{ run = "exit 4" }]
retries = 3

[gates.skipped]
run = "echo x >> skipped.n; exit 78"
retries = 3
"#,
    );
    repo.run(&["run"]).expect_code(1);
    let guarded = repo.gate("guarded");
    assert_eq!(guarded["status"], "error");
    assert!(guarded["guard"].is_string(), "{guarded:#}");
    assert_eq!(
        repo.read("guarded.n").lines().count(),
        1,
        "a guard trip is not retried"
    );
    assert_eq!(repo.gate("no-artifact")["status"], "error");
    assert_eq!(repo.read("no-artifact.n").lines().count(), 1);
    assert_eq!(repo.gate("runtime")["status"], "error");
    assert!(
        !repo.path("runtime.n").exists(),
        "a failed runtime input runs nothing"
    );
    assert_eq!(repo.gate("skipped")["status"], "skip");
    assert_eq!(repo.read("skipped.n").lines().count(), 1);
    for g in ["guarded", "no-artifact", "runtime", "skipped"] {
        assert!(repo.gate(g).get("attempts").is_none(), "{g}");
        assert!(
            !repo
                .path(&format!("cache/logs/attempts/{g}.1.log"))
                .exists(),
            "{g}"
        );
    }
}

#[test]
fn a_timeout_is_retried() {
    let repo = Repo::new().gates(
        "[gates.slow]\nrun = 'echo x >> slow.n; [ $(wc -l < slow.n) -ge 2 ] || sleep 30'\ntimeout = \"300ms\"\nretries = 1\n",
    );
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("slow.n").lines().count(), 2);
    let g = repo.gate("slow");
    assert_eq!(
        (g["status"].as_str(), g["flaky"].as_bool()),
        (Some("pass"), Some(true))
    );
}

#[test]
fn graduation_ignores_flaky_days() {
    // An observational gate graduating after 2 green days. `mode` says how it behaves: `pass`,
    // or `flaky` (its first attempt fails, the retry passes).
    let repo = Repo::new().gates(
        r#"
[gates.smoke]
mode = "observational"
graduate_after_days = 2
cache = false
retries = 1
run = "if [ $(cat mode) = pass ] || [ -e tried ]; then rm -f tried; else touch tried; exit 1; fi"
"#,
    );
    let day = |d: u32| format!("2026-11-{d:02}T10:00:00Z");
    let noon = |d: u32| format!("2026-11-{d:02}T12:00:00Z");
    repo.write("mode", "pass");
    repo.run(&["run", "--now", &day(1)]).expect_code(0);
    repo.write("mode", "flaky");
    repo.run(&["run", "--now", &day(2)]).expect_code(0);
    assert_eq!(repo.gate("smoke")["flaky"], true);
    // A flaky day does not count: one green day, not graduated.
    let row = status_row(&repo, &noon(2), "smoke");
    assert_eq!(row[2], "observational", "{row:?}");
    assert_eq!(row[3], "1/2 green days", "{row:?}");
    assert_eq!(row[5], "-", "{row:?}");
    // Nor does it break the streak: the next clean day graduates the gate.
    repo.write("mode", "pass");
    repo.run(&["run", "--now", &day(3)]).expect_code(0);
    let row = status_row(&repo, &noon(3), "smoke");
    assert_eq!(row[2], "blocking", "{row:?}");
    assert_eq!(row[3], "2/2 green days", "{row:?}");
    assert_eq!(row[5], "graduated on 2026-11-03", "{row:?}");
    assert_eq!(row[6], "1/3 runs (33%)", "{row:?}");
}
