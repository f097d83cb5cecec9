//! Config errors (SPEC 2): every class reported as `gates.toml:LINE:COL`, exit 2, nothing run.

use crate::harness::Repo;

/// Run `runner check` on a config body (without the version line) and return stderr.
fn diagnose(body: &str) -> String {
    let repo = Repo::new();
    repo.write("gates.toml", body);
    repo.write("present.txt", "x");
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert!(!repo.path("cache/report.json").exists(), "nothing ran");
    out.stderr
}

#[test]
fn toml_syntax() {
    insta::assert_snapshot!(diagnose("version = 1\n[gates.a\nrun = \"true\"\n"));
}

#[test]
fn version_missing_or_wrong() {
    insta::assert_snapshot!(diagnose("version = 3\n[gates.a]\nrun = \"true\"\n"));
}

#[test]
fn unknown_key_with_suggestion() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\ntimout = \"5m\"\n"
    ));
}

#[test]
fn key_of_another_kind() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nkind = \"schema\"\nschema = \"present.txt\"\nrun = \"true\"\n"
    ));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\nneeds = \"b\"\ncache = \"yes\"\n"
    ));
}

#[test]
fn unknown_need_with_suggestion() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.build]\nrun = \"true\"\n[gates.test]\nrun = \"true\"\nneeds = [\"biuld\"]\n"
    ));
}

#[test]
fn cycle_as_path() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\nneeds = [\"c\"]\n[gates.b]\nrun = \"true\"\nneeds = [\"a\"]\n[gates.c]\nrun = \"true\"\nneeds = [\"b\"]\n"
    ));
}

#[test]
fn bad_threshold_expression() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\nartifacts = [\"m.json\"]\n[gates.a.thresholds]\np95 = \"=< 50\"\np50 = 3\n"
    ));
}

#[test]
fn artifact_absolute_or_outside() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\nartifacts = [\"/etc/x\", \"../up.txt\"]\n"
    ));
}

#[test]
fn input_glob_matching_nothing() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\ninputs = [\"present.txt\", \"src/**/*.rs\"]\n"
    ));
}

/// A run whose config comes from the snapshot does not hold the file's text: a glob that
/// stops matching shows its line all the same (the text is read when the message needs it).
#[test]
fn input_glob_matching_nothing_after_a_run_from_the_snapshot() {
    let repo = Repo::new();
    repo.write(
        "gates.toml",
        "version = 1\n[gates.a]\nrun = \"true\"\ninputs = [\"present.txt\", \"src/**/*.rs\"]\n",
    );
    repo.write("present.txt", "x");
    repo.write("src/lib.rs", "x");
    repo.run(&["run"]).expect_code(0);
    std::fs::remove_file(repo.path("src/lib.rs")).unwrap();
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains(
            "gates.toml:4:26: input `src/**/*.rs` of gate `a` matches no file\n  |\n4 | inputs = [\"present.txt\", \"src/**/*.rs\"]\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn allow_empty_accepts_an_empty_glob() {
    let repo = Repo::new()
        .gates("[gates.a]\nrun = \"true\"\ninputs = [\"src/**/*.rs\"]\nallow_empty = true\n");
    repo.run(&["run"]).expect_code(0);
}

#[test]
fn unknown_kind_and_mode_and_all_errors_collected() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nkind = \"comand\"\nrun = \"true\"\n[gates.b]\nrun = \"true\"\nmode = \"observe\"\ntimeout = \"10 minutes\"\n"
    ));
}

#[test]
fn thresholds_without_metrics_file() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\nthresholds = { x = \"< 1\" }\n"
    ));
}

#[test]
fn check_reports_ok_and_graph_size() {
    let repo = Repo::new()
        .gates("[gates.a]\nrun = \"true\"\n[gates.b]\nrun = \"true\"\nneeds = [\"a\"]\n");
    let out = repo.run(&["check"]);
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "gates.toml: ok, 2 gates, 1 edge");
}

#[test]
fn missing_config_file() {
    let repo = Repo::new();
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("gates.toml: cannot read the config"),
        "{}",
        out.stderr
    );
}

#[test]
fn resources_unknown_or_counted_zero() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[settings.resources]\ndb = 1\ngpu = 0\n[gates.a]\nrun = \"true\"\nuses = [\"dbb\", \"gpu\", \"cache-server\"]\n"
    ));
}

#[test]
fn resource_used_but_none_declared() {
    insta::assert_snapshot!(diagnose(
        "version = 1\n[gates.a]\nrun = \"true\"\nuses = [\"db\"]\nretries = -1\n"
    ));
}
