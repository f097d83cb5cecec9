//! The report formats of SPEC 5 and 9 (`JUnit`, Markdown, Prometheus, GitHub annotations), each
//! checked by parsing what the binary wrote, plus snapshots of a fixed report.

use std::collections::{BTreeMap, BTreeSet};

use quick_junit::{NonSuccessKind, TestCaseStatus};
use runner::report::Report;
use serde_json::{Value, json};

use crate::harness::Repo;

/// One gate of each outcome, plus an uncacheable one and an export.
pub(crate) const SUITE: &str = r#"
[gates.bench]
description = "latency"
run = "printf '{\"lat\": {\"p95\": 4.5}, \"count\": 3}' > bench.json"
artifacts = ["bench.json"]
export = { "bench.latency.p95" = "lat.p95" }

[gates.bench.thresholds]
"lat.p95" = "<= 10"
count = ">= 3"

[gates.slow]
run = "echo '{\"p95\": 80}' > slow.json"
artifacts = ["slow.json"]
thresholds = { p95 = "<= 50" }

[gates.smoke]
mode = "observational"
needs = ["bench"]
run = "echo 'smoke broke' >&2; exit 1"

[gates.optional]
run = "exit 78"

[gates.after-slow]
needs = ["slow"]
run = "true"

[gates.missing]
run = "true"
artifacts = ["never.json"]

[gates.fresh]
run = "echo fresh"
cache = false
"#;

const RUN_ARGS: [&str; 7] = [
    "run",
    "--junit",
    "out/junit.xml",
    "--summary",
    "out/summary.md",
    "--metrics",
    "out/metrics.prom",
];

fn suite() -> Repo {
    Repo::new().gates(SUITE)
}

// ---------------------------------------------------------------- JUnit

/// A testcase as a CI reporter shows it: outcome, type, message and system-out.
#[derive(Debug)]
struct Case {
    outcome: &'static str,
    ty: String,
    message: String,
    out: String,
}

/// Parse `JUnit` XML (quick-junit's reader, on quick-xml) and check that the counts CI reporters
/// read agree with the testcases.
fn junit_cases(xml: &str) -> BTreeMap<String, Case> {
    let parsed =
        quick_junit::Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(
        parsed.name.as_ref().map(quick_junit::XmlString::as_str),
        Some("runner")
    );
    assert_eq!(parsed.test_suites.len(), 1, "one testsuite");
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.name.as_str(), "runner");
    let text =
        |s: Option<&quick_junit::XmlString>| s.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let mut cases = BTreeMap::new();
    for c in &suite.test_cases {
        assert_eq!(
            c.classname.as_ref().map(quick_junit::XmlString::as_str),
            Some("command")
        );
        assert!(c.time.is_some(), "time of {}", c.name.as_str());
        let (outcome, ty, message) = match &c.status {
            TestCaseStatus::Success { .. } => ("passed", String::new(), String::new()),
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ty,
                message,
                ..
            } => ("failure", text(ty.as_ref()), text(message.as_ref())),
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ty,
                message,
                ..
            } => ("error", text(ty.as_ref()), text(message.as_ref())),
            TestCaseStatus::Skipped { ty, message, .. } => {
                ("skipped", text(ty.as_ref()), text(message.as_ref()))
            }
        };
        let out = text(c.system_out.as_ref());
        cases.insert(
            c.name.as_str().to_owned(),
            Case {
                outcome,
                ty,
                message,
                out,
            },
        );
    }
    let count = |o: &str| cases.values().filter(|c| c.outcome == o).count();
    let counts = (suite.tests, suite.failures, suite.errors, suite.skipped);
    assert_eq!(
        counts,
        (
            cases.len(),
            count("failure"),
            count("error"),
            count("skipped")
        )
    );
    assert_eq!(
        (parsed.tests, parsed.failures, parsed.errors),
        (counts.0, counts.1, counts.2)
    );
    let testsuites = start_tag(xml, "testsuites");
    assert!(
        !testsuites.contains(" skipped="),
        "Jenkins' junit-10.xsd allows no `skipped` on <testsuites>: {testsuites}"
    );
    cases
}

/// The first `<NAME ...>` start tag of `xml`, up to its `>`.
fn start_tag<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name} ");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in\n{xml}"));
    let len = xml[start..]
        .find('>')
        .unwrap_or_else(|| panic!("<{name}> not closed in\n{xml}"));
    &xml[start..=start + len]
}

#[test]
fn junit_has_one_testcase_per_gate_with_spec_mapping() {
    let repo = suite();
    repo.run(&RUN_ARGS).expect_code(1);
    let cases = junit_cases(&repo.read("out/junit.xml"));
    let expected = [
        ("bench", "passed", "", ""),
        (
            "slow",
            "failure",
            "fail",
            "threshold p95 <= 50 failed: value 80",
        ),
        ("smoke", "passed", "", ""),
        ("optional", "skipped", "skip", "command exited 78"),
        (
            "after-slow",
            "error",
            "not_run",
            "not run: needs `slow` (fail)",
        ),
        ("missing", "error", "error", "declared artifact"),
        ("fresh", "passed", "", ""),
    ];
    assert_eq!(cases.len(), expected.len());
    for (name, outcome, ty, message) in expected {
        let c = &cases[name];
        assert_eq!((c.outcome, c.ty.as_str()), (outcome, ty), "{name}: {c:?}");
        assert!(c.message.starts_with(message), "{name}: {c:?}");
    }
    // The observational failure passes, with the warning and its log tail in system-out.
    let smoke: Vec<&str> = cases["smoke"].out.lines().collect();
    assert_eq!(
        smoke.first(),
        Some(&"WARNING (observational): command exited with code 1")
    );
    assert!(smoke.contains(&"smoke broke"), "{smoke:?}");
    assert!(
        cases["fresh"].out.lines().any(|l| l == "fresh"),
        "log tail: {:?}",
        cases["fresh"]
    );
    assert!(
        cases["after-slow"].out.is_empty(),
        "a gate that did not run has no log"
    );

    repo.run(&RUN_ARGS).expect_code(1);
    let cases = junit_cases(&repo.read("out/junit.xml"));
    assert!(
        cases["bench"].out.contains("replayed from the cache"),
        "{:?}",
        cases["bench"]
    );
}

#[test]
fn junit_counts_errors_apart_from_failures() {
    let repo = suite();
    repo.run(&RUN_ARGS).expect_code(1);
    let xml = repo.read("out/junit.xml");
    // slow failed its threshold; missing (error) and after-slow (not_run) could not be judged.
    let elements = |tag: &str| xml.matches(&format!("<{tag} ")).count();
    assert_eq!(
        (elements("failure"), elements("error"), elements("skipped")),
        (1, 2, 1),
        "{xml}"
    );
    let suite = start_tag(&xml, "testsuite");
    for attribute in [r#"failures="1""#, r#"errors="2""#, r#"skipped="1""#] {
        assert!(suite.contains(attribute), "{attribute} in {suite}");
    }
    let suites = start_tag(&xml, "testsuites");
    for attribute in [r#"failures="1""#, r#"errors="2""#] {
        assert!(suites.contains(attribute), "{attribute} in {suites}");
    }
    assert!(!suites.contains("skipped"), "{suites}");
}

/// Run `xmllint --noout --schema tests/data/junit-10.xsd FILE`: (success, what it printed).
/// Panics when xmllint cannot be started, so a machine without it fails the test.
pub(crate) fn xmllint_junit_10(file: &std::path::Path) -> (bool, String) {
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit-10.xsd");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install Debian's libxml2-utils (.ci/run does)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn junit_of_a_real_run_validates_against_jenkins_junit_10_xsd() {
    let repo = suite();
    // pass (bench, fresh), fail (slow), error (missing), skip (optional), not_run
    // (after-slow) and an observational failure (smoke); the second run replays from the cache.
    for _ in 0..2 {
        repo.run(&RUN_ARGS).expect_code(1);
        let cases = junit_cases(&repo.read("out/junit.xml"));
        let outcomes: BTreeSet<&str> = cases.values().map(|c| c.outcome).collect();
        assert_eq!(
            outcomes,
            BTreeSet::from(["passed", "failure", "error", "skipped"])
        );
        let (valid, text) = xmllint_junit_10(&repo.path("out/junit.xml"));
        assert!(valid, "{text}\n{}", repo.read("out/junit.xml"));
        assert!(text.contains("validates"), "{text}");
    }
    // The schema is strict where it matters: the attribute quick-junit writes by default on
    // <testsuites> does not validate.
    let xml = repo.read("out/junit.xml");
    let tag = start_tag(&xml, "testsuites");
    let with_skipped = xml.replacen(tag, &tag.replacen(" tests=", " skipped=\"1\" tests=", 1), 1);
    assert_ne!(with_skipped, xml);
    repo.write("out/with-skipped.xml", &with_skipped);
    let (valid, text) = xmllint_junit_10(&repo.path("out/with-skipped.xml"));
    assert!(
        !valid,
        "a `skipped` on <testsuites> must not validate: {text}"
    );
    assert!(text.contains("skipped"), "{text}");
}

// ---------------------------------------------------------------- Markdown

/// The rows of the first Markdown table: cells split on unescaped `|`, trimmed, unescaped.
fn table(md: &str) -> Vec<Vec<String>> {
    md.lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let mut cells = Vec::new();
            let mut cell = String::new();
            let mut chars = line.trim().chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'|') => {
                        cell.push('|');
                        chars.next();
                    }
                    '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
                    c => cell.push(c),
                }
            }
            assert!(cell.trim().is_empty(), "row ends with `|`: {line}");
            cells.remove(0);
            cells
        })
        .collect()
}

fn rows_by_gate(md: &str) -> BTreeMap<String, Vec<String>> {
    let rows = table(md);
    assert_eq!(
        rows[0],
        ["Gate", "Status", "Mode", "Time", "Cached", "Thresholds"],
        "{md}"
    );
    assert!(
        rows[1]
            .iter()
            .all(|c| c.chars().all(|c| matches!(c, '-' | ':')) && c.contains('-')),
        "separator: {:?}",
        rows[1]
    );
    rows[2..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 6, "{r:?}");
            (r[0].clone(), r.clone())
        })
        .collect()
}

#[test]
fn markdown_summary_is_a_table_of_every_gate() {
    let repo = suite();
    repo.run(&RUN_ARGS).expect_code(1);
    let md = repo.read("out/summary.md");
    assert!(md.starts_with("## "), "{md}");
    let rows = rows_by_gate(&md);
    let names: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "bench",
            "slow",
            "smoke",
            "optional",
            "after-slow",
            "missing",
            "fresh"
        ])
    );
    let status = |g: &str| {
        rows[g][1]
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (g, s) in [
        ("bench", "pass"),
        ("slow", "fail"),
        ("smoke", "fail"),
        ("optional", "skip"),
        ("after-slow", "not run"),
        ("missing", "error"),
    ] {
        assert_eq!(status(g), s, "{g}: {:?}", rows[g]);
    }
    assert!(
        rows["smoke"][1].starts_with("⚠️"),
        "observational failure is a warning: {:?}",
        rows["smoke"]
    );
    assert!(rows["slow"][1].starts_with("❌"));
    assert_eq!(rows["smoke"][2], "observational");
    assert_eq!(rows["bench"][2], "blocking");
    assert_eq!(rows["bench"][4], "no");
    let thresholds: Vec<&str> = rows["bench"][5].split("<br>").collect();
    assert_eq!(thresholds, ["lat.p95 <= 10: 4.5 ✓", "count >= 3: 3 ✓"]);
    assert_eq!(rows["slow"][5], "p95 <= 50: 80 ✗");
    assert_eq!(rows["fresh"][5], "—");
    assert!(
        md.lines().any(|l| l == "**Labels:** `smoke-failed:smoke`"),
        "{md}"
    );
    assert!(
        md.lines()
            .any(|l| l == "- `slow` (fail): threshold p95 <= 50 failed: value 80"),
        "{md}"
    );

    repo.run(&RUN_ARGS).expect_code(1);
    let rows = rows_by_gate(&repo.read("out/summary.md"));
    assert_eq!(rows["bench"][4], "yes");
    assert_eq!(rows["fresh"][4], "no");
}

// ---------------------------------------------------------------- Prometheus

/// A parsed sample line.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parse the text exposition format; panics on anything malformed: a sample without HELP and
/// TYPE before it, a family split in two, a repeated series, a bad name or label.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut help: BTreeSet<String> = BTreeSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut seen: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "ends with a line feed");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("HELP without text: {line}"));
            assert!(valid_name(name) && !doc.is_empty(), "{line}");
            assert!(help.insert(name.to_owned()), "second HELP for {name}");
            if let Some(c) = current.replace(name.to_owned()).filter(|c| c != name) {
                finished.insert(c);
            }
            assert!(!finished.contains(name), "family {name} split");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(matches!(ty, "gauge" | "counter"), "{line}");
            assert!(help.contains(name), "TYPE before HELP: {line}");
            assert!(
                types.insert(name.to_owned(), ty.to_owned()).is_none(),
                "second TYPE for {name}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line {line:?}"
        );
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("no value: {line}"),
        };
        assert!(valid_name(name), "{line}");
        assert_eq!(
            current.as_deref(),
            Some(name),
            "sample outside its family: {line}"
        );
        assert!(types.contains_key(name), "sample without TYPE: {line}");
        let mut labels = BTreeMap::new();
        let value_text = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.chars();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                assert!(
                    valid_name(&key) && !key.contains(':'),
                    "label name {key:?} in {line}"
                );
                assert_eq!(chars.next(), Some('"'), "{line}");
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line}"),
                        },
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => panic!("unterminated label value in {line}"),
                    }
                }
                assert!(
                    labels.insert(key, value).is_none(),
                    "repeated label in {line}"
                );
                match chars.next() {
                    Some(',') => {}
                    Some('}') => break,
                    other => panic!("{other:?} after a label in {line}"),
                }
            }
            chars.collect::<String>()
        } else {
            rest.to_owned()
        };
        let value_text = value_text
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("value {v:?} in {line}")),
        };
        let key = (
            name.to_owned(),
            labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        assert!(seen.insert(key), "repeated series {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// Samples by series, written `name{k=v,k=v}` (labels in name order, values unquoted).
fn series(samples: &[Sample]) -> BTreeMap<String, f64> {
    samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let key = if labels.is_empty() {
                s.name.clone()
            } else {
                format!("{}{{{}}}", s.name, labels.join(","))
            };
            (key, s.value)
        })
        .collect()
}

#[track_caller]
fn expect_series(m: &BTreeMap<String, f64>, expected: &[(&str, f64)]) {
    for (key, want) in expected {
        assert_eq!(m.get(*key), Some(want), "{key}");
    }
}

#[test]
fn prometheus_metrics_parse_with_help_and_type_and_spec_families() {
    let repo = suite();
    repo.run(&RUN_ARGS).expect_code(1);
    let samples = parse_prometheus(&repo.read("out/metrics.prom"));
    let m = series(&samples);
    let statuses = [
        ("bench", "pass"),
        ("slow", "fail"),
        ("smoke", "fail"),
        ("optional", "skip"),
        ("after-slow", "not_run"),
        ("missing", "error"),
        ("fresh", "pass"),
    ];
    for (gate, status) in statuses {
        for s in ["pass", "fail", "skip", "error", "not_run"] {
            let want = if s == status { 1.0 } else { 0.0 };
            expect_series(
                &m,
                &[(
                    &format!("runner_gate_status{{gate={gate},status={s}}}"),
                    want,
                )],
            );
        }
        let d = m[&format!("runner_gate_duration_seconds{{gate={gate}}}")];
        assert!((0.0..120.0).contains(&d), "{gate}: {d}");
        expect_series(&m, &[(&format!("runner_gate_cached{{gate={gate}}}"), 0.0)]);
    }
    let status_series = samples
        .iter()
        .filter(|s| s.name == "runner_gate_status")
        .count();
    assert_eq!(status_series, statuses.len() * 5);
    expect_series(
        &m,
        &[
            ("runner_gate_metric{gate=bench,metric=lat.p95}", 4.5),
            ("runner_gate_metric{gate=bench,metric=count}", 3.0),
            ("runner_gate_metric{gate=slow,metric=p95}", 80.0),
            ("bench_latency_p95{gate=bench}", 4.5),
            // Misses: every cacheable gate that got to the lookup (not after-slow, not fresh).
            ("runner_cache_hits_total", 0.0),
            ("runner_cache_misses_total", 5.0),
            ("runner_run_exit_code", 1.0),
        ],
    );

    repo.run(&RUN_ARGS).expect_code(1);
    let m = series(&parse_prometheus(&repo.read("out/metrics.prom")));
    // bench and slow (exit 0; its threshold is judged again on every run) are replayed;
    // smoke, optional (78) and missing (no artifact) were not stored, so they miss again.
    expect_series(
        &m,
        &[
            ("runner_gate_cached{gate=bench}", 1.0),
            ("runner_gate_cached{gate=slow}", 1.0),
            ("runner_gate_metric{gate=bench,metric=lat.p95}", 4.5),
            ("bench_latency_p95{gate=bench}", 4.5),
            ("runner_cache_hits_total", 2.0),
            ("runner_cache_misses_total", 3.0),
        ],
    );
}

// ---------------------------------------------------------------- GitHub Actions

/// `::level title=...::message` lines of stdout, unescaped.
fn annotations(stdout: &str) -> Vec<(String, String, String)> {
    let unescape = |s: &str| {
        s.replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%")
    };
    stdout
        .lines()
        .filter(|l| l.starts_with("::") && !is_group_marker(l))
        .map(|l| {
            let (head, message) = l[2..].split_once("::").unwrap_or_else(|| panic!("{l}"));
            let (level, props) = head.split_once(' ').unwrap_or_else(|| panic!("{l}"));
            let title = props
                .strip_prefix("title=")
                .unwrap_or_else(|| panic!("{l}"));
            (level.to_owned(), unescape(title), unescape(message))
        })
        .collect()
}

#[test]
fn github_actions_annotations_and_step_summary() {
    let repo = suite();
    repo.write("step-summary.md", "earlier step\n");
    let step = repo.path("step-summary.md").display().to_string();
    let out = repo.run(&RUN_ARGS);
    out.expect_code(1);
    assert!(
        annotations(&out.stdout).is_empty(),
        "no annotations outside GitHub Actions: {}",
        out.stdout
    );
    assert_eq!(
        repo.read("step-summary.md"),
        "earlier step\n",
        "GITHUB_STEP_SUMMARY unset"
    );

    let repo = repo
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &step);
    let out = repo.run(&["run", "--summary", "out/summary.md"]);
    out.expect_code(1);
    let mut got = annotations(&out.stdout);
    got.sort();
    let want: Vec<(String, String, String)> = [
        (
            "error",
            "after-slow",
            "not run: needs `slow` (fail) which did not pass",
        ),
        ("error", "slow", "threshold p95 <= 50 failed: value 80"),
        ("warning", "smoke", "command exited with code 1"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    let missing = got
        .iter()
        .find(|(_, g, _)| g == "missing")
        .cloned()
        .expect("missing annotated");
    assert_eq!(missing.0, "error");
    got.retain(|(_, g, _)| g != "missing");
    assert_eq!(got, want, "{}", out.stdout);
    let summary = repo.read("out/summary.md");
    assert_eq!(
        repo.read("step-summary.md"),
        format!("earlier step\n{summary}")
    );
}

/// The workflow-command lines of stdout, as printed.
fn workflow_commands(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("::") && !is_group_marker(l))
        .collect()
}

/// `::group::` and `::endgroup::`: the folding of gate logs (`--log-order grouped`, the default
/// under GitHub Actions), not annotations.
fn is_group_marker(line: &str) -> bool {
    line.starts_with("::group::") || line == "::endgroup::"
}

const CHECKLISTS: &str = r#"
[gates.release-plan]
kind = "checklist"
file = "docs/plan.md"

[gates.smoke-plan]
mode = "observational"
kind = "checklist"
file = "docs/smoke.md"
"#;

fn checklists(repo: &Repo, dir: &str) {
    repo.write(
        &format!("{dir}docs/plan.md"),
        "# Plan\n\n- [x] Schema reviewed\n- [ ] Docs updated\n- [ ] Rollback, tested: 100%\n",
    );
    repo.write(&format!("{dir}docs/smoke.md"), "- [ ] Smoke run\n");
}

#[test]
fn github_actions_annotations_put_findings_on_their_file_and_line() {
    let repo = Repo::new().gates(CHECKLISTS).env("GITHUB_ACTIONS", "true");
    checklists(&repo, "");
    let out = repo.run(&["run"]);
    out.expect_code(1);
    assert_eq!(
        workflow_commands(&out.stdout),
        [
            "::error title=release-plan::2 of 3 required items unchecked: docs/plan.md:4: Docs updated; docs/plan.md:5: Rollback, tested: 100%25",
            "::error file=docs/plan.md,line=4,title=release-plan::unchecked: Docs updated",
            "::error file=docs/plan.md,line=5,title=release-plan::unchecked: Rollback, tested: 100%25",
            "::warning title=smoke-plan::1 of 1 required items unchecked: docs/smoke.md:1: Smoke run",
            "::warning file=docs/smoke.md,line=1,title=smoke-plan::unchecked: Smoke run",
        ],
        "{}",
        out.stdout
    );

    // A config in a subfolder of the repository ($GITHUB_WORKSPACE): files are named from the
    // repository root, so GitHub finds them in the diff.
    let repo = Repo::new().env("GITHUB_ACTIONS", "true");
    repo.write("sub/gates.toml", &format!("version = 1\n{CHECKLISTS}"));
    checklists(&repo, "sub/");
    let root = repo.root().display().to_string();
    let repo = repo.env("GITHUB_WORKSPACE", &root);
    let out = repo.run(&["-c", "sub/gates.toml", "run"]);
    out.expect_code(1);
    let placed: Vec<&str> = workflow_commands(&out.stdout)
        .into_iter()
        .filter(|l| l.contains(" file="))
        .collect();
    assert_eq!(
        placed,
        [
            "::error file=sub/docs/plan.md,line=4,title=release-plan::unchecked: Docs updated",
            "::error file=sub/docs/plan.md,line=5,title=release-plan::unchecked: Rollback, tested: 100%25",
            "::warning file=sub/docs/smoke.md,line=1,title=smoke-plan::unchecked: Smoke run",
        ],
        "{}",
        out.stdout
    );
}

#[test]
fn github_actions_annotations_put_config_errors_on_gates_toml() {
    // Line 1 is `version = 1`, line 2 is empty (Repo::gates).
    let repo = Repo::new().gates(
        "[gates.a]\nrun = \"true\"\nrunn = 1\n\n[gates.b]\nneeds = [\"a\", \"zz\"]\nrun = \"true\"\n",
    );
    let plain = repo.run(&["run"]);
    plain.expect_code(2);
    assert!(
        workflow_commands(&plain.stdout).is_empty(),
        "{}",
        plain.stdout
    );
    assert!(
        plain
            .stderr
            .starts_with("gates.toml:5:1: unknown key `runn`"),
        "{}",
        plain.stderr
    );

    let repo = repo.env("GITHUB_ACTIONS", "true");
    let out = repo.run(&["run"]);
    out.expect_code(2);
    assert_eq!(out.stderr, plain.stderr, "the human rendering is unchanged");
    assert_eq!(
        workflow_commands(&out.stdout),
        [
            "::error file=gates.toml,line=5,col=1::unknown key `runn` in gate `a`",
            "::error file=gates.toml,line=8,col=15::gate `b` needs unknown gate `zz`",
        ],
        "{}",
        out.stdout
    );

    // Named from the repository root when the config is in a subfolder of $GITHUB_WORKSPACE.
    let text = repo.read("gates.toml");
    repo.write("ci/gates.toml", &text);
    let root = repo.root().display().to_string();
    let repo = repo.env("GITHUB_WORKSPACE", &root);
    let out = repo.run(&["-c", "ci/../ci/gates.toml", "run"]);
    out.expect_code(2);
    let files: Vec<&str> = workflow_commands(&out.stdout)
        .iter()
        .map(|l| l.split([',', ':']).nth(2).unwrap_or(l))
        .collect();
    assert_eq!(files, ["error file=ci/gates.toml"; 2], "{}", out.stdout);

    // A config that cannot be read is annotated too, on the path as given.
    let out = repo.run(&["-c", "absent.toml", "run"]);
    out.expect_code(2);
    let lines = workflow_commands(&out.stdout);
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(
        lines[0].starts_with("::error file=absent.toml::cannot read the config: "),
        "{}",
        out.stdout
    );
}

#[test]
fn smoke_labels_of_long_gate_names_fit_githubs_50_characters() {
    let long = "end-to-end-latency-of-the-registry-stub-under-load";
    let repo = Repo::new().gates(&format!(
        "[gates.{long}]\nmode = \"observational\"\nrun = \"exit 1\"\n\n[gates.smoke]\nmode = \"observational\"\nrun = \"exit 1\"\n"
    ));
    repo.run(&["run", "--summary", "out/summary.md"])
        .expect_code(0);
    let labels: Vec<String> =
        serde_json::from_value(repo.report()["labels"].clone()).expect("labels are strings");
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_eq!(labels[1], "smoke-failed:smoke");
    let short = &labels[0];
    assert_eq!(short.chars().count(), 50, "{short}");
    assert!(
        short.starts_with(&format!("smoke-failed:{}-", &long[..28])),
        "{short}"
    );
    assert!(
        short[42..].chars().all(|c| c.is_ascii_hexdigit()),
        "{short}"
    );
    assert!(
        repo.read("out/summary.md").contains(&format!("`{short}`")),
        "the summary names the label as the report does"
    );
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        repo.report()["labels"][0],
        short.as_str(),
        "the same label every run"
    );
}

// ---------------------------------------------------------------- File modes

/// Run `runner run` with the report files of [`RUN_ARGS`] in `repo` from `sh`, with `umask` set
/// first; the permission bits of each report file it wrote (the JSON report at its default
/// path, `JUnit`, Markdown, Prometheus).
fn report_file_modes(repo: &Repo, umask: &str) -> BTreeMap<&'static str, u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let files = [
        "cache/report.json",
        "out/junit.xml",
        "out/summary.md",
        "out/metrics.prom",
    ];
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_runner"))
        .args(RUN_ARGS)
        .current_dir(repo.root())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("run sh");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(repo.path(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            (*f, meta.permissions().mode() & 0o777)
        })
        .collect()
}

#[test]
fn report_files_honour_the_umask() {
    let repo = suite();
    // 022: the usual default, 0644; 027: no access for others, 0640. Later rounds replace the
    // files an earlier one wrote: the new file's mode is a new file's, not the old one's.
    for (umask, want) in [("022", 0o644), ("027", 0o640), ("022", 0o644)] {
        let modes = report_file_modes(&repo, umask);
        assert!(
            modes.values().all(|m| *m == want),
            "umask {umask}: want {want:o}, got {:?}",
            modes
                .iter()
                .map(|(f, m)| format!("{f} {m:o}"))
                .collect::<Vec<_>>()
        );
    }
}

// ---------------------------------------------------------------- Snapshots

/// A report with every status, a graduated gate, thresholds, exports and text to escape.
fn fixed_report() -> Report {
    let key = "0f".repeat(32);
    let t = |metric: &str, op: &str, limit: f64, value: Option<f64>, pass: bool| json!({"metric": metric, "op": op, "limit": limit, "value": value, "pass": pass});
    let gate =
        |name: &str, kind: &str, status: &str, modes: (&str, &str), cached: bool, ms: u64| {
            json!({
                "name": name, "kind": kind, "status": status, "mode": modes.0,
                "configured_mode": modes.1, "cached": cached, "duration_ms": ms,
                "key": if status == "not_run" { Value::Null } else { json!(key) },
                "reason": null, "artifacts": [], "thresholds": []
            })
        };
    let (blocking, observational) = (("blocking", "blocking"), ("observational", "observational"));
    let mut pqc = gate("pqc-sign-verify", "pqc-bench", "pass", blocking, false, 143);
    pqc["artifacts"] = json!([".runner/out/pqc-sign-verify.json"]);
    pqc["thresholds"] = json!([
        t("sign_p95_ms", "<=", 50.0, Some(0.58), true),
        t("verify_p95_ms", "<=", 10.0, Some(0.12), true)
    ]);
    pqc["exports"] = json!([{"name": "pqc_verify_latency", "value": 0.12}]);
    let mut drift = gate("dream-drift", "command", "fail", observational, false, 2351);
    drift["reason"] = json!("threshold drift < 0.05 failed: value 0.07");
    drift["thresholds"] = json!([t("drift", "<", 0.05, Some(0.07), false)]);
    drift["exports"] = json!([{"name": "dream_drift_score", "value": 0.07}]);
    let graduated = ("blocking", "observational");
    let mut memoria = gate("memoria-compression", "command", "pass", graduated, true, 3);
    memoria["thresholds"] = json!([t("a|b", ">=", 0.7, None, false)]);
    let mut skipped = gate("registry-smoke", "http", "skip", blocking, false, 0);
    skipped["key"] = Value::Null;
    skipped["reason"] = json!("skipped: requires REGISTRY_DEV_STUB=1");
    let mut broken = gate("audit-report", "command", "error", blocking, false, 65_000);
    broken["reason"] = json!("declared artifact `audit|report.json` is missing\nsee the log <b>");
    let mut blocked = gate("governance", "policy", "not_run", blocking, false, 0);
    blocked["reason"] = json!("not run: needs `audit-report` (error) which did not pass");
    serde_json::from_value(json!({
        "version": 1, "outcome": "fail", "exit_code": 1, "started_at": "2026-11-24T10:00:00Z", "duration_ms": 67_512,
        "summary": {"pass": 2, "fail": 1, "skip": 1, "error": 1, "not_run": 1, "cached": 1},
        "labels": ["smoke-failed:dream-drift"],
        "gates": [pqc, drift, memoria, skipped, broken, blocked]
    }))
    .expect("a valid report")
}

fn fixed_config(dir: &std::path::Path) -> runner::config::Config {
    let text = r#"version = 1
[gates.pqc-sign-verify]
kind = "pqc-bench"
export = { "pqc.verify.latency" = "verify_p95_ms" }
[gates.dream-drift]
run = "true"
export = { "dream.drift.score" = "drift" }
[gates.memoria-compression]
run = "true"
[gates.registry-smoke]
kind = "http"
url = "http://127.0.0.1:1/"
[gates.audit-report]
run = "true"
[gates.governance]
kind = "policy"
policy = "p.rego"
input = "i.json"
query = "data.p.allow"
"#;
    runner::config::parse("gates.toml", text, dir).expect("fixed config")
}

#[test]
fn markdown_of_a_fixed_report() {
    let md = runner::report::markdown::render(&fixed_report());
    let rows = rows_by_gate(&md);
    assert_eq!(rows["memoria-compression"][2], "blocking (graduated)");
    assert_eq!(
        rows["memoria-compression"][5], "a|b >= 0.7: missing ✗",
        "`|` escaped in a cell"
    );
    assert_eq!(rows["audit-report"][3], "1m 05s");
    insta::assert_snapshot!("markdown_fixed_report", md);
}

#[test]
fn prometheus_of_a_fixed_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = runner::report::metrics::render(&fixed_report(), &fixed_config(dir.path()));
    let m = series(&parse_prometheus(&text));
    // registry-smoke (http, skipped before its key) is neither hit nor miss; memoria was a hit.
    expect_series(
        &m,
        &[
            ("pqc_verify_latency{gate=pqc-sign-verify}", 0.12),
            ("dream_drift_score{gate=dream-drift}", 0.07),
            ("runner_cache_hits_total", 1.0),
            // pqc-sign-verify measures the machine: never cached, so neither hit nor miss.
            ("runner_cache_misses_total", 2.0),
        ],
    );
    insta::assert_snapshot!("prometheus_fixed_report", text);
}

/// Durations and start times vary from run to run; replace them.
fn normalise_markdown(md: &str) -> String {
    md.lines()
        .map(|l| {
            if l.contains(" gates: ") {
                let mut parts: Vec<&str> = l.split(" · ").collect();
                if parts.len() == 5 {
                    parts[2] = "<time>";
                    parts[4] = "started <time>";
                }
                return parts.join(" · ");
            }
            if l.starts_with("| ") && !l.starts_with("| Gate ") {
                let mut cells: Vec<&str> = l.split(" | ").collect();
                if cells.len() == 6 {
                    cells[3] = "<time>";
                }
                return cells.join(" | ");
            }
            l.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn normalise_metrics(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once("} ") {
            Some((head, _)) if l.starts_with("runner_gate_duration_seconds{") => {
                format!("{head}}} <seconds>")
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn markdown_and_prometheus_of_a_real_run() {
    let repo = suite();
    repo.run(&RUN_ARGS).expect_code(1);
    insta::assert_snapshot!(
        "markdown_real_run",
        normalise_markdown(&repo.read("out/summary.md"))
    );
    insta::assert_snapshot!(
        "prometheus_real_run",
        normalise_metrics(&repo.read("out/metrics.prom"))
    );
}
