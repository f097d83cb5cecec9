//! Thresholds against the metric's own history (`"<= baseline * 1.10"`): the baseline is the
//! median of the latest passing runs on the base branch, on the same machine; too few samples
//! make the threshold observed only; `runner baseline accept` starts it anew.

use serde_json::Value;

use crate::harness::{Outcome, Repo};

/// A benchmark gate whose p95 is read from value.txt, measured on every run (`cache = false`,
/// as a benchmark is), on branch `main` of machine `ci-a`, with `thresholds` as given.
fn bench(thresholds: &str) -> Repo {
    let repo = Repo::new().gates(&format!(
        r#"
[gates.bench]
run = "printf '{{\"p95_ms\": %s}}' \"$(cat value.txt)\" > bench.json"
inputs = ["value.txt"]
artifacts = ["bench.json"]
cache = false
thresholds = {{ p95_ms = {thresholds} }}
"#
    ));
    repo.write("value.txt", "100");
    let mut repo = repo;
    for (k, v) in [
        ("GITHUB_HEAD_REF", ""),
        ("GITHUB_BASE_REF", ""),
        ("GITHUB_REF_NAME", "main"),
        ("CI_COMMIT_REF_NAME", ""),
        ("CI_DEFAULT_BRANCH", ""),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", ""),
        ("RUNNER_BASE_BRANCH", ""),
        ("RUNNER_MACHINE", "ci-a"),
    ] {
        repo.set_env(k, v);
    }
    repo
}

/// Run `n` times with the value `v`, each expected to exit `code`.
fn runs(repo: &Repo, v: &str, n: usize, code: i32) {
    repo.write("value.txt", v);
    for _ in 0..n {
        repo.run(&["run", "-q"]).expect_code(code);
    }
}

fn baseline_threshold(repo: &Repo) -> Value {
    repo.gate("bench")["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .find(|t| t.get("baseline").is_some())
        .cloned()
        .expect("a baseline threshold")
}

fn run_with(repo: &Repo, v: &str) -> Outcome {
    repo.write("value.txt", v);
    repo.run(&["run"])
}

#[test]
fn a_15_percent_regression_against_20_green_runs_on_main_fails_naming_the_baseline() {
    let repo = bench(r#""<= baseline * 1.10""#);
    runs(&repo, "100", 20, 0);
    let out = run_with(&repo, "115");
    out.expect_code(1);
    let reason = repo.gate("bench")["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(
        reason,
        "p95_ms 115 (+15.0%) regressed against its baseline 100 (median of 20 passing runs on main): limit <= 110 (<= baseline * 1.1)"
    );
    assert!(out.stdout.contains(&reason), "{}", out.stdout);
    let t = baseline_threshold(&repo);
    assert_eq!(t["pass"], false);
    assert_eq!(t["baseline"]["samples"], 20);
    assert_eq!(t["baseline"]["value"], 100.0);
    // 10% worse is at the limit: it passes.
    run_with(&repo, "110").expect_code(0);
}

#[test]
fn the_same_regression_with_3_samples_is_observed_only_and_says_so() {
    let repo = bench(r#""<= baseline * 1.10""#);
    runs(&repo, "100", 3, 0);
    let out = run_with(&repo, "115");
    out.expect_code(0);
    let t = baseline_threshold(&repo);
    assert_eq!(t["pass"], true);
    assert_eq!(t["baseline"]["observed_only"], true);
    assert_eq!(t["baseline"]["holds"], false);
    assert!(
        out.stderr.contains("note: gate `bench`: p95_ms <= 110")
            && out
                .stderr
                .contains("3 comparable samples, fewer than min_samples 5: observed only"),
        "{}",
        out.stderr
    );
}

#[test]
fn accepting_a_new_baseline_makes_it_pass_and_the_new_one_holds_after() {
    let repo = bench(r#""<= baseline * 1.10""#);
    runs(&repo, "100", 20, 0);
    run_with(&repo, "115").expect_code(1);
    let out = repo.run(&[
        "baseline",
        "accept",
        "bench",
        "--reason",
        "new allocator, intended",
    ]);
    out.expect_code(0);
    let history = repo.read(".runner/history.jsonl");
    let accept: Value =
        serde_json::from_str(history.lines().last().expect("a line")).expect("JSON");
    assert_eq!(accept["gate"], "bench");
    assert_eq!(accept["baseline_accepted"], "new allocator, intended");
    // The accept line is no result: status and graduation ignore it, no warning.
    let status = repo.run(&["status"]);
    status.expect_code(0);
    assert!(!status.stderr.contains("warning"), "{}", status.stderr);
    // The new value passes (no baseline yet), and makes the new baseline.
    runs(&repo, "115", 5, 0);
    // Judged against 115 now: 130 is +13%.
    let out = run_with(&repo, "130");
    out.expect_code(1);
    assert!(
        repo.gate("bench")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("baseline 115 (median of 5 passing runs on main)")),
        "{}",
        out.stdout
    );
    let show = repo.run(&["baseline", "show", "bench"]);
    show.expect_code(0);
    for needle in [
        "since: baseline accepted at",
        "(new allocator, intended)",
        "samples: 5",
        "baseline: 115  limit: <= 126.5",
        "latest: 130 (+13.0%)",
        ": fails",
    ] {
        assert!(show.stdout.contains(needle), "{needle}\n{}", show.stdout);
    }
}

#[test]
fn failed_runs_never_enter_the_baseline() {
    let repo = bench(r#""<= baseline * 1.10""#);
    runs(&repo, "100", 5, 0);
    // Ten failing runs at 115: were they samples, the median of the latest 15 would be 115.
    runs(&repo, "115", 10, 1);
    run_with(&repo, "115").expect_code(1);
    assert_eq!(baseline_threshold(&repo)["baseline"]["value"], 100.0);
    assert_eq!(baseline_threshold(&repo)["baseline"]["samples"], 5);
}

#[test]
fn runs_on_another_machine_are_not_compared() {
    let mut repo = bench(r#""<= baseline * 1.10""#);
    runs(&repo, "100", 20, 0);
    repo.set_env("RUNNER_MACHINE", "laptop");
    let out = run_with(&repo, "115");
    out.expect_code(0);
    let t = baseline_threshold(&repo);
    assert_eq!(t["limit"], Value::Null);
    assert_eq!(t["baseline"]["other_machines"], 20);
    assert!(
        out.stderr.contains(
            "no comparable baseline: the 20 passing runs on main ran on other machines; observed only"
        ),
        "{}",
        out.stderr
    );
    // Back on the first machine, the baseline is there.
    repo.set_env("RUNNER_MACHINE", "ci-a");
    run_with(&repo, "115").expect_code(1);
}

#[test]
fn a_pull_request_compares_with_its_base_branch_only() {
    let mut repo = bench(r#""<= baseline * 1.10""#);
    // A feature branch's own runs are no baseline for it.
    repo.set_env("GITHUB_REF_NAME", "feature");
    runs(&repo, "100", 20, 0);
    repo.set_env("GITHUB_REF_NAME", "12/merge");
    repo.set_env("GITHUB_HEAD_REF", "feature");
    repo.set_env("GITHUB_BASE_REF", "main");
    run_with(&repo, "115").expect_code(0);
    assert_eq!(baseline_threshold(&repo)["baseline"]["samples"], 0);
    // main's runs are.
    repo.set_env("GITHUB_REF_NAME", "main");
    repo.set_env("GITHUB_HEAD_REF", "");
    repo.set_env("GITHUB_BASE_REF", "");
    runs(&repo, "100", 5, 0);
    repo.set_env("GITHUB_REF_NAME", "12/merge");
    repo.set_env("GITHUB_HEAD_REF", "feature");
    repo.set_env("GITHUB_BASE_REF", "main");
    run_with(&repo, "115").expect_code(1);
    // --base-branch picks another base: the feature branch's 20 runs.
    repo.write("value.txt", "115");
    repo.run(&["run", "--base-branch", "feature"])
        .expect_code(1);
    assert_eq!(baseline_threshold(&repo)["baseline"]["branch"], "feature");
}

#[test]
fn min_delta_and_the_table_form() {
    let repo = bench(
        r#"{ max_regression = "10%", min_delta = 20, window = 5, min_samples = 3, statistic = "mean" }"#,
    );
    runs(&repo, "100", 3, 0);
    // +15 is within min_delta 20.
    run_with(&repo, "115").expect_code(0);
    let t = baseline_threshold(&repo);
    assert_eq!(t["baseline"]["holds"], true);
    assert_eq!(t["baseline"]["note"], "within min_delta 20 of the baseline");
    // +25 is not. The mean of the latest 5 passing runs is (100*3 + 115) / 4 (only 4 so far).
    run_with(&repo, "130").expect_code(1);
    let t = baseline_threshold(&repo);
    assert_eq!(t["baseline"]["value"], 103.75);
    assert_eq!(t["baseline"]["statistic"], "mean");
}

#[test]
fn higher_is_better_and_a_fixed_limit_on_the_same_metric() {
    let repo =
        bench(r#"["<= 150", { max_regression = "10%", better = "higher", min_samples = 2 }]"#);
    runs(&repo, "100", 2, 0);
    // A drop of 15% fails the baseline; 160 fails the fixed limit.
    run_with(&repo, "85").expect_code(1);
    assert!(
        repo.gate("bench")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("limit >= 90")),
        "{}",
        repo.gate("bench")
    );
    run_with(&repo, "160").expect_code(1);
    assert_eq!(
        repo.gate("bench")["reason"],
        "threshold p95_ms <= 150 failed: value 160"
    );
    run_with(&repo, "120").expect_code(0);
}

#[test]
fn status_shows_a_sparkline_per_metric() {
    let repo = bench(r#""<= baseline * 1.10""#);
    for v in ["100", "102", "98", "104", "101"] {
        runs(&repo, v, 1, 0);
    }
    let out = repo.run(&["status"]);
    out.expect_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("bench") && l.contains("p95_ms"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains("▃▆▁█▅"), "{line}");
    assert!(line.ends_with("101 (-2.9%)"), "{line}");
}

#[test]
fn baseline_mistakes_are_config_errors_and_usage_errors() {
    let repo = Repo::new().gates(
        r#"
[gates.bench]
run = "true"
artifacts = ["b.json"]
thresholds = { a = "== baseline", b = { max_regression = "ten" }, c = { window = 5 }, d = { max_regression = "5%", statistic = "mode" } }
"#,
    );
    let out = repo.run(&["check"]);
    out.expect_code(2);
    for needle in [
        "baseline threshold `== baseline` must start with one of < <= > >=",
        "max_regression `ten` must be a percentage",
        "threshold `c` of gate `bench` has no `max_regression`",
        "unknown statistic `mode`",
        "4 problems in gates.toml",
    ] {
        assert!(out.stderr.contains(needle), "{needle}\n{}", out.stderr);
    }
    let plain = Repo::new().gates("[gates.a]\nrun = \"true\"\n");
    let out = plain.run(&["baseline", "show", "a"]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("gate `a` has no threshold against a baseline"),
        "{}",
        out.stderr
    );
    let out = plain.run(&["baseline", "accept", "b"]);
    out.expect_code(2);
    assert!(out.stderr.contains("unknown gate `b`"), "{}", out.stderr);
}
