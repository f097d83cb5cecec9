//! The `policy` kind's table of cases (SPEC 7, v2) through the binary: the repository's own
//! `governance` gate against policies that allow or deny everything, the shorthand, the cache
//! key, and the config errors of the two forms.

use std::path::Path;

use serde_json::Value;

use crate::harness::Repo;

/// A file of this repository.
fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `[gates.governance]` table of the repository's gates.toml, as written there.
fn suite_governance_gate() -> String {
    let text = repo_file("gates.toml");
    let start = text
        .find("[gates.governance]")
        .expect("gates.toml has a governance gate");
    let rest = &text[start..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |at| at + 2);
    rest[..end].to_owned()
}

const SAMPLES: [&str; 2] = [
    "policies/samples/sensitive_event.json",
    "policies/samples/sensitive_event_denied.json",
];

/// A repository holding the suite's governance gate and samples, with `policy` as the Rego
/// file the gate loads.
fn governance_repo(policy: &str) -> Repo {
    let repo = Repo::new().gates(&suite_governance_gate());
    for sample in SAMPLES {
        repo.write(sample, &repo_file(sample));
    }
    repo.write("policies/sensitive_signal_guard.rego", policy);
    repo
}

fn artifact(repo: &Repo) -> Value {
    serde_json::from_str(&repo.read("tmp/governance.json")).expect("artifact is JSON")
}

fn reason(repo: &Repo, gate: &str) -> String {
    repo.gate(gate)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// (file, line) of each finding of a gate in the last report.
fn findings(repo: &Repo, gate: &str) -> Vec<(String, Option<u64>)> {
    repo.gate(gate)["findings"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|f| {
                    (
                        f["file"].as_str().unwrap_or_default().to_owned(),
                        f["line"].as_u64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_suite_gate_judges_both_samples_with_the_real_policy() {
    let repo = governance_repo(&repo_file("policies/sensitive_signal_guard.rego"));
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("governance"), ("pass".into(), false));
    let artifact = artifact(&repo);
    assert_eq!(
        (&artifact["passed"], &artifact["failed"]),
        (&2.into(), &0.into())
    );
    let inputs: Vec<&str> = artifact["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|case| case["input"].as_str())
        .collect();
    assert_eq!(inputs, SAMPLES, "both samples are cases of the suite gate");
    assert_eq!(artifact["cases"][1]["result"], false);
}

#[test]
fn an_allow_all_policy_fails_the_suite_gate_naming_the_denied_sample() {
    let repo = governance_repo("package matriz.governance\n\nallow := true\n");
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("governance").0, "fail");
    let reason = reason(&repo, "governance");
    assert!(
        reason.starts_with("1 of 2 cases failed (data.matriz.governance.allow):"),
        "{reason}"
    );
    assert!(
        reason.contains(
            "policies/samples/sensitive_event_denied.json: expected false, got true; no deny message contains"
        ),
        "{reason}"
    );
    assert!(
        !reason.contains("policies/samples/sensitive_event.json:"),
        "the allowed sample passes: {reason}"
    );
    assert_eq!(
        findings(&repo, "governance"),
        [(
            "policies/samples/sensitive_event_denied.json".to_owned(),
            None
        )]
    );
    let artifact = artifact(&repo);
    assert_eq!(
        (&artifact["passed"], &artifact["failed"]),
        (&1.into(), &1.into())
    );
}

#[test]
fn a_deny_all_policy_fails_the_suite_gate_naming_the_allowed_sample() {
    let repo = governance_repo(
        "package matriz.governance\n\ndefault allow := false\n\ndeny contains \"nothing may be processed\" if true\n",
    );
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("governance").0, "fail");
    let reason = reason(&repo, "governance");
    assert!(
        reason.contains(
            "policies/samples/sensitive_event.json: expected true, got false; deny: \"nothing may be processed\""
        ),
        "{reason}"
    );
    // The denied sample is denied, but not for the reason the suite expects.
    assert!(
        reason.contains(
            "policies/samples/sensitive_event_denied.json: got false as expected; no deny message contains"
        ),
        "{reason}"
    );
    assert!(reason.starts_with("2 of 2 cases failed"), "{reason}");
    let files: Vec<String> = findings(&repo, "governance")
        .into_iter()
        .map(|(file, _)| file)
        .collect();
    assert_eq!(files, SAMPLES);
}

#[test]
fn every_case_input_is_in_the_cache_key() {
    let repo = governance_repo(&repo_file("policies/sensitive_signal_guard.rego"));
    repo.run(&["run"]).expect_code(0);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("governance"), ("pass".into(), true));
    // Consent granted in the second sample: the policy now allows it, and the case fails.
    let consented = repo_file(SAMPLES[1])
        .replace("\"granted\": false", "\"granted\": true")
        .replace("\"purposes\": []", "\"purposes\": [\"ad-targeting\"]")
        .replace("\"retention_days\": 400", "\"retention_days\": 30")
        .replace("us-east-1", "eu-west-1")
        .replace(
            "[\"subject.email\"]",
            "[\"subject.email\", \"device.advertising_id\"]",
        );
    repo.write(SAMPLES[1], &consented);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(
        repo.status("governance"),
        ("fail".into(), false),
        "a change to the second case's input is not replayed"
    );
    assert!(
        reason(&repo, "governance")
            .contains("policies/samples/sensitive_event_denied.json: expected false, got true"),
        "{}",
        reason(&repo, "governance")
    );
}

const GUARD: &str = "package demo\n\ndefault allow := false\n\nallow if count(deny) == 0\n\ndeny contains \"consent missing\" if not input.consent\n";

#[test]
fn the_shorthand_is_one_case() {
    let repo = Repo::new().gates(
        "[gates.guard]\nkind = \"policy\"\npolicy = \"p.rego\"\ninput = \"event.json\"\nquery = \"data.demo.allow\"\nexpect = false\ndeny_contains = \"consent\"\n",
    );
    repo.write("p.rego", GUARD);
    repo.write("event.json", r#"{"consent": false}"#);
    repo.run(&["run"]).expect_code(0);
    let artifact: Value =
        serde_json::from_str(&repo.read(".runner/out/guard.json")).expect("artifact");
    assert_eq!(artifact["result"], false, "{artifact}");
    assert_eq!(artifact["deny"], serde_json::json!(["consent missing"]));
    assert_eq!(artifact["cases"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&artifact["passed"], &artifact["failed"]),
        (&1.into(), &0.into())
    );

    repo.write("event.json", r#"{"consent": true}"#);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(
        reason(&repo, "guard"),
        "1 of 1 case failed (data.demo.allow):\n  event.json: expected false, got true; no deny message contains \"consent\"; deny: none"
    );
    assert_eq!(findings(&repo, "guard"), [("event.json".to_owned(), None)]);
}

/// `runner check` on a policy gate written with `body` (after `kind`, `policy` and `query`):
/// exit 2 and its stderr.
fn config_error(body: &str) -> String {
    let repo = Repo::new().gates(&format!(
        "[gates.guard]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.demo.allow\"\n{body}"
    ));
    repo.write("p.rego", GUARD);
    repo.write("a.json", "{}");
    let out = repo.run(&["check"]);
    out.expect_code(2);
    out.stderr
}

#[test]
fn both_forms_together_or_neither_are_config_errors() {
    // gates.toml: line 1 `version = 1`, line 2 blank, line 3 the header, 4-6 kind, policy, query.
    // (body, position and message, help)
    let cases = [
        (
            "input = \"a.json\"\ncases = [{ input = \"a.json\" }]\n",
            "gates.toml:8:9: gate `guard` has both `input` and `cases`: use one of the two forms",
            "move `input` (and `expect`, `deny_contains`) into an entry of `cases`",
        ),
        (
            "",
            "gates.toml:3:8: gate `guard` (kind `policy`) has neither `input` nor `cases`",
            "add `input = \"...\"` (one case) or `cases = [{ input = \"...\", expect = true }]` to [gates.guard]",
        ),
        (
            "expect = false\ncases = [{ input = \"a.json\" }]\n",
            "gates.toml:7:10: `expect` on gate `guard` belongs to the single `input`; with `cases`, each case has its own",
            "move it into the entries of `cases`",
        ),
        (
            "cases = []\n",
            "gates.toml:7:9: `cases` in gate `guard` is empty: nothing to check",
            "add a case",
        ),
        (
            "cases = [{ input = \"a.json\" }, { expect = true }]\n",
            "gates.toml:7:32: case 2 of gate `guard` has no `input`",
            "add the JSON document the query reads",
        ),
        (
            "cases = [{ input = \"a.json\", expct = true }]\n",
            "gates.toml:7:30: unknown key `expct` in case 1 of gate `guard`",
            "did you mean `expect`?",
        ),
        (
            "cases = [\"a.json\"]\n",
            "gates.toml:7:10: case 1 of gate `guard` must be a table, found string",
            "write each case as { input = \"a.json\", expect = true }",
        ),
    ];
    for (body, message, help) in cases {
        let stderr = config_error(body);
        assert!(stderr.contains(message), "{body}\n--- stderr\n{stderr}");
        assert!(stderr.contains(help), "{body}\n--- stderr\n{stderr}");
        assert_eq!(
            stderr.matches("gates.toml:").count(),
            1,
            "one message: {stderr}"
        );
    }
}
