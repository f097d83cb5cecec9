//! Verdicts a team can trust (issue 12): no vacuous pass, nothing stale on disk, outcomes that
//! say which failures block. Each test failed before the change it covers.

use crate::harness::Repo;

/// The history lines of a repository, parsed.
fn history(repo: &Repo) -> Vec<serde_json::Value> {
    repo.read(".runner/history.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a history line"))
        .collect()
}

#[test]
fn a_checklist_without_items_trips_the_no_op_guard() {
    let repo = Repo::new().gates("[gates.phase]\nkind = \"checklist\"\nfile = \"plan.md\"\n");
    repo.write("plan.md", "# Plan\n\nNothing to tick here.\n");
    let out = repo.run(&["run"]);
    out.expect_code(1);
    let g = repo.gate("phase");
    assert_eq!(g["status"], "error");
    let guard = g["guard"]
        .as_str()
        .expect("the report records the guard trip");
    assert!(guard.contains("judged 0 checklist items"), "{guard}");
    assert_eq!(g["reason"], g["guard"]);
    // The guard's audit log: the history line carries the reason.
    let lines = history(&repo);
    assert_eq!(lines[0]["guard"], g["guard"]);
    // And `runner status` shows it.
    let status = repo.run(&["status"]);
    assert!(status.stdout.contains("(no-op guard)"), "{}", status.stdout);
    // With an item the same gate passes, and its history line has no guard.
    repo.write("plan.md", "- [x] done\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(history(&repo)[1]["status"], "pass");
    assert!(history(&repo)[1].get("guard").is_none());
}

#[test]
fn a_schema_gate_over_no_document_is_an_error_not_a_pass() {
    let repo = Repo::new().gates(
        "[gates.docs]\nkind = \"schema\"\nschema = \"s.json\"\ninputs = [\"docs/*.json\"]\nallow_empty = true\n",
    );
    repo.write("s.json", r#"{"type": "object"}"#);
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("docs");
    assert_eq!(g["status"], "error");
    assert!(g["guard"].as_str().unwrap().contains("0 documents"), "{g}");
    repo.write("docs/a.json", "{}");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.gate("docs")["status"], "pass");
}

#[test]
fn thresholds_over_an_empty_or_non_json_artifact_trip_the_guard() {
    for (content, words) in [
        ("", "is empty"),
        ("   ", "is empty"),
        ("p95=3", "not valid JSON"),
    ] {
        let repo = Repo::new().gates(&format!(
            "[gates.bench]\nrun = \"mkdir -p out && printf '{content}' > out/m.json\"\nartifacts = [\"out/m.json\"]\nthresholds = {{ p95 = \"<= 50\" }}\n"
        ));
        repo.run(&["run"]).expect_code(1);
        let g = repo.gate("bench");
        assert_eq!(g["status"], "error", "{content:?}");
        let guard = g["guard"].as_str().expect("guard recorded");
        assert!(guard.contains(words), "{content:?}: {guard}");
    }
    // A number where the threshold looks passes: the guard is about checking nothing only.
    let repo = Repo::new().gates(
        "[gates.bench]\nrun = \"mkdir -p out && echo '{\\\"p95\\\": 3}' > out/m.json\"\nartifacts = [\"out/m.json\"]\nthresholds = { p95 = \"<= 50\" }\n",
    );
    repo.run(&["run"]).expect_code(0);
    assert!(repo.gate("bench").get("guard").is_none());
}

#[test]
fn a_benchmark_is_measured_again_on_every_run() {
    let repo = Repo::new().gates(
        "[gates.pqc]\nkind = \"pqc-bench\"\niterations = 5\nartifacts = [\"tmp/pqc.json\"]\n",
    );
    repo.run(&["run"]).expect_code(0);
    let first = repo.read("tmp/pqc.json");
    repo.run(&["run"]).expect_code(0);
    let g = repo.gate("pqc");
    assert_eq!(g["cached"], false, "a measurement is never replayed: {g}");
    assert_eq!(g["status"], "pass");
    // The artifact is this run's measurement (keygen time differs between runs).
    assert!(!repo.read("tmp/pqc.json").is_empty());
    let _ = first;
    let plan = repo.run(&["run", "--dry-run"]);
    assert!(plan.stdout.contains("never cached"), "{}", plan.stdout);
}

#[test]
fn a_failing_gate_does_not_leave_last_runs_artifact_behind() {
    // The gate writes its artifact, unless `broken` exists: then it fails before writing.
    let repo = Repo::new().gates(
        "[gates.g]\nrun = \"test -e broken && exit 1; mkdir -p out && echo '{\\\"result\\\": true}' > out/g.json\"\ninputs = [\"flag*\"]\nallow_empty = true\nartifacts = [\"out/g.json\"]\n",
    );
    repo.run(&["run"]).expect_code(0);
    assert!(repo.path("out/g.json").exists());
    repo.write("broken", "");
    repo.write("flag", "changed");
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.gate("g")["status"], "fail");
    assert!(
        !repo.path("out/g.json").exists(),
        "the old artifact says result: true after a failure"
    );
}

#[test]
fn a_skipped_or_not_run_gate_leaves_no_stale_artifact_for_its_dependents() {
    let repo = Repo::new().gates(
        r#"
[gates.up]
run = "mkdir -p out && echo 1 > out/up.txt"
artifacts = ["out/up.txt"]
skip_unless_env = { UP = "1" }

[gates.down]
run = "cat out/up.txt > out/down.txt"
needs = ["up"]
artifacts = ["out/down.txt"]
"#,
    );
    let mut repo = repo.env("UP", "1");
    repo.run(&["run"]).expect_code(0);
    assert!(repo.path("out/up.txt").exists());
    // Now `up` skips: its artifact goes, so `down` cannot read last run's file.
    repo.set_env("UP", "0");
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.gate("up")["status"], "skip");
    assert!(!repo.path("out/up.txt").exists());
    // `down` ran on the missing file and failed: a verdict of this run, not of the last.
    assert_eq!(repo.gate("down")["status"], "fail");
}

#[test]
fn a_not_run_gate_has_no_artifact_from_an_earlier_run() {
    let repo = Repo::new().gates(
        r#"
[gates.up]
run = "test -e broken && exit 1; true"
inputs = ["flag*"]
allow_empty = true

[gates.down]
run = "mkdir -p out && echo ok > out/down.txt"
needs = ["up"]
artifacts = ["out/down.txt"]
"#,
    );
    repo.run(&["run"]).expect_code(0);
    assert!(repo.path("out/down.txt").exists());
    repo.write("broken", "");
    repo.write("flag", "x");
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.gate("down")["status"], "not_run");
    assert!(!repo.path("out/down.txt").exists());
}

#[test]
fn a_gate_skipped_by_env_does_not_run_what_only_it_needs() {
    let repo = Repo::new().gates(
        r#"
[gates.build]
run = "echo built >> build.log"

[gates.smoke]
run = "true"
needs = ["build"]
skip_unless_env = { SMOKE = "1" }
"#,
    );
    for args in [&["run", "smoke"][..], &["run", "-q", "smoke"]] {
        let out = repo.run(args);
        out.expect_code(78);
        assert!(
            !repo.path("build.log").exists(),
            "build ran for a skipped gate"
        );
        let report = repo.report();
        let names: Vec<&str> = report["gates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["smoke"]);
        assert!(
            out.stderr
                .contains("note: gate `smoke` skipped: requires SMOKE=1"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // A need that a running gate also wants still runs.
    let repo = repo.env("SMOKE", "1");
    repo.run(&["run", "smoke"]).expect_code(0);
    assert!(repo.path("build.log").exists());
}

#[test]
fn observational_failures_are_warnings_in_the_output_and_the_summary_counts_both() {
    let repo = Repo::new().gates(
        r#"
[gates.hard]
run = "exit 1"

[gates.soft]
run = "exit 1"
mode = "observational"

[gates.soft2]
run = "exit 2"
mode = "observational"
"#,
    );
    let out = repo.run(&["run"]);
    out.expect_code(1);
    let line = |gate: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(gate))
            .unwrap_or_else(|| panic!("no line for {gate}:\n{}", out.stdout))
            .to_owned()
    };
    assert!(line("hard").starts_with("FAIL"), "{}", line("hard"));
    assert!(line("soft").starts_with("WARN"), "{}", line("soft"));
    assert!(
        line("soft").contains("(observational, fail)"),
        "{}",
        line("soft")
    );
    let summary = out.stdout.lines().last().unwrap();
    assert!(
        summary.contains("1 blocking failure, 2 observed"),
        "{summary}"
    );
    // -q prints the blocking failure with its reason, not the observed ones.
    let out = repo.run(&["run", "-q"]);
    assert!(
        out.stdout.contains("FAIL    hard") && out.stdout.contains("command exited with code 1"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("WARN"), "{}", out.stdout);
}

#[test]
fn an_export_with_a_bad_metric_path_is_a_config_error() {
    let repo = Repo::new().gates(
        "[gates.g]\nrun = \"true\"\nartifacts = [\"m.json\"]\nexport = { \"x.y\" = \"a..b\" }\n",
    );
    let out = repo.run(&["check"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("gates.toml:")
            && out.stderr.contains("export = { \"x.y\" = \"a..b\" }")
            && out.stderr.contains("export `x.y` of gate `g`")
            && out.stderr.contains("empty segment"),
        "{}",
        out.stderr
    );
}

#[test]
fn skip_exit_code_is_recorded_with_the_outcome() {
    let repo = Repo::new().gates("[gates.s]\nrun = \"exit 78\"\n");
    repo.run(&[
        "run",
        "--skip-exit-code",
        "0",
        "--summary",
        "sum.md",
        "--metrics",
        "m.prom",
    ])
    .expect_code(0);
    let r = repo.report();
    assert_eq!(r["outcome"], "skipped");
    assert_eq!(r["exit_code"], 0);
    assert!(repo.read("m.prom").contains("runner_run_exit_code 0"));
    let md = repo.read("sum.md");
    assert!(
        md.contains("every gate was skipped") && md.contains("exit 0"),
        "{md}"
    );
    // Without the flag: 78 in both.
    repo.run(&["run"]).expect_code(78);
    assert_eq!(repo.report()["exit_code"], 78);
    assert_eq!(repo.report()["outcome"], "skipped");
}

#[test]
fn config_problems_of_every_class_come_in_one_pass() {
    // An unknown key, a cycle and a glob matching nothing: all three, in one run.
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "true"
needs = ["b"]
colour = "blue"

[gates.b]
run = "true"
needs = ["a"]

[gates.c]
run = "true"
inputs = ["nothing/*.txt"]
"#,
    );
    let out = repo.run(&["check"]);
    out.expect_code(2);
    for words in [
        "unknown key `colour`",
        "dependency cycle: a -> b -> a",
        "matches no file",
        "error: 3 problems in gates.toml",
    ] {
        assert!(out.stderr.contains(words), "{words}:\n{}", out.stderr);
    }
    // In the file's order: the key (in a), the cycle (at a's header, before it), the glob.
    let at = |w: &str| out.stderr.find(w).unwrap();
    assert!(at("dependency cycle") < at("colour") && at("colour") < at("matches no file"));
    // Fixing the key alone still reports the other two, together.
    let repo = Repo::new().gates(
        "[gates.a]\nrun = \"true\"\nneeds = [\"b\"]\n[gates.b]\nrun = \"true\"\nneeds = [\"a\"]\n[gates.c]\nrun = \"true\"\ninputs = [\"nothing/*.txt\"]\n",
    );
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("dependency cycle") && out.stderr.contains("matches no file"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("2 problems"), "{}", out.stderr);
}

#[test]
fn an_artifact_that_its_own_inputs_match_is_a_config_error() {
    for inputs in [r#"["out/**"]"#, r#"["out"]"#, r#"["out/report.json"]"#] {
        let repo = Repo::new().gates(&format!(
            "[gates.g]\nrun = \"true\"\ninputs = {inputs}\nallow_empty = true\nartifacts = [\"out/report.json\"]\n"
        ));
        let out = repo.run(&["check"]);
        out.expect_code(2);
        assert!(
            out.stderr
                .contains("matches its own artifact `out/report.json`")
                && out.stderr.contains("\"!out/report.json\""),
            "{inputs}: {}",
            out.stderr
        );
    }
    // Excluded, it is fine.
    let repo = Repo::new().gates(
        "[gates.g]\nrun = \"true\"\ninputs = [\"out/**\", \"!out/report.json\"]\nallow_empty = true\nartifacts = [\"out/report.json\"]\n",
    );
    repo.run(&["check"]).expect_code(0);
}

#[test]
fn a_gate_without_thresholds_still_exports_its_metrics() {
    let repo = Repo::new().gates(
        "[gates.bench]\nrun = \"mkdir -p out && echo '{\\\"p95\\\": 12.5}' > out/m.json\"\nartifacts = [\"out/m.json\"]\nexport = { \"bench.p95\" = \"p95\" }\n",
    );
    repo.run(&["run", "--metrics", "m.prom"]).expect_code(0);
    assert_eq!(repo.gate("bench")["exports"][0]["value"], 12.5);
    assert!(
        repo.read("m.prom")
            .contains("bench_p95{gate=\"bench\"} 12.5"),
        "{}",
        repo.read("m.prom")
    );
}
