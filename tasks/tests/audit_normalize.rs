//! `audit-normalize` (formerly `runner audit normalize`, whose integration tests these are):
//! the samples give the expected report, the report validates against its schema, and bad
//! inputs are listed with file and `[index].field`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// A temporary folder standing for the repository root, where the binary runs.
struct Repo {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What a run of the binary gave.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// Panic with the whole output unless the exit code is `code`.
    #[track_caller]
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Repo {
    fn new() -> Self {
        Repo {
            dir: tempfile::tempdir().expect("tempdir"),
            env: Vec::new(),
        }
    }

    /// Set an environment variable for every later run.
    fn env(mut self, key: &str, value: &str) -> Self {
        self.set_env(key, value);
        self
    }

    fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Write a file (folders created).
    fn write(&self, rel: &str, content: &str) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
        self
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Run `audit-normalize ARGS` in the folder, without an inherited `RUNNER_NOW`.
    fn run(&self, args: &[&str]) -> Outcome {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-normalize"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_remove("RUNNER_NOW");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run audit-normalize");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

const SAMPLES: [&str; 3] = [
    "structural_gaps.json",
    "failure_modes.json",
    "fact_checks.json",
];
const OUT: &str = "tmp/audit_report.json";

/// A file of this repository (the samples, the expected report, the schema), relative to
/// the repository root (the parent of the tasks crate).
fn source(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A temporary repository holding the three samples under `samples/audit/`.
fn samples_repo() -> Repo {
    let repo = Repo::new();
    for name in SAMPLES {
        let rel = format!("samples/audit/{name}");
        repo.write(&rel, &source(&rel));
    }
    repo
}

/// `audit-normalize FILES... --out tmp/audit_report.json`.
fn normalize(repo: &Repo, files: &[&str]) -> Outcome {
    let mut args: Vec<&str> = Vec::new();
    args.extend_from_slice(files);
    args.extend_from_slice(&["--out", OUT]);
    repo.run(&args)
}

/// The README's command line: the three samples as given from the repository root.
fn sample_args() -> Vec<String> {
    SAMPLES
        .iter()
        .map(|name| format!("samples/audit/{name}"))
        .collect()
}

fn report(repo: &Repo) -> Value {
    serde_json::from_str(&repo.read(OUT)).expect("the report is JSON")
}

/// Panic with every violation unless `report` is valid against `audit_report.schema.json`.
#[track_caller]
fn assert_schema_valid(report: &Value) {
    let schema: Value =
        serde_json::from_str(&source("schemas/audit_report.schema.json")).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "report violates the schema:\n{}",
        problems.join("\n")
    );
}

#[test]
fn samples_give_the_expected_report() {
    let repo = samples_repo();
    let files = sample_args();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = normalize(&repo, &files);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("17 findings (0 critical, 3 high, 6 medium, 4 low, 4 info)"),
        "{}",
        out.stdout
    );
    let expected: Value =
        serde_json::from_str(&source("samples/audit/expected_audit_report.json")).unwrap();
    let got = report(&repo);
    assert_eq!(got, expected);
    assert!(
        got.get("generated_at").is_none(),
        "no generated_at without a fixed clock"
    );
    assert_schema_valid(&got);
    assert!(
        repo.read(OUT).ends_with("}\n"),
        "pretty JSON with a final newline"
    );
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let repo = samples_repo();
    let files = sample_args();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    normalize(&repo, &files).expect_code(0);
    let first = repo.read(OUT);
    normalize(&repo, &files).expect_code(0);
    assert_eq!(repo.read(OUT), first);
}

#[test]
fn runner_now_adds_generated_at_in_utc() {
    let repo = samples_repo().env("RUNNER_NOW", "2026-11-24T12:00:00+02:00");
    normalize(&repo, &["samples/audit/fact_checks.json"]).expect_code(0);
    let got = report(&repo);
    assert_eq!(got["generated_at"], "2026-11-24T10:00:00Z");
    assert_schema_valid(&got);

    let mut repo = repo;
    repo.set_env("RUNNER_NOW", "yesterday");
    std::fs::remove_file(repo.path(OUT)).unwrap();
    let out = normalize(&repo, &["samples/audit/fact_checks.json"]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("RUNNER_NOW `yesterday` is not an RFC 3339 time"),
        "{}",
        out.stderr
    );
    assert!(!repo.path(OUT).exists());
}

#[test]
fn critical_findings_are_written_and_every_rule_validates() {
    // Keys decide the format of these names; the report still validates.
    let repo = Repo::new();
    repo.write(
        "in/gaps.json",
        &json!([
            {"finding_id": "G.1", "severity": " CRITICAL ", "gap_description": "First line\nsecond. line",
             "evidence": "e", "recommendation": "r", "owner": "team", "eta_days": 0},
            {"finding_id": "G_2", "severity": "Moderate", "gap_description": "x".repeat(140),
             "evidence": "e", "recommendation": "r"}
        ])
        .to_string(),
    );
    repo.write(
        "in/modes.json",
        &json!([{"failure_mode": "Everything fails.", "likelihood": "HIGH", "impact": "high",
                 "mitigation": "m", "owner": "ops", "unknown": [1, 2]}])
        .to_string(),
    );
    repo.write(
        "in/claims.json",
        &json!([{"claim": "It is so. Because.", "verification_status": "Refuted", "sources": ["s1", "s2"],
                 "confidence": 0.8}])
        .to_string(),
    );
    normalize(&repo, &["in/gaps.json", "in/modes.json", "in/claims.json"]).expect_code(0);
    let got = report(&repo);
    assert_schema_valid(&got);
    let ids: Vec<&str> = got["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["G.1", "FM-001", "FC-001", "G_2"]);
    assert_eq!(
        got["counts"],
        json!({"critical": 3, "high": 0, "medium": 1, "low": 0, "info": 0, "total": 4})
    );
    assert_eq!(
        got["inputs"],
        json!([
            {"file": "in/gaps.json", "format": "structural_gaps", "findings": 2},
            {"file": "in/modes.json", "format": "failure_modes", "findings": 1},
            {"file": "in/claims.json", "format": "fact_checks", "findings": 1}
        ])
    );
    let first = &got["findings"][0];
    assert_eq!(
        (
            first["title"].as_str(),
            first["owner"].as_str(),
            first["eta_days"].as_u64()
        ),
        (Some("First line"), Some("team"), Some(0))
    );
    assert_eq!(got["findings"][1]["eta_days"], 1);
    assert_eq!(got["findings"][2]["title"], "It is so");
    assert_eq!(
        got["findings"][2]["evidence"],
        "verification_status=refuted, confidence=80%; sources: s1; s2"
    );
    assert_eq!(
        got["findings"][3]["title"],
        format!("{}...", "x".repeat(97))
    );
}

#[test]
fn bad_inputs_exit_two_name_file_and_field_and_write_nothing() {
    let gap = |extra: Value| {
        let mut entry = json!({"finding_id": "SG-1", "severity": "high", "gap_description": "g",
                               "evidence": "e", "recommendation": "r"});
        entry
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        entry
    };
    let claim = |confidence: Value| json!({"claim": "c", "verification_status": "verified", "sources": [], "confidence": confidence});
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing field",
            json!([gap(json!({})), {"finding_id": "SG-2", "severity": "low", "evidence": "e", "recommendation": "r"}]).to_string(),
            "samples/audit/structural_gaps.json: [1].gap_description: required field is missing",
        ),
        (
            "wrong enum",
            json!([gap(json!({"severity": "urgent"}))]).to_string(),
            "samples/audit/structural_gaps.json: [0].severity: unknown value `urgent`; expected one of critical, high, medium, low, info",
        ),
        (
            "duplicate id",
            json!([gap(json!({})), gap(json!({}))]).to_string(),
            "samples/audit/structural_gaps.json: [1].finding_id: duplicate id `SG-1`: used by samples/audit/structural_gaps.json [0] and by samples/audit/structural_gaps.json [1]",
        ),
        (
            "eta_days not an integer",
            json!([gap(json!({"eta_days": 7.5}))]).to_string(),
            "samples/audit/structural_gaps.json: [0].eta_days: must be a non-negative integer such as 7, found 7.5",
        ),
        ("not JSON", "[{".to_owned(), "samples/audit/structural_gaps.json: not valid JSON:"),
        ("not an array", "{}".to_owned(), "samples/audit/structural_gaps.json: the top level must be an array"),
    ];
    for (what, content, want) in cases {
        let repo = samples_repo();
        repo.write("samples/audit/structural_gaps.json", &content);
        let files = sample_args();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let out = normalize(&repo, &files);
        out.expect_code(2);
        assert!(
            out.stderr.lines().any(|l| l.starts_with(want)),
            "{what}: want a line starting {want:?}\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("no report written"),
            "{what}: {}",
            out.stderr
        );
        assert!(!repo.path(OUT).exists(), "{what}: no report on errors");
    }

    // A bad confidence in the third file: the other two are fine.
    let repo = samples_repo();
    repo.write(
        "samples/audit/fact_checks.json",
        &json!([claim(json!(0.5)), claim(json!(1.5))]).to_string(),
    );
    let files = sample_args();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = normalize(&repo, &files);
    out.expect_code(2);
    assert!(
        out.stderr.contains("samples/audit/fact_checks.json: [1].confidence: must be a number from 0 to 1, found 1.5"),
        "{}",
        out.stderr
    );
    assert!(!repo.path(OUT).exists());
}

#[test]
fn every_error_of_every_file_is_listed() {
    let repo = Repo::new();
    repo.write(
        "a/failure_modes.json",
        r#"[{"failure_mode": "f", "likelihood": "often", "impact": "low", "mitigation": "m"}]"#,
    );
    repo.write("b/fact_checks.json", r#"[{"claim": "", "verification_status": "verified", "sources": [1], "confidence": "high"}, 3]"#);
    repo.write("c/unknown.json", "[]");
    let out = normalize(
        &repo,
        &[
            "a/failure_modes.json",
            "b/fact_checks.json",
            "c/unknown.json",
            "d/missing.json",
        ],
    );
    out.expect_code(2);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let want = [
        "a/failure_modes.json: [0].likelihood: unknown value `often`; expected one of low, medium, high",
        "a/failure_modes.json: [0].owner: required field is missing",
        "b/fact_checks.json: [0].claim: must not be empty",
        "b/fact_checks.json: [0].sources[0]: expected a string, found a number",
        "b/fact_checks.json: [0].confidence: expected a number, found a string",
        "b/fact_checks.json: [1]: an entry must be an object, found a number",
        "c/unknown.json: cannot decide the format: the array is empty and the file name is not structural_gaps, failure_modes or fact_checks",
    ];
    assert_eq!(lines[..want.len()], want, "{}", out.stderr);
    assert!(
        lines[want.len()].starts_with("d/missing.json: cannot read the file: "),
        "{}",
        out.stderr
    );
    assert_eq!(
        lines[want.len() + 1],
        "error: 8 problems in the audit inputs; no report written"
    );
    assert!(!repo.path(OUT).exists());
}

#[test]
fn a_report_that_cannot_be_written_exits_one() {
    let repo = samples_repo();
    // A file where the output's folder should be: no folder can be made there.
    repo.write("tmp", "not a folder");
    let out = normalize(&repo, &["samples/audit/fact_checks.json"]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("cannot write the audit report tmp/audit_report.json"),
        "{}",
        out.stderr
    );
}

// The command line of the program itself (in the runner, clap parsed it).

#[test]
fn no_input_files_is_a_usage_error() {
    let repo = samples_repo();
    for args in [&[][..], &["--out", "x.json"][..]] {
        let out = repo.run(args);
        out.expect_code(2);
        assert_eq!(
            out.stderr, "error: no input files; usage: audit-normalize FILE... --out PATH\n",
            "{args:?}"
        );
    }
    assert!(!repo.path("x.json").exists());
    assert!(!repo.path("audit_report.json").exists());
}

#[test]
fn out_defaults_to_audit_report_json_in_the_current_folder() {
    let repo = samples_repo();
    let out = repo.run(&["samples/audit/fact_checks.json"]);
    out.expect_code(0);
    assert!(
        out.stdout.starts_with("wrote audit_report.json: "),
        "{}",
        out.stdout
    );
    let got: Value = serde_json::from_str(&repo.read("audit_report.json")).unwrap();
    assert_eq!(got["inputs"][0]["file"], "samples/audit/fact_checks.json");
    assert_eq!(got["inputs"][0]["format"], "fact_checks");
    assert_schema_valid(&got);
}

#[test]
fn options_may_come_first_and_operands_after_double_dash() {
    let repo = samples_repo();
    repo.write(
        "--odd/fact_checks.json",
        &source("samples/audit/fact_checks.json"),
    );
    let out = repo.run(&["--out=tmp/r.json", "--", "--odd/fact_checks.json"]);
    out.expect_code(0);
    let got: Value = serde_json::from_str(&repo.read("tmp/r.json")).unwrap();
    assert_eq!(got["inputs"][0]["file"], "--odd/fact_checks.json");
}

#[test]
fn help_and_unknown_options() {
    let repo = Repo::new();
    let help = repo.run(&["--help"]);
    help.expect_code(0);
    assert!(
        help.stdout
            .contains("Usage: audit-normalize FILE... [--out PATH]"),
        "{}",
        help.stdout
    );
    let unknown = repo.run(&["a.json", "--format", "x"]);
    unknown.expect_code(2);
    assert!(
        unknown
            .stderr
            .starts_with("audit-normalize: error: unknown option `--format`"),
        "{}",
        unknown.stderr
    );
    let missing = repo.run(&["a.json", "--out"]);
    missing.expect_code(2);
    assert!(
        missing.stderr.contains("--out needs a value"),
        "{}",
        missing.stderr
    );
}
