//! The built-in kinds through the binary: pass and fail paths, artifacts and reasons (SPEC 7).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::harness::Repo;

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "replicas"],
  "properties": {"id": {"type": "string"}, "replicas": {"type": "integer", "minimum": 1}}
}"#;

fn schema_repo() -> Repo {
    let repo = Repo::new().gates(
        "[gates.shape]\nkind = \"schema\"\nschema = \"node.schema.json\"\ninputs = [\"docs/*.json\", \"docs/*.toml\", \"docs/*.yaml\"]\n",
    );
    repo.write("node.schema.json", SCHEMA);
    repo.write("docs/a.json", r#"{"id": "a", "replicas": 2}"#);
    repo.write("docs/b.toml", "id = \"b\"\nreplicas = 1\n");
    repo.write("docs/c.yaml", "id: c\nreplicas: 3\n");
    repo
}

#[test]
fn schema_passes_valid_documents_of_three_formats() {
    let repo = schema_repo();
    repo.run(&["run"]).expect_code(0);
    let artifact: serde_json::Value =
        serde_json::from_str(&repo.read(".runner/out/shape.json")).unwrap();
    assert_eq!(artifact["validated"], 3);
    assert_eq!(artifact["invalid"], 0);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        repo.status("shape"),
        ("pass".into(), true),
        "schema gates are cached"
    );
}

#[test]
fn schema_lists_every_violation_and_blames_only_invalid_files() {
    let repo = schema_repo();
    repo.write("docs/d.json", r#"{"id": 5, "replicas": 0}"#);
    repo.run(&["run"]).expect_code(1);
    let artifact: serde_json::Value =
        serde_json::from_str(&repo.read(".runner/out/shape.json")).unwrap();
    assert_eq!(artifact["invalid"], 1);
    let errors: Vec<&str> = artifact["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.starts_with("docs/d.json: /")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("docs/d.json: /id:")),
        "{errors:?}"
    );
    assert_eq!(repo.status("shape").0, "fail");
}

#[test]
fn schema_that_is_not_a_schema_is_an_error_naming_it() {
    let repo = schema_repo();
    repo.write("node.schema.json", r#"{"type": "no-such-type"}"#);
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("shape");
    assert_eq!(g["status"], "error");
    assert!(
        g["reason"].as_str().unwrap().contains("node.schema.json"),
        "{g}"
    );
}

fn policy_repo(event: &str) -> Repo {
    let repo = Repo::new().gates(
        "[gates.guard]\nkind = \"policy\"\npolicy = [\"p.rego\"]\ninput = \"event.json\"\nquery = \"data.demo.allow\"\nexpect = true\n",
    );
    repo.write(
        "p.rego",
        "package demo\nimport rego.v1\ndefault allow := false\nallow if count(deny) == 0\ndeny contains \"consent missing\" if not input.consent\ndeny contains msg if { input.retention > 30; msg := sprintf(\"retention %d > 30\", [input.retention]) }\n",
    );
    repo.write("event.json", event);
    repo
}

#[test]
fn policy_allows_and_denies_with_rationale() {
    let repo = policy_repo(r#"{"consent": true, "retention": 7}"#);
    repo.run(&["run"]).expect_code(0);
    let artifact: serde_json::Value =
        serde_json::from_str(&repo.read(".runner/out/guard.json")).unwrap();
    assert_eq!(artifact["result"], true);
    repo.write("event.json", r#"{"consent": false, "retention": 90}"#);
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("guard");
    assert_eq!(g["status"], "fail");
    let reason = g["reason"].as_str().unwrap();
    assert!(
        reason.contains("consent missing") && reason.contains("retention 90 > 30"),
        "{reason}"
    );
}

#[test]
fn rego_syntax_error_names_file_and_line() {
    let repo = policy_repo("{}");
    repo.write(
        "p.rego",
        "package demo\nimport rego.v1\nallow if {\n  input.x ==\n}\n",
    );
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("guard");
    assert_eq!(g["status"], "error");
    assert!(g["reason"].as_str().unwrap().starts_with("p.rego:"), "{g}");
}

#[test]
fn checklist_requires_ticks_and_existing_items() {
    let repo = Repo::new().gates("[gates.phase]\nkind = \"checklist\"\nfile = \"plan.md\"\nrequire = [\"Schema reviewed\", \"Docs updated\"]\n");
    repo.write("plan.md", "# Plan\n\n- [x] Schema reviewed\n* [ ] Docs updated\n  - [x] nested item\n\n```\n- [ ] not a task\n```\n");
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("phase");
    assert_eq!(g["status"], "fail");
    assert!(
        g["reason"].as_str().unwrap().contains("Docs updated"),
        "{g}"
    );
    repo.write("plan.md", "- [x] Schema reviewed\n- [X] Docs updated\n");
    repo.run(&["run"]).expect_code(0);
    let artifact: serde_json::Value =
        serde_json::from_str(&repo.read(".runner/out/phase.json")).unwrap();
    assert_eq!(
        (artifact["total"].as_u64(), artifact["checked"].as_u64()),
        (Some(2), Some(2))
    );
    repo.write("plan.md", "- [x] Schema reviewed\n");
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("phase");
    assert_eq!(
        g["status"], "error",
        "a required item that does not exist is not a pass: {g}"
    );
    assert!(g["reason"].as_str().unwrap().contains("Docs updated"));
}

#[test]
fn checklist_items_are_found_as_commonmark_and_gfm_do() {
    let repo = Repo::new().gates("[gates.phase]\nkind = \"checklist\"\nfile = \"plan.md\"\n");
    // A commented-out item, indented code, a paragraph's continuation, then two items on
    // CR-only line endings: only the last two count, and the unchecked one is on line 10.
    repo.write(
        "plan.md",
        "<!--\n- [ ] hidden\n-->\n\n    - [ ] code\n\nSome text\n2. [ ] continued\r- [x] done\r- [ ] open\r",
    );
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("phase");
    assert_eq!(g["status"], "fail", "{g}");
    assert_eq!(
        g["reason"],
        "1 of 2 required items unchecked: plan.md:10: open"
    );
    assert_eq!(g["findings"][0]["file"], "plan.md");
    assert_eq!(g["findings"][0]["line"], 10);
    let artifact: serde_json::Value =
        serde_json::from_str(&repo.read(".runner/out/phase.json")).unwrap();
    assert_eq!(
        artifact,
        serde_json::json!({"total": 2, "checked": 1, "unchecked": ["open"]})
    );
}

/// A one-route HTTP server on loopback that answers `n` requests then stops.
fn serve(n: usize, status: &'static str, headers: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes());
        }
    });
    url
}

fn http_gate(url: &str) -> String {
    format!(
        "[gates.smoke]\nkind = \"http\"\nurl = \"{url}\"\nrequests = 5\nexpect_headers = {{ X-Dev-Stub = \"active\" }}\nexpect_json = {{ mode = \"dev-stub\" }}\nartifacts = [\"out/http.json\"]\nthresholds = {{ p95_ms = \"< 2000\" }}\n"
    )
}

#[test]
fn http_smoke_passes_and_is_never_cached() {
    let url = serve(
        10,
        "200 OK",
        "X-Dev-Stub: active\r\n",
        r#"{"status":"healthy","mode":"dev-stub"}"#,
    );
    let repo = Repo::new().gates(&http_gate(&url));
    repo.run(&["run"]).expect_code(0);
    let artifact: serde_json::Value = serde_json::from_str(&repo.read("out/http.json")).unwrap();
    assert_eq!(
        (artifact["requests"].as_u64(), artifact["ok"].as_u64()),
        (Some(5), Some(5))
    );
    assert!(artifact["p95_ms"].as_f64().is_some());
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("smoke"), ("pass".into(), false));
}

#[test]
fn http_smoke_fails_on_missing_header() {
    let url = serve(5, "200 OK", "", r#"{"mode":"dev-stub"}"#);
    let repo = Repo::new().gates(&http_gate(&url));
    repo.run(&["run"]).expect_code(1);
    let g = repo.gate("smoke");
    assert_eq!(g["status"], "fail");
    assert!(g["reason"].as_str().unwrap().contains("X-Dev-Stub"), "{g}");
}

#[test]
fn http_refuses_hosts_outside_loopback() {
    let repo = Repo::new().gates(&http_gate("http://example.com/health"));
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("smoke").0, "error");
}

#[test]
fn pqc_bench_writes_its_artifact_and_thresholds_judge_it() {
    let repo = Repo::new().gates(
        "[gates.pqc]\nkind = \"pqc-bench\"\niterations = 20\nartifacts = [\"tmp/pqc.json\"]\n[gates.pqc.thresholds]\nsign_p95_ms = \"<= 500\"\nverify_p95_ms = \"< 0\"\n",
    );
    repo.run(&["run"]).expect_code(1);
    let artifact: serde_json::Value = serde_json::from_str(&repo.read("tmp/pqc.json")).unwrap();
    assert_eq!(artifact["algorithm"], "Dilithium2");
    assert_eq!(artifact["iterations"], 20);
    let g = repo.gate("pqc");
    assert_eq!(g["status"], "fail");
    assert_eq!(g["thresholds"][0]["pass"], true);
    assert_eq!(g["thresholds"][1]["pass"], false);
}

#[test]
fn the_product_has_no_audit_or_pqc_bench_commands() {
    // They became the suite's own programs (tasks/: audit-normalize, pqc-bench --json).
    let repo = Repo::new();
    for args in [
        &["pqc-bench", "--json"][..],
        &["audit", "normalize", "x.json"],
    ] {
        let out = repo.run(args);
        out.expect_code(2);
        assert!(
            out.stderr.contains("unrecognized subcommand"),
            "{}",
            out.stderr
        );
    }
}
