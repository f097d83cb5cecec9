//! The `schema` kind's negative documents and formats (SPEC 7, v2) through the binary: the
//! repository's own `nodespec-validate` gate over its 17 examples, a schema too weak to reject
//! them, the cache key, and the config errors of `invalid` and `formats`.

use std::path::Path;

use serde_json::Value;

use crate::harness::Repo;

fn repo_path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn repo_file(rel: &str) -> String {
    let path = repo_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files of one folder of this repository, relative to its root, sorted.
fn examples(folder: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo_path(folder))
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|entry| {
            let name = entry.expect("entry").file_name();
            format!("{folder}/{}", name.to_string_lossy())
        })
        .collect();
    files.sort();
    files
}

const VALID: &str = "schemas/examples/nodespec";
const INVALID: &str = "schemas/examples/nodespec-invalid";

/// The `[gates.nodespec-validate]` table of the repository's gates.toml, as written there.
fn suite_gate() -> String {
    let text = repo_file("gates.toml");
    let start = text
        .find("[gates.nodespec-validate]")
        .expect("gates.toml has a nodespec-validate gate");
    let rest = &text[start..];
    // The gate's table and its thresholds table.
    let thresholds = rest
        .find("[gates.nodespec-validate.thresholds]")
        .expect("thresholds");
    let end = rest[thresholds + 1..]
        .find("\n[")
        .map_or(rest.len(), |at| thresholds + at + 2);
    rest[..end].to_owned()
}

/// A repository holding the suite's gate, its 17 examples, and `schema` as the `NodeSpec` schema.
fn nodespec_repo(schema: &str) -> Repo {
    let repo = Repo::new().gates(&suite_gate());
    for file in examples(VALID).into_iter().chain(examples(INVALID)) {
        repo.write(&file, &repo_file(&file));
    }
    repo.write("schemas/nodespec.schema.json", schema);
    repo
}

fn artifact(repo: &Repo) -> Value {
    serde_json::from_str(&repo.read("tmp/nodespec.json")).expect("artifact is JSON")
}

#[test]
fn the_suite_gate_validates_5_examples_and_rejects_12() {
    assert_eq!(examples(VALID).len(), 5);
    assert_eq!(examples(INVALID).len(), 12);
    let repo = nodespec_repo(&repo_file("schemas/nodespec.schema.json"));
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("nodespec-validate"), ("pass".into(), false));
    let artifact = artifact(&repo);
    assert_eq!(artifact["validated"], 5);
    assert_eq!(artifact["invalid"], 0);
    assert_eq!(artifact["rejected"], 12);
    assert_eq!(artifact["accepted_invalid"], serde_json::json!([]));
}

#[test]
fn a_schema_that_only_requires_api_version_fails_naming_the_invalid_examples_it_accepts() {
    let repo = nodespec_repo(r#"{"type":"object","required":["apiVersion"]}"#);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("nodespec-validate").0, "fail");
    let artifact = artifact(&repo);
    assert_eq!(
        artifact["validated"], 5,
        "the valid examples still validate"
    );
    assert_eq!(artifact["invalid"], 0);
    assert_eq!(artifact["rejected"], 0);
    let accepted: Vec<&str> = artifact["accepted_invalid"]
        .as_array()
        .expect("accepted_invalid")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        accepted,
        examples(INVALID),
        "every invalid example has an apiVersion"
    );
    let gate = repo.gate("nodespec-validate");
    let reason = gate["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with(&format!(
            "12 of 12 documents listed in `invalid` accepted by the schema (each must be rejected):\n  {}",
            examples(INVALID)[0]
        )),
        "{reason}"
    );
    assert!(reason.ends_with("(and 9 more documents)"), "{reason}");
    let findings: Vec<&str> = gate["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["file"].as_str())
        .collect();
    assert_eq!(
        findings,
        examples(INVALID),
        "one finding per accepted document"
    );
}

#[test]
fn invalid_documents_are_in_the_cache_key() {
    let repo = nodespec_repo(&repo_file("schemas/nodespec.schema.json"));
    repo.run(&["run"]).expect_code(0);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("nodespec-validate"), ("pass".into(), true));
    // An invalid example made valid: a copy of a valid one under the invalid folder.
    let valid = repo_file(&examples(VALID)[0]);
    repo.write(&format!("{INVALID}/now-valid.json"), &valid);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("nodespec-validate"), ("fail".into(), false));
    assert_eq!(
        artifact(&repo)["accepted_invalid"],
        serde_json::json!([format!("{INVALID}/now-valid.json")])
    );
    // The same file fixed in place: its content is keyed too.
    repo.write(&format!("{INVALID}/now-valid.json"), "{}");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("nodespec-validate"), ("pass".into(), false));
    assert_eq!(artifact(&repo)["rejected"], 13);
}

const SHAPE: &str = r#"{"properties": {"contact": {"type": "string", "format": "email"}}}"#;

fn shape_repo(gate: &str) -> Repo {
    let repo = Repo::new().gates(&format!(
        "[gates.shape]\nkind = \"schema\"\nschema = \"shape.json\"\ninputs = [\"docs/*.json\"]\n{gate}"
    ));
    repo.write("shape.json", SHAPE);
    repo.write("docs/a.json", r#"{"contact": "team@example.com"}"#);
    repo
}

#[test]
fn formats_are_asserted_unless_the_gate_turns_them_off() {
    let repo = shape_repo("");
    repo.write("docs/b.json", r#"{"contact": "not an email"}"#);
    repo.run(&["run"]).expect_code(1);
    let gate = repo.gate("shape");
    assert_eq!(gate["status"], "fail");
    assert!(
        gate["reason"].as_str().is_some_and(
            |r| r.contains("docs/b.json: /contact: \"not an email\" is not a \"email\"")
        ),
        "{gate}"
    );
    assert_eq!(gate["findings"][0]["file"], "docs/b.json");
    assert_eq!(gate["findings"][0]["line"], 1);

    let repo = shape_repo("formats = false\n");
    repo.write("docs/b.json", r#"{"contact": "not an email"}"#);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("shape").0, "pass");
}

#[test]
fn an_invalid_glob_matching_nothing_is_a_config_error_unless_allow_empty() {
    let repo = shape_repo("invalid = [\"bad/*.json\", \"nothing/*.json\"]\n");
    repo.write("bad/x.json", r#"{"contact": 5}"#);
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains(
            "gates.toml:7:26: `invalid` glob `nothing/*.json` of gate `shape` matches no file"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("fix the glob, create the file, or set `allow_empty = true` on the gate"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 problem in gates.toml"),
        "only the glob that matches nothing: {}",
        out.stderr
    );

    let repo = shape_repo("invalid = [\"bad/*.json\", \"nothing/*.json\"]\nallow_empty = true\n");
    repo.write("bad/x.json", r#"{"contact": 5}"#);
    repo.run(&["run"]).expect_code(0);
    let artifact: Value =
        serde_json::from_str(&repo.read(".runner/out/shape.json")).expect("artifact");
    assert_eq!(artifact["rejected"], 1);
}

#[test]
fn unusable_invalid_and_formats_values_are_config_errors() {
    // (gate lines, message)
    let cases = [
        (
            "invalid = [\"../elsewhere/*.json\"]\n",
            "gates.toml:7:12: `invalid` glob `../elsewhere/*.json` of gate `shape` leaves the repository",
        ),
        (
            "invalid = \"bad/[.json\"\n",
            "gates.toml:7:11: `invalid` glob `bad/[.json` of gate `shape` is not a valid glob",
        ),
        (
            "formats = \"no\"\n",
            "gates.toml:7:11: `formats` in gate `shape` must be true or false, found string",
        ),
    ];
    for (lines, message) in cases {
        let out = shape_repo(lines).run(&["check"]);
        out.expect_code(2);
        assert!(out.stderr.contains(message), "{lines}\n{}", out.stderr);
    }
}
