//! Every status and exit code of SPEC 3.

use crate::harness::Repo;

#[test]
fn pass_exits_zero_and_reports() {
    let repo = Repo::new().gates(
        r#"
[gates.ok]
run = """mkdir -p out && echo '{"score": 0.9}' > out/m.json"""
artifacts = ["out/m.json"]
thresholds = { score = ">= 0.7" }
"#,
    );
    repo.run(&["run"]).expect_code(0);
    let g = repo.gate("ok");
    assert_eq!(g["status"], "pass");
    assert_eq!(g["reason"], serde_json::Value::Null);
    assert_eq!(g["thresholds"][0]["value"], 0.9);
    assert_eq!(g["thresholds"][0]["pass"], true);
    let r = repo.report();
    assert_eq!(r["version"], 1);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["summary"]["pass"], 1);
}

#[test]
fn blocking_failure_exits_one_with_reason() {
    let repo = Repo::new().gates("[gates.bad]\nrun = \"echo boom >&2; exit 3\"\n");
    let out = repo.run(&["run"]);
    out.expect_code(1);
    assert!(
        out.stdout.contains("boom"),
        "log tail shown for failures: {}",
        out.stdout
    );
    assert_eq!(repo.gate("bad")["status"], "fail");
    assert_eq!(repo.gate("bad")["reason"], "command exited with code 3");
}

#[test]
fn threshold_failure_is_fail_with_value_and_limit() {
    let repo = Repo::new().gates(
        r#"
[gates.slow]
run = "echo '{\"p95\": 80}' > m.json"
artifacts = ["m.json"]
thresholds = { p95 = "<= 50" }
"#,
    );
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("slow");
    assert_eq!(g["status"], "fail");
    assert_eq!(g["reason"], "threshold p95 <= 50 failed: value 80");
}

#[test]
fn observational_failure_warns_labels_and_exits_zero() {
    let repo = Repo::new().gates(
        "[gates.ok]\nrun = \"true\"\n\n[gates.smoke]\nmode = \"observational\"\nrun = \"exit 1\"\n",
    );
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("warning: observational gate `smoke`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        repo.report()["labels"],
        serde_json::json!(["smoke-failed:smoke"])
    );
    assert_eq!(repo.gate("smoke")["mode"], "observational");
}

#[test]
fn exit_78_skips_and_all_skipped_exits_78() {
    let repo = Repo::new().gates("[gates.a]\nrun = \"exit 78\"\n\n[gates.b]\nrun = \"true\"\nskip_unless_env = { FLAG = \"1\" }\n");
    repo.run(&["run"]).expect_code(78);
    assert_eq!(repo.status("a").0, "skip");
    assert_eq!(repo.status("b").0, "skip");
    assert_eq!(repo.gate("b")["reason"], "skipped: requires FLAG=1");
    repo.run(&["run", "--skip-exit-code", "0"]).expect_code(0);
}

#[test]
fn skip_unless_env_met_runs_the_gate() {
    let repo = Repo::new()
        .env("FLAG", "1")
        .gates("[gates.b]\nrun = \"true\"\nskip_unless_env = { FLAG = \"1\" }\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("b").0, "pass");
}

#[test]
fn errors_missing_artifact_and_non_numeric_metric() {
    let repo = Repo::new().gates(
        r#"
[gates.missing]
run = "true"
artifacts = ["never.txt"]

[gates.nan]
run = "echo '{\"x\": \"fast\"}' > m.json"
artifacts = ["m.json"]
thresholds = { x = "< 1" }

[gates.absent]
run = "echo '{}' > a.json"
artifacts = ["a.json"]
thresholds = { "deep.x" = "< 1" }
"#,
    );
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("missing").0, "error");
    assert_eq!(
        repo.gate("missing")["reason"],
        "declared artifact missing: never.txt"
    );
    assert_eq!(repo.status("nan").0, "error");
    assert!(
        repo.gate("nan")["reason"]
            .as_str()
            .unwrap()
            .contains("not a number")
    );
    assert_eq!(
        repo.gate("absent")["reason"],
        "metric `deep.x` is absent from a.json"
    );
}

#[test]
fn not_run_when_a_need_fails_and_skip_satisfies_needs() {
    let repo = Repo::new().gates(
        r#"
[gates.broken]
run = "exit 1"

[gates.after]
run = "true"
needs = ["broken"]

[gates.skipper]
run = "exit 78"

[gates.after-skip]
run = "true"
needs = ["skipper"]
"#,
    );
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("after").0, "not_run");
    assert_eq!(
        repo.gate("after")["reason"],
        "not run: needs `broken` (fail) which did not pass"
    );
    assert_eq!(repo.status("after-skip").0, "pass");
    let s = &repo.report()["summary"];
    assert_eq!(
        (
            s["pass"].as_u64(),
            s["fail"].as_u64(),
            s["skip"].as_u64(),
            s["not_run"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
}

#[test]
fn spawn_environment_has_runner_gate() {
    let repo = Repo::new()
        .gates("[gates.who]\nrun = \"echo $RUNNER_GATE > who.txt\"\nartifacts = [\"who.txt\"]\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("who.txt").trim(), "who");
}

#[test]
fn selection_by_name_and_tag_includes_needs() {
    let repo = Repo::new().gates(
        "[gates.a]\nrun = \"true\"\n\n[gates.b]\nrun = \"true\"\nneeds = [\"a\"]\ntags = [\"t\"]\n\n[gates.c]\nrun = \"true\"\n",
    );
    repo.run(&["run", "b"]).expect_code(0);
    let names: Vec<String> = repo.report()["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "b"]);
    repo.run(&["run", "--tag", "t"]).expect_code(0);
    assert_eq!(repo.report()["gates"].as_array().unwrap().len(), 2);
    let out = repo.run(&["run", "bb"]);
    out.expect_code(2);
    assert!(out.stderr.contains("did you mean `b`?"), "{}", out.stderr);
}

#[test]
fn report_path_flag() {
    let repo = Repo::new().gates("[gates.a]\nrun = \"true\"\n");
    repo.run(&["run", "--report", "out/r.json"]).expect_code(0);
    let r: serde_json::Value = serde_json::from_str(&repo.read("out/r.json")).unwrap();
    assert_eq!(r["gates"][0]["name"], "a");
}
