//! For config owners: the JSON Schemas of gates.toml and of the run report, kept in step with
//! the parser and the report model; `runner init`; shell completions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::Repo;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn load_schema(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A draft 2020-12 validator, after checking the schema against the meta-schema.
fn validator(schema: &Value) -> jsonschema::Validator {
    let meta = jsonschema::draft202012::meta::validator();
    let problems: Vec<String> = meta
        .iter_errors(schema)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "not a valid draft 2020-12 schema: {problems:#?}"
    );
    jsonschema::draft202012::new(schema).expect("schema compiles")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn toml_json(text: &str) -> Value {
    toml::from_str::<Value>(text).unwrap_or_else(|e| panic!("TOML: {e}\n{text}"))
}

/// What the parser says about a config text (an empty list when it is accepted).
fn parse_problems(text: &str) -> Vec<runner::diag::Diagnostic> {
    let dir = tempfile::tempdir().expect("tempdir");
    runner::config::parse("gates.toml", text, dir.path())
        .err()
        .unwrap_or_default()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------- gates.schema.json

fn gates_schema() -> Value {
    load_schema("schemas/gates.schema.json")
}

#[test]
fn gates_schema_is_valid_and_documents_every_key() {
    let schema = gates_schema();
    validator(&schema);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema["title"].is_string());
    assert_eq!(schema["additionalProperties"], false);
    // Every key of every table: a description, and a default (or examples when there is none).
    fn walk(path: &str, node: &Value, checked: &mut usize) {
        let Some(obj) = node.as_object() else { return };
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            assert_eq!(
                obj.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{path} is closed"
            );
            for (key, prop) in props {
                let p = format!("{path}.{key}");
                assert!(
                    prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{p} has no description"
                );
                assert!(
                    prop.get("default").is_some() || prop.get("examples").is_some(),
                    "{p} has neither default nor examples"
                );
                *checked += 1;
                walk(&p, prop, checked);
            }
        }
        if let Some(defs) = obj.get("$defs").and_then(Value::as_object) {
            for (name, def) in defs {
                walk(&format!("{path}/{name}"), def, checked);
            }
        }
    }
    let mut checked = 0;
    walk("", &schema, &mut checked);
    assert!(checked > 50, "walked {checked} keys");
}

#[test]
fn gates_schema_gate_keys_are_the_parsers() {
    let schema = gates_schema();
    let in_schema = keys(&schema["$defs"]["gate"]["properties"]);
    let in_parser: BTreeSet<String> = runner::config::all_gate_keys()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = in_parser.difference(&in_schema).collect();
    let unknown: Vec<_> = in_schema.difference(&in_parser).collect();
    assert!(
        missing.is_empty(),
        "gate keys the parser accepts but the schema lacks: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "gate keys in the schema the parser does not know: {unknown:?}"
    );
}

/// The keys a kind needs to be valid, as `key = value` lines.
fn required_lines(kind: &str) -> &'static str {
    match kind {
        "command" => "run = \"true\"\n",
        "schema" => "schema = \"s.json\"\n",
        "policy" => "policy = \"p.rego\"\ninput = \"i.json\"\nquery = \"data.p.allow\"\n",
        "checklist" => "file = \"c.md\"\n",
        "http" => "url = \"http://127.0.0.1:1/\"\n",
        _ => "",
    }
}

/// Per kind: which keys the schema allows, and which it requires.
fn schema_kinds(schema: &Value) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let gate = &schema["$defs"]["gate"];
    let all = keys(&gate["properties"]);
    let mut out = BTreeMap::new();
    for kind in gate["properties"]["kind"]["enum"]
        .as_array()
        .expect("kind enum")
    {
        let kind = kind.as_str().expect("kind").to_owned();
        let rule = gate["allOf"]
            .as_array()
            .expect("allOf")
            .iter()
            .find(|r| r["if"]["properties"]["kind"]["const"] == kind.as_str())
            .unwrap_or_else(|| panic!("no if/then rule for kind {kind}"));
        let denied: BTreeSet<String> = rule["then"]["properties"]
            .as_object()
            .map(|p| {
                p.iter()
                    .filter(|(_, v)| **v == Value::Bool(false))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let required: BTreeSet<String> = rule["then"]["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(kind, (all.difference(&denied).cloned().collect(), required));
    }
    out
}

#[test]
fn gates_schema_kinds_allow_and_require_what_the_parser_does() {
    let schema = gates_schema();
    let kinds = schema_kinds(&schema);
    // The parser's kinds: an unknown kind's help lists them.
    let problems = parse_problems("version = 1\n[gates.g]\nkind = \"zzzzzzzzzz\"\n");
    let listed = problems
        .iter()
        .find_map(|d| {
            d.help
                .as_deref()?
                .strip_prefix("expected one of: ")
                .map(str::to_owned)
        })
        .expect("unknown kind lists the kinds");
    let parser_kinds: BTreeSet<String> = listed.split(", ").map(str::to_owned).collect();
    assert_eq!(kinds.keys().cloned().collect::<BTreeSet<_>>(), parser_kinds);

    for (kind, (allowed, required)) in &kinds {
        let base = format!("version = 1\n[gates.g]\nkind = \"{kind}\"\n");
        // Required: what the parser says a bare gate of this kind lacks.
        let lacks: BTreeSet<String> = parse_problems(&base)
            .iter()
            .filter_map(|d| {
                d.message
                    .split_once("lacks `")
                    .and_then(|(_, rest)| rest.split_once('`'))
                    .map(|(k, _)| k.to_owned())
            })
            .collect();
        assert_eq!(&lacks, required, "required keys of kind {kind}");
        // Allowed: each key on its own, next to the required ones.
        let with_required = format!("{base}{}", required_lines(kind));
        assert!(parse_problems(&with_required).is_empty(), "{with_required}");
        let mut parser_allowed = BTreeSet::new();
        for key in runner::config::all_gate_keys() {
            let text = if with_required.contains(&format!("\n{key} = ")) || key == "kind" {
                with_required.clone()
            } else {
                format!("{with_required}{key} = \"x\"\n")
            };
            let rejected = parse_problems(&text).iter().any(|d| {
                d.message.contains(&format!("unknown key `{key}`"))
                    || d.message
                        .contains(&format!("key `{key}` does not apply here"))
            });
            if !rejected {
                parser_allowed.insert(key.to_owned());
            }
        }
        assert_eq!(
            allowed, &parser_allowed,
            "keys of kind {kind}: schema vs parser"
        );
    }
}

/// The keys the parser lists when a table holds an unknown one (tables of at most 12 keys).
fn parser_keys(text: &str) -> BTreeSet<String> {
    let problems = parse_problems(text);
    let d = problems
        .iter()
        .find(|d| d.message.contains("unknown key `zzzzzzzzzz`"))
        .unwrap_or_else(|| panic!("no unknown-key problem for\n{text}\n{problems:?}"));
    let list = d
        .help
        .as_deref()
        .and_then(|h| h.strip_prefix("expected one of: "))
        .expect("the known keys are listed");
    assert!(!list.contains("..."), "list truncated: {list}");
    list.split(", ").map(str::to_owned).collect()
}

#[test]
fn gates_schema_tables_have_the_parsers_keys() {
    let schema = gates_schema();
    let settings = &schema["$defs"]["settings"];
    let gate = "[gates.a]\nrun = \"true\"\n";
    let cases = [
        ("top level", format!("version = 1\nzzzzzzzzzz = 1\n{gate}"), &schema["properties"]),
        ("[settings]", format!("version = 1\n[settings]\nzzzzzzzzzz = 1\n{gate}"), &settings["properties"]),
        (
            "[settings.remote_cache]",
            format!("version = 1\n[settings.remote_cache]\nzzzzzzzzzz = 1\n{gate}"),
            &settings["properties"]["remote_cache"]["properties"],
        ),
        (
            "[settings.signing]",
            format!("version = 1\n[settings.signing]\nzzzzzzzzzz = 1\n{gate}"),
            &settings["properties"]["signing"]["properties"],
        ),
        (
            "[settings.cache]",
            format!("version = 1\n[settings.cache]\nzzzzzzzzzz = 1\n{gate}"),
            &settings["properties"]["cache"]["properties"],
        ),
        (
            "service",
            "version = 1\n[gates.h]\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\n[gates.h.service]\nrun = \"true\"\nzzzzzzzzzz = 1\n".to_owned(),
            &schema["$defs"]["gate"]["properties"]["service"]["properties"],
        ),
    ];
    for (table, text, props) in cases {
        assert_eq!(keys(props), parser_keys(&text), "{table}: schema vs parser");
    }
}

/// Valid configs: the schema and the parser must both accept them.
fn valid_examples() -> Vec<(&'static str, String)> {
    let spec = r#"version = 1

[settings]
cache_dir = "cache"
history = ".runner/history.jsonl"
jobs = 0
graduate_after_days = 7

[settings.remote_cache]
url = "http://127.0.0.1:3000"
team = "gates"
token_env = "RUNNER_REMOTE_CACHE_TOKEN"
read = true
write = true
timeout = "10s"

[settings.signing]
key_env = "RUNNER_SIGNING_KEY"
trusted_keys = ["keys/ci.pub"]

[settings.cache]
max_size = "5GiB"
max_age = "30d"

[gates.nodespec-validate]
kind = "schema"
schema = "schemas/nodespec.schema.json"
inputs = ["schemas/examples/nodespec/*.json"]

[gates.pqc-sign-verify]
description = "Dilithium2 sign/verify latency"
kind = "pqc-bench"
mode = "blocking"
needs = ["nodespec-validate"]
inputs = ["src/**/*.rs"]
env = ["RUSTFLAGS"]
artifacts = ["tmp/pqc_bench.json"]
metrics = "tmp/pqc_bench.json"
timeout = "5m"
cache = true
tags = ["pqc"]
skip_unless_env = { PQC = "1" }
graduate_after_days = 7
export = { "pqc.verify.latency" = "verify_p95_ms" }
algorithm = "dilithium2"
iterations = 200
message_bytes = 1024

[gates.pqc-sign-verify.thresholds]
sign_p95_ms = "<= 50"
verify_p95_ms = "<= 10"
"#;
    let kinds = r#"version = 1

[gates.nodespec]
kind = "schema"
schema = "schemas/nodespec.schema.json"
inputs = ["schemas/examples/nodespec/*.json"]
invalid = ["schemas/examples/nodespec-invalid/*.json", "!schemas/examples/nodespec-invalid/draft-*.json"]
formats = false

[gates.nodespec-one-invalid]
kind = "schema"
schema = "schemas/nodespec.schema.json"
invalid = "schemas/examples/nodespec-invalid/bad-version.json"

[gates.build]
run = "cargo build"
inputs = ["src/**", "!src/gen/**"]
allow_empty = true
artifacts = ["out/m.json"]
thresholds = { "a.b[0]" = ">= 0.7", warnings = "== 0", x = "!= 1e3", y = "> -2" }

[gates.pytest]
run = "pytest --junitxml=out/pytest.xml"
artifacts = ["out/pytest.xml"]
junit = "out/pytest.xml"
thresholds = { "junit.failures" = "== 0", "junit.tests" = ">= 100" }

[gates.governance]
kind = "policy"
policy = ["policies/a.rego", "policies/b.rego"]
input = "policies/samples/e.json"
data = "policies/data.json"
query = "data.matriz.governance.allow"
expect = { allow = true, reasons = [] }

[gates.governance-cases]
kind = "policy"
policy = "policies/a.rego"
query = "data.matriz.governance.allow"
cases = [
  { input = "policies/samples/e.json" },
  { input = "policies/samples/d.json", expect = false, deny_contains = "no consent" },
]

[gates.governance-denied]
kind = "policy"
policy = "policies/a.rego"
input = "policies/samples/d.json"
query = "data.matriz.governance.allow"
expect = false
deny_contains = "no consent"

[gates.phase]
kind = "checklist"
file = "docs/phases/matriz-007.md"
require = ["Schema reviewed", "Docs updated"]

[gates.phase-all]
kind = "checklist"
file = "docs/phases/matriz-007.md"
require = "all"

[gates.registry-smoke]
kind = "http"
mode = "observational"
url = "http://127.0.0.1:8080/health"
requests = 5
expect_status = 200
expect_headers = { X-Dev-Stub = "active" }
expect_json = { status = "healthy", mode = "dev-stub" }
allow_hosts = ["localhost"]
skip_unless_env = { REGISTRY_DEV_STUB = "1" }
thresholds = { p95_ms = "< 250" }

[gates.registry-smoke.service]
run = "cargo run -p runner-tasks --bin registry-stub"
ready_url = "http://127.0.0.1:8080/health"
ready_timeout = "30s"

[gates.checkpoint]
kind = "http"
method = "post"
body = '{"step": 1}'
url = "http://127.0.0.1:8080/checkpoints"
expect_status = 201

[gates.Bench_2]
kind = "pqc-bench"
algorithm = "Dilithium2"
"#;
    let shared = r#"version = 1

[settings.resources]
db = 1
gpu-pool = 2

[gates.integration]
run = "pytest tests/integration"
uses = ["db", "gpu-pool"]
retries = 2

[gates.migrations]
run = "alembic check"
uses = ["db"]
"#;
    let mut out = vec![
        ("SPEC 2", spec.to_owned()),
        ("every kind", kinds.to_owned()),
        ("resources and retries", shared.to_owned()),
    ];
    out.push(("runner init", runner::cli::STARTER.to_owned()));
    out.push(("runner init, examples uncommented", uncommented_starter()));
    out
}

/// Configs both the schema and the parser must reject.
const INVALID: &[(&str, &str)] = &[
    ("no version", "[gates.a]\nrun = \"true\"\n"),
    ("version 2", "version = 2\n[gates.a]\nrun = \"true\"\n"),
    ("no gates", "version = 1\n"),
    (
        "unknown top key",
        "version = 1\ngate = 1\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "unknown settings key",
        "version = 1\n[settings]\ncache = \"c\"\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "negative jobs",
        "version = 1\n[settings]\njobs = -1\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "typo",
        "version = 1\n[gates.a]\nrun = \"true\"\nneds = []\n",
    ),
    (
        "key of another kind",
        "version = 1\n[gates.a]\nrun = \"true\"\nurl = \"http://x/\"\n",
    ),
    (
        "unknown kind",
        "version = 1\n[gates.a]\nkind = \"shell\"\nrun = \"true\"\n",
    ),
    (
        "bad mode",
        "version = 1\n[gates.a]\nrun = \"true\"\nmode = \"advisory\"\n",
    ),
    (
        "command without run",
        "version = 1\n[gates.a]\ninputs = []\n",
    ),
    (
        "policy without query",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\ninput = \"i.json\"\n",
    ),
    (
        "schema formats not a boolean",
        "version = 1\n[gates.a]\nkind = \"schema\"\nschema = \"s.json\"\nformats = \"no\"\n",
    ),
    (
        "schema invalid not globs",
        "version = 1\n[gates.a]\nkind = \"schema\"\nschema = \"s.json\"\ninvalid = [1]\n",
    ),
    (
        "invalid on a policy gate",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\ninput = \"i.json\"\ninvalid = [\"x\"]\n",
    ),
    (
        "policy with input and cases",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\ninput = \"i.json\"\ncases = [{ input = \"j.json\" }]\n",
    ),
    (
        "policy with neither input nor cases",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\n",
    ),
    (
        "policy cases with a gate-level expect",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\nexpect = false\ncases = [{ input = \"j.json\" }]\n",
    ),
    (
        "policy case without input",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\ncases = [{ expect = true }]\n",
    ),
    (
        "policy case with an unknown key",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\ncases = [{ input = \"j.json\", expct = true }]\n",
    ),
    (
        "policy with no case",
        "version = 1\n[gates.a]\nkind = \"policy\"\npolicy = \"p.rego\"\nquery = \"data.p.allow\"\ncases = []\n",
    ),
    (
        "junit on a schema gate",
        "version = 1\n[gates.a]\nkind = \"schema\"\nschema = \"s.json\"\njunit = \"out/j.xml\"\n",
    ),
    (
        "threshold expression",
        "version = 1\n[gates.a]\nrun = \"true\"\nmetrics = \"m.json\"\nthresholds = { p = \"about 5\" }\n",
    ),
    (
        "threshold number",
        "version = 1\n[gates.a]\nrun = \"true\"\nmetrics = \"m.json\"\nthresholds = { p = 5 }\n",
    ),
    (
        "timeout",
        "version = 1\n[gates.a]\nrun = \"true\"\ntimeout = \"5 minutes\"\n",
    ),
    (
        "cache max_size unit",
        "version = 1\n[settings.cache]\nmax_size = \"5 parsecs\"\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "cache max_age unit",
        "version = 1\n[settings.cache]\nmax_age = \"a month\"\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "cache max_size not a string",
        "version = 1\n[settings.cache]\nmax_size = 5\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "allow_empty type",
        "version = 1\n[gates.a]\nrun = \"true\"\nallow_empty = \"yes\"\n",
    ),
    (
        "status",
        "version = 1\n[gates.a]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\nexpect_status = 700\n",
    ),
    (
        "service without run",
        "version = 1\n[gates.a]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\nservice = { ready_url = \"http://127.0.0.1/\" }\n",
    ),
    (
        "service key",
        "version = 1\n[gates.a]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\nservice = { run = \"x\", port = 1 }\n",
    ),
    (
        "gate name",
        "version = 1\n[gates.\"has space\"]\nrun = \"true\"\n",
    ),
    (
        "export name",
        "version = 1\n[gates.a]\nrun = \"true\"\nexport = { \"a-b\" = \"x\" }\n",
    ),
    (
        "algorithm",
        "version = 1\n[gates.a]\nkind = \"pqc-bench\"\nalgorithm = \"falcon512\"\n",
    ),
    (
        "require",
        "version = 1\n[gates.a]\nkind = \"checklist\"\nfile = \"c.md\"\nrequire = \"some\"\n",
    ),
    (
        "method",
        "version = 1\n[gates.a]\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\nmethod = \"PATCH\"\n",
    ),
    (
        "resource count 0",
        "version = 1\n[settings.resources]\ndb = 0\n[gates.a]\nrun = \"true\"\nuses = [\"db\"]\n",
    ),
    (
        "resource count not an integer",
        "version = 1\n[settings.resources]\ndb = \"one\"\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "resource name",
        "version = 1\n[settings.resources]\n\"a b\" = 1\n[gates.a]\nrun = \"true\"\n",
    ),
    (
        "uses not an array",
        "version = 1\n[settings.resources]\ndb = 1\n[gates.a]\nrun = \"true\"\nuses = \"db\"\n",
    ),
    (
        "negative retries",
        "version = 1\n[gates.a]\nrun = \"true\"\nretries = -1\n",
    ),
];

#[test]
fn gates_schema_accepts_and_rejects_what_the_parser_does() {
    let v = validator(&gates_schema());
    for (name, text) in valid_examples() {
        let problems: Vec<String> = parse_problems(&text)
            .iter()
            .map(|d| d.message.clone())
            .collect();
        assert!(
            problems.is_empty(),
            "{name}: the parser rejects it: {problems:?}"
        );
        let errs = errors(&v, &toml_json(&text));
        assert!(errs.is_empty(), "{name}: the schema rejects it: {errs:#?}");
    }
    for (name, text) in INVALID {
        assert!(
            !parse_problems(text).is_empty(),
            "{name}: the parser accepts\n{text}"
        );
        assert!(
            !errors(&v, &toml_json(text)).is_empty(),
            "{name}: the schema accepts\n{text}"
        );
    }
}

#[test]
fn repository_gates_toml_validates_against_the_schema() {
    let path = repo_file("gates.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the repository's {}: {e}", path.display()));
    let errs = errors(&validator(&gates_schema()), &toml_json(&text));
    assert!(
        errs.is_empty(),
        "gates.toml does not match schemas/gates.schema.json: {errs:#?}"
    );
}

// ---------------------------------------------------------------- report.schema.json

#[test]
fn report_schema_has_the_models_fields() {
    use runner::report::{
        ExportedMetric, GateReport, Report, Summary, TestCaseReport, ThresholdReport,
    };
    let schema = load_schema("schemas/report.schema.json");
    validator(&schema);
    let threshold = ThresholdReport {
        metric: "m".into(),
        op: "<=".into(),
        limit: Some(1.1),
        value: Some(0.5),
        pass: true,
        baseline: Some(runner::report::BaselineReport {
            expr: "<= baseline * 1.1".into(),
            statistic: "median".into(),
            branch: "main".into(),
            window: 20,
            samples: 20,
            min_samples: 5,
            other_machines: 0,
            value: Some(1.0),
            change_pct: Some(-50.0),
            holds: true,
            observed_only: false,
            note: None,
        }),
    };
    let gate = GateReport {
        why: Some("cache miss: never stored".into()),
        ran: Some(runner::report::RanAt {
            lane: "worker 1".into(),
            start_ms: 3,
            end_ms: 5,
        }),
        undeclared_reads: vec![runner::report::UndeclaredReport {
            path: "conftest.py".into(),
            suggestion: Some("*.py".into()),
        }],
        description: Some("d".into()),
        guard: Some("no-op guard: ...".into()),
        findings: vec![runner::report::FindingReport {
            file: "docs/x.md".into(),
            line: Some(3),
            message: "unchecked: x".into(),
        }],
        name: "g".into(),
        kind: "command".into(),
        status: runner::vocab::Status::Pass,
        mode: runner::vocab::Mode::Blocking,
        configured_mode: runner::vocab::Mode::Observational,
        cached: false,
        flaky: true,
        attempts: 2,
        duration_ms: 1,
        key: Some("ab".repeat(32)),
        reason: None,
        artifacts: vec!["a.json".into()],
        thresholds: vec![threshold],
        exports: vec![ExportedMetric {
            name: "g_m".into(),
            value: 0.5,
        }],
        tests: vec![TestCaseReport {
            name: "test_a".into(),
            classname: Some("tests.test_x".into()),
            status: runner::vocab::TestStatus::Fail,
            message: Some("assert 1 == 2".into()),
            time_ms: Some(4),
        }],
    };
    let report = Report {
        outcome: runner::vocab::exit_code::Outcome::Pass,
        version: 1,
        exit_code: 0,
        started_at: "2026-11-24T10:00:00Z".into(),
        duration_ms: 2,
        summary: Summary {
            pass: 1,
            ..Summary::default()
        },
        labels: Vec::new(),
        gates: vec![gate],
    };
    let json = serde_json::to_value(&report).expect("serialize");
    let defs = &schema["$defs"];
    let pairs = [
        ("report", &json, &schema),
        ("summary", &json["summary"], &defs["summary"]),
        ("gate", &json["gates"][0], &defs["gate"]),
        (
            "threshold",
            &json["gates"][0]["thresholds"][0],
            &defs["threshold"],
        ),
        ("export", &json["gates"][0]["exports"][0], &defs["export"]),
        (
            "finding",
            &json["gates"][0]["findings"][0],
            &defs["finding"],
        ),
        ("test", &json["gates"][0]["tests"][0], &defs["test"]),
        (
            "baseline",
            &json["gates"][0]["thresholds"][0]["baseline"],
            &defs["baseline"],
        ),
    ];
    for (what, value, def) in pairs {
        assert_eq!(
            keys(value),
            keys(&def["properties"]),
            "{what}: model vs schema"
        );
        let required: BTreeSet<String> = def["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        let optional: BTreeSet<String> = keys(value).difference(&required).cloned().collect();
        let expected_optional = match what {
            "gate" => set(&[
                "attempts",
                "description",
                "exports",
                "flaky",
                "findings",
                "guard",
                "ran",
                "tests",
                "undeclared_reads",
                "why",
            ]),
            "undeclared_read" => set(&["suggestion"]),
            "finding" => set(&["line"]),
            "test" => set(&["classname", "message", "time_ms"]),
            "threshold" => set(&["baseline"]),
            _ => BTreeSet::new(),
        };
        assert_eq!(optional, expected_optional, "{what}: optional fields");
    }
    let errs = errors(&validator(&schema), &json);
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn real_reports_validate_against_the_report_schema() {
    let v = validator(&load_schema("schemas/report.schema.json"));
    let check = |repo: &Repo, rel: &str| {
        let report: Value = serde_json::from_str(&repo.read(rel)).expect("report JSON");
        let errs = errors(&v, &report);
        assert!(errs.is_empty(), "{rel}: {errs:#?}\n{report:#}");
        report
    };
    let repo = Repo::new().gates(crate::reports::SUITE);
    repo.run(&["run", "--report", "a.json"]).expect_code(1);
    let first = check(&repo, "a.json");
    assert!(
        first["gates"]
            .as_array()
            .expect("gates")
            .iter()
            .any(|g| g.get("exports").is_some()),
        "exports present"
    );
    repo.run(&["run", "--report", "b.json"]).expect_code(1);
    let second = check(&repo, "b.json");
    assert!(second["summary"]["cached"].as_u64() > Some(0));
    repo.run(&["run", "bench"]).expect_code(0);
    check(&repo, "cache/report.json");
    repo.run(&[
        "report",
        "merge",
        "a.json",
        "b.json",
        "--out",
        "merged.json",
    ])
    .expect_code(1);
    check(&repo, "merged.json");

    let skipped = Repo::new().gates("[gates.s]\nrun = \"exit 78\"\n");
    skipped.run(&["run"]).expect_code(78);
    check(&skipped, "cache/report.json");
}

// ---------------------------------------------------------------- runner init

/// The starter with every commented `key = value` and `[table]` line uncommented.
fn uncommented_starter() -> String {
    runner::cli::STARTER
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("# ") else {
                return line.to_owned();
            };
            let is_key = rest.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
            if rest.starts_with("[gates.") || is_key {
                rest.to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn init_writes_a_starter_that_checks_and_runs() {
    let repo = Repo::new();
    let out = repo.run(&["init"]);
    out.expect_code(0);
    assert_eq!(repo.read("gates.toml"), runner::cli::STARTER);
    repo.run(&["check"]).expect_code(0);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".to_owned(), false));
    assert_eq!(repo.status("smoke"), ("pass".to_owned(), false));
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".to_owned(), true));

    let uncommented = uncommented_starter();
    let config = runner::config::parse("gates.toml", &uncommented, repo.root())
        .unwrap_or_else(|d| panic!("{d:?}"));
    let kinds: BTreeSet<&str> = config.gates.iter().map(|g| g.kind.name()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "command",
            "schema",
            "policy",
            "checklist",
            "http",
            "pqc-bench"
        ]),
        "every kind shown"
    );
}

#[test]
fn init_never_overwrites() {
    let repo = Repo::new();
    repo.write("gates.toml", "# mine\n");
    let out = repo.run(&["init"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("gates.toml already exists"),
        "{}",
        out.stderr
    );
    assert_eq!(repo.read("gates.toml"), "# mine\n");
}

#[test]
fn init_at_another_path() {
    let repo = Repo::new();
    repo.run(&["init", "-c", "ci/gates.toml"]).expect_code(0);
    repo.run(&["check", "-c", "ci/gates.toml"]).expect_code(0);
    repo.run(&["-c", "ci/gates.toml", "init"]).expect_code(2);
}

// ---------------------------------------------------------------- completions

#[test]
fn completions_for_bash_zsh_fish() {
    let repo = Repo::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = repo.run(&["completions", shell]);
        out.expect_code(0);
        assert!(out.stdout.len() > 200, "{shell}: {}", out.stdout);
        assert!(
            out.stdout.contains("run"),
            "{shell} completions mention `run`"
        );
        assert!(
            out.stdout.contains("graduate"),
            "{shell} completions mention `graduate`"
        );
    }
}

// ---- the config snapshot (.runner/config.snapshot): a faster load, never a stale one

fn threshold_repo(limit: &str) -> Repo {
    Repo::new().gates(&format!(
        "[gates.m]\nrun = \"mkdir -p out && echo '{{\\\"x\\\": 5}}' > out/m.json\"\nartifacts = [\"out/m.json\"]\nthresholds = {{ x = \"{limit}\" }}\n"
    ))
}

#[test]
fn an_edited_gates_toml_is_read_again_at_once() {
    let repo = threshold_repo("<= 10");
    repo.run(&["run"]).expect_code(0);
    assert!(repo.path(".runner/config.snapshot").is_file());
    // Same size, same second: only the content tells the snapshot is stale.
    let text = repo.read("gates.toml").replace("<= 10", "<= 01");
    repo.write("gates.toml", &text);
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("m").0, "fail");
    // An invalid edit is reported, not hidden behind the last valid snapshot.
    let broken = text.replace("<= 01", "<= ten");
    repo.write("gates.toml", &broken);
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert!(out.stderr.contains("gates.toml:"), "{}", out.stderr);
}

#[test]
fn a_damaged_snapshot_is_ignored_and_replaced() {
    let repo = threshold_repo("<= 10");
    repo.run(&["run"]).expect_code(0);
    let good = std::fs::read(repo.path(".runner/config.snapshot")).unwrap();
    for damage in [
        b"garbage".to_vec(),
        good[..good.len() / 2].to_vec(),
        Vec::new(),
    ] {
        repo.write_bytes(".runner/config.snapshot", &damage);
        let out = repo.run(&["run"]);
        out.expect_code(0);
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
        assert_eq!(
            std::fs::read(repo.path(".runner/config.snapshot")).unwrap(),
            good,
            "the snapshot was not rewritten"
        );
    }
}

#[test]
fn a_snapshot_copied_with_the_repository_does_not_point_back_at_the_original() {
    let repo = threshold_repo("<= 10");
    repo.run(&["run"]).expect_code(0);
    let copy = Repo::new();
    for rel in ["gates.toml", ".runner/config.snapshot"] {
        copy.write_bytes(rel, &std::fs::read(repo.path(rel)).unwrap());
    }
    let before = std::fs::read_dir(repo.path("cache"))
        .map(std::iter::Iterator::count)
        .unwrap_or(0);
    copy.run(&["run"]).expect_code(0);
    assert_eq!(copy.status("m"), ("pass".into(), false));
    assert!(copy.path("cache").is_dir(), "cache not in the copy");
    assert_eq!(
        std::fs::read_dir(repo.path("cache"))
            .map(std::iter::Iterator::count)
            .unwrap_or(0),
        before,
        "the copy wrote into the original's cache"
    );
}
