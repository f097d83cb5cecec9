//! `JUnit` XML (`--junit`) through quick-junit: one testsuite `runner` with one testcase per
//! gate, and one testsuite per gate that read a `JUnit` file of its own (`junit = "..."`),
//! holding its test cases instead.
//!
//! Mapping (SPEC 5): `pass` passes; `skip` is skipped; a gate whose effective mode is blocking
//! and that ended `fail` is a `<failure>` (the check ran and said no), and one that ended `error`
//! or `not_run` is an `<error>` (it could not be judged), each with message = reason and type =
//! status, so the `failures` and `errors` counts tell the two apart; an observational `fail` or
//! `error` passes with a `WARNING (observational): reason` line in system-out; an observational
//! `not_run` is skipped. System-out carries the log tail of every gate that ran in this run (not
//! of those replayed from the cache).
//!
//! A gate with test cases is a testsuite named after it: each test a testcase (name, classname,
//! time), failed ones a `<failure>` or `<error>` with their message, skipped ones `<skipped>`.
//! Failed tests count as failures only when the gate's own failure does (a blocking gate that
//! ended `fail` or `error`); otherwise (an observational gate, or a gate whose thresholds allow
//! them) they pass with a `WARNING` line in their system-out. When the failed tests do not tell
//! the gate's verdict (it failed with every test passing, on a threshold or its exit code, or
//! ended `error`), the gate's own testcase joins its suite; the gate's reason, thresholds and log
//! tail are otherwise the suite's system-out.
//!
//! The output validates against Jenkins' `junit-10.xsd` (the schema its `JUnit` and xUnit plugins
//! check reports with): `<testsuites>` carries no `skipped` attribute there, so the one
//! quick-junit writes is taken out (the `<testsuite>` keeps its own).

use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report as JUnit, SerializeError, TestCase, TestCaseStatus, TestSuite,
};

use super::markdown::threshold_text;
use super::{GateReport, Report, TestCaseReport};
use crate::config::Config;
use crate::vocab::Mode;
use crate::vocab::{Status, TestStatus};

/// How many lines of a gate's log go into system-out.
pub const LOG_TAIL_LINES: usize = 50;

/// Render the `JUnit` XML of a run; log tails are read from the cache's `logs/` folder.
pub fn render(report: &Report, config: &Config) -> Result<String, SerializeError> {
    let logs = config.settings.cache_dir.join("logs");
    build(report, &|gate| {
        crate::proc::tail::log_tail(&logs.join(format!("{gate}.log")), LOG_TAIL_LINES)
    })
}

/// Render with the log tail of a gate (by name) supplied by the caller.
pub fn build(report: &Report, log_tail: &dyn Fn(&str) -> String) -> Result<String, SerializeError> {
    let time = Duration::from_millis(report.duration_ms);
    let mut suite = TestSuite::new("runner");
    suite.set_time(time);
    suite.add_property(Property::new("exit_code", report.exit_code.to_string()));
    suite.add_property(Property::new("started_at", report.started_at.as_str()));
    suite.add_property(Property::new("labels", report.labels.join(",")));
    suite.add_test_cases(
        report
            .gates
            .iter()
            .filter(|g| g.tests.is_empty())
            .map(|g| test_case(g, log_tail)),
    );
    let mut junit = JUnit::new("runner");
    junit.set_time(time);
    junit.add_test_suite(suite);
    junit.add_test_suites(
        report
            .gates
            .iter()
            .filter(|g| !g.tests.is_empty())
            .map(|g| gate_suite(g, log_tail)),
    );
    Ok(without_testsuites_skipped(&junit.to_string()?))
}

/// The XML without the `skipped` attribute of its `<testsuites>` element, which quick-junit
/// always writes and Jenkins' `junit-10.xsd` does not allow (it allows one on `<testsuite>`).
///
/// Only the first `<testsuites ...>` start tag is touched. Attribute values cannot hold a raw
/// `<` or `"` (quick-xml escapes them), so the tag ends at the first `>` after its start and
/// the attribute's value at the next `"`.
fn without_testsuites_skipped(xml: &str) -> String {
    const ATTRIBUTE: &str = " skipped=\"";
    let Some(start) = xml.find("<testsuites ") else {
        return xml.to_owned();
    };
    let Some(tag_len) = xml[start..].find('>') else {
        return xml.to_owned();
    };
    let tag = &xml[start..start + tag_len];
    let Some(at) = tag.find(ATTRIBUTE) else {
        return xml.to_owned();
    };
    let value_start = at + ATTRIBUTE.len();
    let Some(value_len) = tag[value_start..].find('"') else {
        return xml.to_owned();
    };
    let (cut_from, cut_to) = (start + at, start + value_start + value_len + 1);
    format!("{}{}", &xml[..cut_from], &xml[cut_to..])
}

fn test_case(g: &GateReport, log_tail: &dyn Fn(&str) -> String) -> TestCase {
    let reason = g
        .reason
        .clone()
        .unwrap_or_else(|| format!("gate ended {}", g.status.as_str()));
    let observational_failure =
        g.mode == Mode::Observational && matches!(g.status, Status::Fail | Status::Error);
    let status = match (g.status, g.mode) {
        (Status::Pass, _) | (Status::Fail | Status::Error, Mode::Observational) => {
            TestCaseStatus::success()
        }
        (Status::Fail | Status::Error | Status::NotRun, Mode::Blocking) => {
            // `fail`: the check ran and said no. `error` and `not_run`: it could not be judged
            // (spawn failure, timeout, missing artifact or metric; a need that did not pass).
            let kind = if g.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(reason.as_str())
                .set_type(g.status.as_str())
                .set_description(details(g, &reason));
            s
        }
        // An observational gate that did not run blocks nothing: reported as skipped.
        (Status::Skip, _) | (Status::NotRun, Mode::Observational) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(reason.as_str()).set_type(g.status.as_str());
            s
        }
    };
    let mut out = String::new();
    if observational_failure {
        out.push_str(&format!("WARNING (observational): {reason}\n"));
        for t in &g.thresholds {
            out.push_str(&format!("  {}\n", threshold_text(t)));
        }
    }
    out.push_str(&run_output(g, log_tail));
    let mut case = TestCase::new(g.name.as_str(), status);
    case.set_classname(g.kind.as_str())
        .set_time(Duration::from_millis(g.duration_ms));
    if !out.is_empty() {
        case.set_system_out(out);
    }
    case
}

/// The testsuite of a gate with test cases of its own: one testcase per test, plus the gate's
/// own testcase when its failed tests do not tell its verdict.
fn gate_suite(g: &GateReport, log_tail: &dyn Fn(&str) -> String) -> TestSuite {
    let blocks = g.mode == Mode::Blocking && matches!(g.status, Status::Fail | Status::Error);
    let tolerated = (!blocks).then_some(
        if g.mode == Mode::Observational && matches!(g.status, Status::Fail | Status::Error) {
            "WARNING (observational)"
        } else {
            "WARNING (the gate passed)"
        },
    );
    let mut suite = TestSuite::new(g.name.as_str());
    suite
        .set_time(Duration::from_millis(g.duration_ms))
        .add_property(Property::new("kind", g.kind.as_str()))
        .add_property(Property::new("status", g.status.as_str()));
    suite.add_test_cases(g.tests.iter().map(|t| test_of(t, tolerated)));
    let told_by_tests = g.status == Status::Fail && g.tests.iter().any(|t| t.status.is_failure());
    if blocks && !told_by_tests {
        suite.add_test_case(test_case(g, log_tail));
        return suite;
    }
    let mut out = String::new();
    if let Some(reason) = &g.reason {
        let label = match tolerated {
            Some(warning) => warning.to_owned(),
            None => format!("gate `{}` ended {}", g.name, g.status.as_str()),
        };
        out.push_str(&format!("{label}: {reason}\n"));
        for t in &g.thresholds {
            out.push_str(&format!("  {}\n", threshold_text(t)));
        }
    }
    out.push_str(&run_output(g, log_tail));
    if !out.is_empty() {
        suite.set_system_out(out);
    }
    suite
}

/// One test of a gate. A failed test is a `<failure>` (`<error>`) unless `tolerated` says why
/// it does not count: it then passes with that warning in its system-out.
fn test_of(t: &TestCaseReport, tolerated: Option<&str>) -> TestCase {
    let message = t
        .message
        .clone()
        .unwrap_or_else(|| format!("test ended {}", t.status.as_str()));
    let mut out = None;
    let status = match (t.status, tolerated) {
        (TestStatus::Pass, _) => TestCaseStatus::success(),
        (TestStatus::Skip, _) => {
            let mut s = TestCaseStatus::skipped();
            if let Some(m) = &t.message {
                s.set_message(m.as_str());
            }
            s
        }
        (TestStatus::Fail | TestStatus::Error, Some(warning)) => {
            out = Some(format!(
                "{warning}: the test ended {}: {message}",
                t.status.as_str()
            ));
            TestCaseStatus::success()
        }
        (TestStatus::Fail | TestStatus::Error, None) => {
            let kind = if t.status == TestStatus::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(message.as_str()).set_type(t.status.as_str());
            s
        }
    };
    let mut case = TestCase::new(t.name.as_str(), status);
    if let Some(classname) = &t.classname {
        case.set_classname(classname.as_str());
    }
    if let Some(ms) = t.time_ms {
        case.set_time(Duration::from_millis(ms));
    }
    if let Some(out) = out {
        case.set_system_out(out);
    }
    case
}

/// What system-out says of a gate's run: that it was replayed, or the tail of its log.
fn run_output(g: &GateReport, log_tail: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    if g.cached {
        out.push_str("replayed from the cache: no process ran in this run\n");
    } else if ran(g) {
        let tail = log_tail(&g.name);
        if !tail.is_empty() {
            out.push_str(&format!(
                "--- log of `{}` (at most the last {LOG_TAIL_LINES} lines)\n",
                g.name
            ));
            out.push_str(&tail);
            out.push('\n');
        }
    }
    out
}

/// Did the gate execute in this run? A gate that was not run (needs) or skipped before its key
/// was computed (`skip_unless_env`) has no key and no log of this run.
fn ran(g: &GateReport) -> bool {
    g.key.is_some() && !g.cached && g.status != Status::NotRun
}

/// The failure's text: its reason, and every threshold with value and verdict.
fn details(g: &GateReport, reason: &str) -> String {
    let mut text = reason.to_owned();
    for t in &g.thresholds {
        text.push_str("\n  ");
        text.push_str(&threshold_text(t));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Summary, ThresholdReport};

    fn gate(name: &str, status: Status, mode: Mode, cached: bool) -> GateReport {
        GateReport {
            why: None,
            ran: None,
            undeclared_reads: Vec::new(),
            flaky: false,
            attempts: 1,
            tests: Vec::new(),
            description: None,
            guard: None,
            findings: Vec::new(),
            name: name.to_owned(),
            kind: "command".to_owned(),
            status,
            mode,
            configured_mode: mode,
            cached,
            duration_ms: 1500,
            key: (status != Status::NotRun).then(|| "ab".repeat(32)),
            reason: (status != Status::Pass).then(|| format!("{name} <reason> & \"quotes\"")),
            artifacts: Vec::new(),
            thresholds: vec![ThresholdReport {
                metric: "p95".into(),
                op: "<=".into(),
                limit: Some(5.0),
                baseline: None,
                value: Some(9.0),
                pass: false,
            }],
            exports: Vec::new(),
        }
    }

    #[test]
    fn maps_each_status_and_mode() {
        let report = Report {
            outcome: crate::vocab::exit_code::Outcome::Fail,
            version: 1,
            exit_code: 1,
            started_at: "2026-11-24T10:00:00Z".into(),
            duration_ms: 3000,
            summary: Summary::default(),
            labels: vec!["smoke-failed:obs".into()],
            gates: vec![
                gate("ok", Status::Pass, Mode::Blocking, true),
                gate("bad", Status::Fail, Mode::Blocking, false),
                gate("obs", Status::Fail, Mode::Observational, false),
                gate("skipped", Status::Skip, Mode::Blocking, false),
                gate("blocked", Status::NotRun, Mode::Blocking, false),
                gate("broken", Status::Error, Mode::Blocking, false),
                gate("obs-broken", Status::Error, Mode::Observational, false),
                gate("obs-blocked", Status::NotRun, Mode::Observational, false),
            ],
        };
        let xml = build(&report, &|name| format!("log of {name}\x1b[31m red\x1b[0m")).expect("xml");
        let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
        let suite = &parsed.test_suites[0];
        assert_eq!(suite.name.as_str(), "runner");
        assert_eq!(
            (suite.tests, suite.failures, suite.errors, suite.skipped),
            (8, 1, 2, 2)
        );
        assert_eq!((parsed.tests, parsed.failures, parsed.errors), (8, 1, 2));
        let cases = &suite.test_cases;
        assert!(matches!(cases[0].status, TestCaseStatus::Success { .. }));
        assert!(
            cases[0]
                .system_out
                .as_ref()
                .is_some_and(|o| o.as_str().contains("replayed from the cache"))
        );
        match &cases[1].status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                ty,
                ..
            } => {
                assert_eq!(
                    message.as_ref().map(quick_junit::XmlString::as_str),
                    Some("bad <reason> & \"quotes\"")
                );
                assert_eq!(
                    ty.as_ref().map(quick_junit::XmlString::as_str),
                    Some("fail")
                );
            }
            other => panic!("bad: {other:?}"),
        }
        assert!(matches!(cases[2].status, TestCaseStatus::Success { .. }));
        let out = cases[2].system_out.as_ref().expect("system-out").as_str();
        assert!(
            out.starts_with("WARNING (observational): obs <reason>"),
            "{out}"
        );
        assert!(
            out.contains("log of obs red"),
            "ANSI escapes stripped: {out}"
        );
        assert!(matches!(cases[3].status, TestCaseStatus::Skipped { .. }));
        for (i, ty) in [(4, "not_run"), (5, "error")] {
            match &cases[i].status {
                TestCaseStatus::NonSuccess {
                    kind: NonSuccessKind::Error,
                    ty: Some(t),
                    ..
                } => assert_eq!(t.as_str(), ty),
                other => panic!("{}: {other:?}", cases[i].name.as_str()),
            }
        }
        assert!(matches!(cases[6].status, TestCaseStatus::Success { .. }));
        assert!(matches!(cases[7].status, TestCaseStatus::Skipped { .. }));
        assert!(
            cases[4].system_out.is_none(),
            "a gate that did not run has no log"
        );
        assert_eq!(
            cases[1]
                .classname
                .as_ref()
                .map(quick_junit::XmlString::as_str),
            Some("command")
        );
        assert_eq!(cases[1].time, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn error_and_not_run_are_errors_and_testsuites_has_no_skipped_attribute() {
        let report = Report {
            outcome: crate::vocab::exit_code::Outcome::Fail,
            version: 1,
            exit_code: 1,
            started_at: "2026-11-24T10:00:00Z".into(),
            duration_ms: 3000,
            summary: Summary::default(),
            labels: Vec::new(),
            gates: vec![
                gate("bad", Status::Fail, Mode::Blocking, false),
                gate("broken", Status::Error, Mode::Blocking, false),
                gate("blocked", Status::NotRun, Mode::Blocking, false),
                gate("skipped", Status::Skip, Mode::Blocking, false),
            ],
        };
        let xml = build(&report, &|_| String::new()).expect("xml");
        let start = xml.find("<testsuites ").expect("a testsuites element");
        let tag = &xml[start..start + xml[start..].find('>').expect("tag end")];
        assert!(!tag.contains("skipped="), "{tag}");
        assert!(
            tag.contains(r#"errors="2""#) && tag.contains(r#"failures="1""#),
            "{tag}"
        );
        let suite_at = xml.find("<testsuite ").expect("a testsuite element");
        let suite_tag = &xml[suite_at..suite_at + xml[suite_at..].find('>').expect("tag end")];
        assert!(suite_tag.contains(r#"skipped="1""#), "{suite_tag}");
        assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
        assert_eq!(xml.matches("<error ").count(), 2, "{xml}");
    }

    #[test]
    fn only_the_testsuites_skipped_attribute_is_removed() {
        let xml = "<?xml version=\"1.0\"?>\n<testsuites name=\"a skipped=&quot;\" tests=\"1\" skipped=\"12\" failures=\"0\">\n<testsuite name=\"x\" skipped=\"12\">";
        assert_eq!(
            without_testsuites_skipped(xml),
            "<?xml version=\"1.0\"?>\n<testsuites name=\"a skipped=&quot;\" tests=\"1\" failures=\"0\">\n<testsuite name=\"x\" skipped=\"12\">"
        );
        assert_eq!(without_testsuites_skipped("<a/>"), "<a/>");
    }

    fn tests() -> Vec<TestCaseReport> {
        let t = |name: &str, status, message: Option<&str>| TestCaseReport {
            name: name.to_owned(),
            classname: Some("tests.test_x".to_owned()),
            status,
            message: message.map(str::to_owned),
            time_ms: Some(4),
        };
        vec![
            t("test_ok", TestStatus::Pass, None),
            t("test_bad", TestStatus::Fail, Some("assert 1 == 2")),
            t("test_broken", TestStatus::Error, Some("fixture down")),
            t("test_later", TestStatus::Skip, Some("not yet")),
        ]
    }

    fn report(gates: Vec<GateReport>) -> Report {
        Report {
            outcome: crate::vocab::exit_code::Outcome::Fail,
            version: 1,
            exit_code: 1,
            started_at: "2026-11-24T10:00:00Z".into(),
            duration_ms: 3000,
            summary: Summary::default(),
            labels: Vec::new(),
            gates,
        }
    }

    fn suite_named<'a>(parsed: &'a quick_junit::Report, name: &str) -> &'a TestSuite {
        parsed
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == name)
            .unwrap_or_else(|| panic!("no suite {name}"))
    }

    #[test]
    fn a_gate_with_tests_is_a_suite_of_its_tests() {
        let mut pytest = gate("pytest", Status::Fail, Mode::Blocking, false);
        pytest.tests = tests();
        pytest.reason = Some("command exited with code 1; 2 tests failed: a, b".into());
        let report = report(vec![
            gate("ok", Status::Pass, Mode::Blocking, false),
            pytest,
        ]);
        let xml = build(&report, &|name| format!("log of {name}")).expect("xml");
        let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
        assert_eq!(parsed.test_suites.len(), 2);
        let runner = suite_named(&parsed, "runner");
        assert_eq!(
            runner.test_cases.len(),
            1,
            "the gate with tests is not a case here"
        );
        let suite = suite_named(&parsed, "pytest");
        assert_eq!(
            (suite.tests, suite.failures, suite.errors, suite.skipped),
            (4, 1, 1, 1)
        );
        let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["test_ok", "test_bad", "test_broken", "test_later"]);
        let bad = &suite.test_cases[1];
        assert_eq!(
            bad.classname.as_ref().map(quick_junit::XmlString::as_str),
            Some("tests.test_x")
        );
        assert_eq!(bad.time, Some(Duration::from_millis(4)));
        match &bad.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message: Some(m),
                ..
            } => assert_eq!(m.as_str(), "assert 1 == 2"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            suite.test_cases[2].status,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            }
        ));
        assert!(matches!(
            suite.test_cases[3].status,
            TestCaseStatus::Skipped { .. }
        ));
        let out = suite
            .system_out
            .as_ref()
            .expect("suite system-out")
            .as_str();
        assert!(
            out.starts_with("gate `pytest` ended fail: command exited with code 1"),
            "{out}"
        );
        assert!(out.contains("log of pytest"), "{out}");
    }

    #[test]
    fn failed_tests_that_do_not_block_pass_with_a_warning() {
        for (status, mode, warning) in [
            (Status::Fail, Mode::Observational, "WARNING (observational)"),
            (Status::Pass, Mode::Blocking, "WARNING (the gate passed)"),
        ] {
            let mut g = gate("pytest", status, mode, true);
            g.tests = tests();
            let xml = build(&report(vec![g]), &|_| String::new()).expect("xml");
            let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
            let suite = suite_named(&parsed, "pytest");
            assert_eq!((suite.failures, suite.errors, suite.skipped), (0, 0, 1));
            let out = suite.test_cases[1]
                .system_out
                .as_ref()
                .expect("system-out")
                .as_str();
            assert_eq!(
                out,
                format!("{warning}: the test ended fail: assert 1 == 2")
            );
        }
    }

    #[test]
    fn a_verdict_the_tests_do_not_tell_adds_the_gates_own_case() {
        let mut g = gate("pytest", Status::Fail, Mode::Blocking, false);
        g.tests = vec![tests().remove(0)];
        g.reason = Some("threshold junit.tests >= 100 failed: value 1".into());
        let xml = build(&report(vec![g]), &|_| String::new()).expect("xml");
        let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
        let suite = suite_named(&parsed, "pytest");
        let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["test_ok", "pytest"]);
        match &suite.test_cases[1].status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message: Some(m),
                ..
            } => assert_eq!(m.as_str(), "threshold junit.tests >= 100 failed: value 1"),
            other => panic!("{other:?}"),
        }
    }
}
