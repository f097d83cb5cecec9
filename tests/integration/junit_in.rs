//! `junit = "out/<name>.xml"` on a command gate: the tests it ran, read from its `JUnit` XML
//! (pytest, cargo-nextest, jest-junit, gotestsum), become `junit.*` metrics, the failed ones are
//! named in the reason, and runner's own `--junit` output carries them one testcase each.

use quick_junit::{NonSuccessKind, TestCaseStatus};
use serde_json::{Value, json};

use crate::harness::Repo;

/// One dialect's test data and what it holds.
struct Dialect {
    /// The file under tests/data/junit/.
    file: &'static str,
    xml: &'static str,
    /// tests, failures, errors, skipped, passed.
    counts: [u64; 5],
    /// The failed (and errored) tests as the reason names them.
    failed: &'static [&'static str],
    /// Every test's `name`, in document order.
    names: &'static [&'static str],
}

const DIALECTS: &[Dialect] = &[
    Dialect {
        file: "pytest.xml",
        xml: include_str!("../data/junit/pytest.xml"),
        counts: [5, 1, 1, 1, 2],
        failed: &[
            "tests/test_cart.py::test_discount",
            "tests/test_cart.py::TestCheckout::test_refund",
        ],
        names: &[
            "test_total",
            "test_discount",
            "test_pay",
            "test_refund",
            "test_fetch",
        ],
    },
    Dialect {
        file: "pytest-legacy.xml",
        xml: include_str!("../data/junit/pytest-legacy.xml"),
        counts: [4, 2, 0, 1, 1],
        failed: &["tests/test_x.py::test_a", "tests/test_y.py::TestY::test_b"],
        names: &["test_a", "test_ok", "test_b", "test_later"],
    },
    Dialect {
        file: "nextest.xml",
        xml: include_str!("../data/junit/nextest.xml"),
        counts: [4, 1, 0, 0, 3],
        failed: &["shop cart::tests::discount_applies"],
        names: &[
            "cart::tests::total_sums_lines",
            "cart::tests::discount_applies",
            "cart::tests::flaky_clock",
            "pays_once",
        ],
    },
    Dialect {
        file: "jest.xml",
        xml: include_str!("../data/junit/jest.xml"),
        counts: [4, 1, 0, 1, 2],
        failed: &["cart applies a discount"],
        names: &[
            "cart totals the lines",
            "cart applies a discount",
            "cart pays later",
            "checkout refuses an empty cart",
        ],
    },
    Dialect {
        file: "gotestsum.xml",
        xml: include_str!("../data/junit/gotestsum.xml"),
        counts: [5, 2, 0, 1, 2],
        failed: &[
            "example.com/shop/cart TestDiscount/ten_percent",
            "example.com/shop/cart TestDiscount",
        ],
        names: &[
            "TestTotal",
            "TestDiscount/ten_percent",
            "TestDiscount",
            "TestRemote",
            "TestCharge",
        ],
    },
];

const COUNT_NAMES: [&str; 5] = ["tests", "failures", "errors", "skipped", "passed"];

/// A repository whose gate `tests` copies `fixtures/<file>` to `out/tests.xml`, counts its runs
/// in runs.log and exits `code`; `extra` is added to its table.
fn gate_repo(file: &str, xml: &str, code: i32, extra: &str) -> Repo {
    let repo = Repo::new().gates(&format!(
        r#"
[gates.tests]
run = "echo run >> runs.log; mkdir -p out && cp fixtures/{file} out/tests.xml; exit {code}"
inputs = ["fixtures/*"]
artifacts = ["out/tests.xml"]
junit = "out/tests.xml"
{extra}
"#
    ));
    repo.write(&format!("fixtures/{file}"), xml);
    repo
}

/// Thresholds every count passes, so the report shows each count's value.
const EVERY_COUNT: &str = r#"thresholds = { "junit.tests" = ">= 0", "junit.failures" = ">= 0", "junit.errors" = ">= 0", "junit.skipped" = ">= 0", "junit.passed" = ">= 0" }"#;

/// The report's threshold values by metric.
fn threshold_values(gate: &Value) -> Vec<(String, Value)> {
    gate["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .map(|t| {
            (
                t["metric"].as_str().unwrap_or_default().to_owned(),
                t["value"].clone(),
            )
        })
        .collect()
}

fn expected_values(counts: [u64; 5]) -> Vec<(String, Value)> {
    COUNT_NAMES
        .iter()
        .zip(counts)
        .map(|(name, n)| {
            (
                format!("junit.{name}"),
                json!(f64::from(u32::try_from(n).unwrap())),
            )
        })
        .collect()
}

fn parse_junit(xml: &str) -> quick_junit::Report {
    quick_junit::Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

/// The testsuite of runner's `--junit` output named `name`.
fn suite<'a>(report: &'a quick_junit::Report, name: &str) -> &'a quick_junit::TestSuite {
    report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == name)
        .unwrap_or_else(|| panic!("no testsuite {name}"))
}

#[test]
fn each_dialect_becomes_metrics_a_reason_and_one_testcase_per_test() {
    for d in DIALECTS {
        let repo = gate_repo(d.file, d.xml, 1, EVERY_COUNT);
        repo.run(&["run", "--junit", "junit.xml"]).expect_code(1);
        let g = repo.gate("tests");
        assert_eq!(g["status"], "fail", "{}: {g:#}", d.file);
        // The counts, as the thresholds read them.
        assert_eq!(
            threshold_values(&g),
            expected_values(d.counts),
            "{}",
            d.file
        );
        // The failed tests, named in the reason.
        let n = d.failed.len();
        assert_eq!(
            g["reason"],
            format!(
                "command exited with code 1; {n} test{} failed: {}",
                if n == 1 { "" } else { "s" },
                d.failed.join(", ")
            ),
            "{}",
            d.file
        );
        // The report carries each test.
        let tests = g["tests"].as_array().expect("tests in the report");
        let names: Vec<&str> = tests.iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, d.names, "{}", d.file);
        for (status, count) in [
            ("fail", d.counts[1]),
            ("error", d.counts[2]),
            ("skip", d.counts[3]),
        ] {
            let found = tests.iter().filter(|t| t["status"] == status).count();
            assert_eq!(found as u64, count, "{}: {status}", d.file);
        }
        assert!(
            tests
                .iter()
                .filter(|t| t["status"] == "fail")
                .all(|t| t["message"].as_str().is_some_and(|m| !m.is_empty())),
            "{}: every failure has a message: {tests:#?}",
            d.file
        );
        // runner's JUnit: the gate is a testsuite of its tests, not one testcase.
        let junit = parse_junit(&repo.read("junit.xml"));
        let runner = suite(&junit, "runner");
        assert!(runner.test_cases.is_empty(), "{}", d.file);
        let own = suite(&junit, "tests");
        let case_names: Vec<&str> = own.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(case_names, d.names, "{}", d.file);
        assert_eq!(
            [own.tests, own.failures, own.errors, own.skipped].map(|n| n as u64),
            [d.counts[0], d.counts[1], d.counts[2], d.counts[3]],
            "{}",
            d.file
        );
        assert_eq!(
            (junit.tests, junit.failures, junit.errors),
            (own.tests, own.failures, own.errors)
        );
    }
}

#[test]
fn a_passing_command_with_failed_tests_passes_and_says_so_in_its_junit() {
    let d = &DIALECTS[3];
    let repo = gate_repo(d.file, d.xml, 0, EVERY_COUNT);
    repo.run(&["run", "--junit", "junit.xml"]).expect_code(0);
    let g = repo.gate("tests");
    assert_eq!(g["status"], "pass", "{g:#}");
    assert_eq!(g["reason"], Value::Null);
    assert_eq!(threshold_values(&g), expected_values(d.counts));
    let junit = parse_junit(&repo.read("junit.xml"));
    let own = suite(&junit, "tests");
    assert_eq!(
        (own.tests, own.failures, own.errors, own.skipped),
        (4, 0, 0, 1)
    );
    let discount = &own.test_cases[1];
    assert!(matches!(discount.status, TestCaseStatus::Success { .. }));
    let out = discount.system_out.as_ref().expect("system-out").as_str();
    assert!(
        out.starts_with("WARNING (the gate passed): the test ended fail: Error: expect(received)"),
        "{out}"
    );
}

#[test]
fn a_threshold_on_junit_failures_fails_the_gate_and_names_the_tests() {
    let d = &DIALECTS[0];
    let repo = gate_repo(
        d.file,
        d.xml,
        0,
        "thresholds = { \"junit.failures\" = \"== 0\", \"junit.tests\" = \">= 5\" }\nexport = { \"pytest.failed\" = \"junit.failures\" }",
    );
    repo.run(&["run", "--junit", "junit.xml"]).expect_code(1);
    let g = repo.gate("tests");
    assert_eq!(g["status"], "fail");
    assert_eq!(
        g["reason"],
        "threshold junit.failures == 0 failed: value 1; 2 tests failed: \
         tests/test_cart.py::test_discount, tests/test_cart.py::TestCheckout::test_refund"
    );
    let thresholds = g["thresholds"].as_array().expect("thresholds");
    assert_eq!(thresholds[0]["pass"], false);
    assert_eq!(thresholds[1]["pass"], true);
    assert_eq!(
        g["exports"],
        json!([{"name": "pytest_failed", "value": 1.0}])
    );
    // The failed tests carry the verdict in runner's JUnit.
    let junit = parse_junit(&repo.read("junit.xml"));
    let own = suite(&junit, "tests");
    assert_eq!((own.failures, own.errors), (1, 1));
    match &own.test_cases[1].status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message: Some(m),
            ..
        } => assert_eq!(m.as_str(), "AssertionError: assert 90 == 80"),
        other => panic!("{other:?}"),
    }
    // With every test passing, the threshold's failure is the gate's own testcase.
    let passing = d
        .xml
        .replace("<failure message", "<system-out message")
        .replace("</failure>", "</system-out>")
        .replace("<error message", "<system-err message")
        .replace("</error>", "</system-err>");
    repo.write("fixtures/pytest.xml", &passing);
    repo.write(
        "gates.toml",
        &repo
            .read("gates.toml")
            .replace("\"junit.tests\" = \">= 5\"", "\"junit.tests\" = \">= 100\""),
    );
    repo.run(&["run", "--junit", "junit.xml"]).expect_code(1);
    let g = repo.gate("tests");
    assert_eq!(g["reason"], "threshold junit.tests >= 100 failed: value 5");
    let junit = parse_junit(&repo.read("junit.xml"));
    let own = suite(&junit, "tests");
    let names: Vec<&str> = own.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "test_total",
            "test_discount",
            "test_pay",
            "test_refund",
            "test_fetch",
            "tests"
        ]
    );
    assert_eq!((own.failures, own.errors, own.skipped), (1, 0, 1));
}

#[test]
fn zero_test_cases_trip_the_no_op_guard() {
    for xml in [
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites><testsuite name=\"pytest\" errors=\"0\" failures=\"0\" skipped=\"0\" tests=\"0\" time=\"0.004\"/></testsuites>",
        "<testsuite name=\"pytest\" tests=\"0\"></testsuite>",
        "",
    ] {
        let repo = gate_repo("pytest.xml", xml, 0, "");
        repo.run(&["run"]).expect_code(1);
        let g = repo.gate("tests");
        assert_eq!(g["status"], "error", "{xml}");
        let guard = g["guard"].as_str().expect("a guard trip");
        assert!(guard.starts_with("no-op guard: out/tests.xml "), "{guard}");
        assert!(guard.contains("holds 0 test cases"), "{guard}");
        assert_eq!(g["reason"], g["guard"]);
    }
}

#[test]
fn an_invalid_junit_file_is_an_error_naming_it() {
    for (xml, why) in [
        (
            "<testsuites><testsuite name=\"x\"><testcase name=\"a\">",
            "ends before",
        ),
        (
            "<html><body>Internal Server Error</body></html>",
            "root element is <html>",
        ),
        ("{\"tests\": 3}", "no XML element"),
    ] {
        let repo = gate_repo("pytest.xml", xml, 0, EVERY_COUNT);
        repo.run(&["run"]).expect_code(1);
        let g = repo.gate("tests");
        assert_eq!(g["status"], "error", "{xml}");
        let reason = g["reason"].as_str().expect("a reason");
        assert!(
            reason.starts_with("JUnit file out/tests.xml is not valid JUnit XML: "),
            "{reason}"
        );
        assert!(reason.contains(why), "{reason}");
        assert_eq!(g["guard"], Value::Null);
        // A command that failed keeps its own reason.
        let failed = gate_repo("pytest.xml", xml, 1, "");
        failed.run(&["run"]).expect_code(1);
        assert_eq!(failed.gate("tests")["reason"], "command exited with code 1");
    }
}

#[test]
fn a_replay_from_the_cache_judges_the_restored_file() {
    let d = &DIALECTS[0];
    let repo = gate_repo(
        d.file,
        d.xml,
        0,
        "thresholds = { \"junit.failures\" = \"<= 5\" }",
    );
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("tests"), ("pass".into(), false));
    // The file goes; the threshold (not in the key) tightens: the replay restores the file and
    // judges it again.
    std::fs::remove_dir_all(repo.path("out")).expect("remove out/");
    repo.write(
        "gates.toml",
        &repo.read("gates.toml").replace("\"<= 5\"", "\"== 0\""),
    );
    repo.run(&["run", "--junit", "junit.xml"]).expect_code(1);
    assert_eq!(repo.read("runs.log"), "run\n", "the command ran once");
    assert_eq!(repo.read("out/tests.xml"), d.xml, "restored byte for byte");
    let g = repo.gate("tests");
    assert_eq!(
        (g["status"].as_str(), g["cached"].as_bool()),
        (Some("fail"), Some(true))
    );
    assert_eq!(
        g["reason"],
        "threshold junit.failures == 0 failed: value 1; 2 tests failed: \
         tests/test_cart.py::test_discount, tests/test_cart.py::TestCheckout::test_refund"
    );
    assert_eq!(g["tests"].as_array().map(Vec::len), Some(5));
    let junit = parse_junit(&repo.read("junit.xml"));
    assert_eq!(suite(&junit, "tests").test_cases.len(), 5);
    let out = suite(&junit, "tests")
        .system_out
        .as_ref()
        .expect("suite system-out")
        .as_str();
    assert!(out.contains("replayed from the cache"), "{out}");
}

#[test]
fn config_errors_name_the_problem() {
    for (gate, words) in [
        (
            "[gates.t]\nrun = \"true\"\njunit = \"out/t.xml\"\n",
            &[
                "junit file `out/t.xml` of gate `t` is not one of its artifacts",
                "add it to artifacts so a replay has it",
            ][..],
        ),
        (
            "[gates.t]\nkind = \"checklist\"\nfile = \"c.md\"\njunit = \"out/t.xml\"\n",
            &[
                "key `junit` does not apply here: it belongs to kind `command`, this gate is kind `checklist`",
            ],
        ),
        (
            "[gates.t]\nrun = \"true\"\nartifacts = [\"/tmp/t.xml\"]\njunit = \"/tmp/t.xml\"\n",
            &["junit file `/tmp/t.xml` of gate `t` is absolute"],
        ),
    ] {
        let repo = Repo::new().gates(gate);
        let out = repo.run(&["check"]);
        out.expect_code(2);
        for w in words {
            assert!(out.stderr.contains(w), "{w}\n{}", out.stderr);
        }
    }
    // Declared as an artifact, with thresholds and no metrics file: valid.
    let repo = Repo::new().gates(
        "[gates.t]\nrun = \"true\"\nartifacts = [\"./out/t.xml\"]\njunit = \"out/./t.xml\"\nthresholds = { \"junit.failures\" = \"== 0\" }\n",
    );
    repo.run(&["check"]).expect_code(0);
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn junit_with_a_gates_tests_validates_against_jenkins_junit_10_xsd() {
    for d in DIALECTS {
        for code in [0, 1] {
            let repo = gate_repo(d.file, d.xml, code, "");
            repo.run(&["run", "--junit", "junit.xml"]);
            let (valid, text) = crate::reports::xmllint_junit_10(&repo.path("junit.xml"));
            assert!(valid, "{}: {text}\n{}", d.file, repo.read("junit.xml"));
        }
    }
}
