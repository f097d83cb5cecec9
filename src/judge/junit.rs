//! A gate's `JUnit` XML (`junit = "out/pytest.xml"`): its test cases, their counts (the metrics
//! thresholds read as `junit.*`), and the names of the failed ones (for the gate's reason).
//!
//! One reader for the dialects in use: pytest (`<testsuites><testsuite>`, or a bare
//! `<testsuite>` root before pytest 5.1), cargo-nextest, Jest (jest-junit) and gotestsum. Every
//! `<testcase>`, at any depth under the root, is one case; its direct `<failure>`, `<error>`
//! and `<skipped>` children decide how it ended, and each case counts once however many it has:
//! `<skipped>` makes it skipped, else a `<failure>` failed, else an `<error>` errored. nextest's
//! `<flakyFailure>` and `<rerunFailure>` (retries) do not count: the case's own children decide.
//! The suites' `tests`/`failures` attributes are not read: the cases are the truth.

use std::borrow::Cow;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Value, json};

use crate::vocab::TestStatus;

/// How many failed tests a reason names before "and N more".
pub(crate) const NAMES_IN_REASON: usize = 10;

/// A message is cut to this many characters (a failure's text can be a whole stack trace).
const MESSAGE_CHARS: usize = 300;

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestCase {
    /// The `name` attribute.
    pub name: String,
    /// The `classname` attribute, when present and not empty.
    pub classname: Option<String>,
    /// How it ended.
    pub status: TestStatus,
    /// For a failed, errored or skipped case: the deciding child's `message`, else the first
    /// line of its text.
    pub message: Option<String>,
    /// The `time` attribute (seconds) in milliseconds, when it is a number.
    pub time_ms: Option<u64>,
    /// How people name the test (pytest's node id when it can be told, else `classname name`).
    pub id: String,
}

/// The counts that become the `junit` metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
    pub passed: usize,
}

impl Counts {
    /// Count the cases (each once).
    #[must_use]
    pub(crate) fn of(cases: &[TestCase]) -> Self {
        let mut c = Counts {
            tests: cases.len(),
            ..Counts::default()
        };
        for case in cases {
            match case.status {
                TestStatus::Pass => c.passed += 1,
                TestStatus::Fail => c.failures += 1,
                TestStatus::Error => c.errors += 1,
                TestStatus::Skip => c.skipped += 1,
            }
        }
        c
    }

    /// `{"tests": N, "failures": F, "errors": E, "skipped": S, "passed": P}`.
    #[must_use]
    pub(crate) fn to_json(self) -> Value {
        json!({
            "tests": self.tests,
            "failures": self.failures,
            "errors": self.errors,
            "skipped": self.skipped,
            "passed": self.passed,
        })
    }
}

/// `2 tests failed: a, b` (failed or errored, at most `NAMES_IN_REASON` names, then `and N
/// more`); None when none did.
#[must_use]
pub(crate) fn failed_summary(cases: &[TestCase]) -> Option<String> {
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.status.is_failure())
        .map(|c| c.id.as_str())
        .collect();
    if failed.is_empty() {
        return None;
    }
    let n = failed.len();
    let mut names = failed[..n.min(NAMES_IN_REASON)].join(", ");
    if n > NAMES_IN_REASON {
        names.push_str(&format!(" and {} more", n - NAMES_IN_REASON));
    }
    Some(format!(
        "{n} test{} failed: {names}",
        if n == 1 { "" } else { "s" }
    ))
}

/// Why a `JUnit` file gave no cases.
#[derive(Debug)]
pub(crate) enum JunitError {
    /// It could not be read.
    Unreadable(std::io::Error),
    /// It holds nothing but whitespace.
    Empty,
    /// It is not XML, or not `JUnit` XML; the words say where and why.
    Invalid(String),
}

/// Read and parse the `JUnit` file at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<TestCase>, JunitError> {
    let bytes = std::fs::read(path).map_err(JunitError::Unreadable)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(JunitError::Empty);
    }
    parse(&bytes).map_err(JunitError::Invalid)
}

/// The cases of a `JUnit` document, in document order.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<TestCase>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut parser = Parser::default();
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} (at byte {})", reader.error_position()))?;
        let step = match event {
            Event::Start(e) => parser.open(&e, false),
            Event::Empty(e) => parser.open(&e, true),
            Event::End(_) => {
                parser.close();
                Ok(())
            }
            Event::Text(t) => {
                if parser.collecting() {
                    let t = t.xml10_content().map_err(|e| e.to_string())?;
                    parser.text(&t);
                }
                Ok(())
            }
            Event::CData(c) => {
                if parser.collecting() {
                    let t = c.decode().map_err(|e| e.to_string())?;
                    parser.text(&t);
                }
                Ok(())
            }
            Event::GeneralRef(r) => {
                if parser.collecting() {
                    let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => {
                            let name = r.decode().map_err(|e| e.to_string())?;
                            match quick_xml::escape::resolve_predefined_entity(&name) {
                                Some(s) => Cow::Borrowed(s),
                                None => {
                                    return Err(format!("unknown entity &{name}; (at byte {at})"));
                                }
                            }
                        }
                    };
                    parser.text(&resolved);
                }
                Ok(())
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => Ok(()),
        };
        step.map_err(|e| format!("{e} (at byte {at})"))?;
    }
    match (parser.root_seen, parser.depth) {
        (false, _) => Err("no XML element".to_owned()),
        (true, 0) => Ok(parser.cases),
        (true, _) => Err("the document ends before its root element is closed".to_owned()),
    }
}

/// A case being read.
struct Open {
    /// Its depth (the root is 1).
    depth: usize,
    name: String,
    classname: Option<String>,
    file: Option<String>,
    suite: Option<String>,
    time_ms: Option<u64>,
    /// Each kind's first child: (status, message attribute, text so far).
    children: Vec<(TestStatus, Option<String>, String)>,
    /// The child whose text is being read, as an index into `children`, and its depth.
    reading: Option<(usize, usize)>,
}

#[derive(Default)]
struct Parser {
    depth: usize,
    root_seen: bool,
    /// The `name` of each open `<testsuite>`, innermost last, with its depth.
    suites: Vec<(usize, Option<String>)>,
    case: Option<Open>,
    cases: Vec<TestCase>,
}

impl Parser {
    fn collecting(&self) -> bool {
        self.case.as_ref().is_some_and(|c| c.reading.is_some())
    }

    fn text(&mut self, text: &str) {
        let Some(case) = &mut self.case else { return };
        let Some((i, _)) = case.reading else { return };
        let buffer = &mut case.children[i].2;
        // The first line is all a message needs: keep a little more than it, not the whole
        // stack trace.
        let room = (4 * MESSAGE_CHARS).saturating_sub(buffer.len());
        if room > 0 {
            let end = text
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .take_while(|end| *end <= room)
                .last()
                .unwrap_or(0);
            buffer.push_str(&text[..end]);
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), String> {
        self.depth += 1;
        let local = e.local_name();
        let tag = String::from_utf8_lossy(local.as_ref()).into_owned();
        if !self.root_seen {
            self.root_seen = true;
            if tag != "testsuites" && tag != "testsuite" {
                return Err(format!(
                    "the root element is <{tag}>, not <testsuites> or <testsuite>"
                ));
            }
        }
        match tag.as_str() {
            "testsuite" if self.case.is_none() => {
                self.suites.push((self.depth, attribute(e, "name")?));
            }
            "testcase" if self.case.is_none() => {
                let Some(name) = attribute(e, "name")? else {
                    return Err("a <testcase> has no name".to_owned());
                };
                self.case = Some(Open {
                    depth: self.depth,
                    name,
                    classname: attribute(e, "classname")?.filter(|c| !c.is_empty()),
                    file: attribute(e, "file")?,
                    suite: self.suites.last().and_then(|(_, n)| n.clone()),
                    time_ms: attribute(e, "time")?.as_deref().and_then(millis),
                    children: Vec::new(),
                    reading: None,
                });
            }
            "testcase" => return Err("a <testcase> inside a <testcase>".to_owned()),
            "failure" | "error" | "skipped" => {
                let depth = self.depth;
                if let Some(case) = &mut self.case
                    && depth == case.depth + 1
                {
                    let status = match tag.as_str() {
                        "failure" => TestStatus::Fail,
                        "error" => TestStatus::Error,
                        _ => TestStatus::Skip,
                    };
                    let message = attribute(e, "message")?;
                    case.children.push((status, message, String::new()));
                    case.reading = Some((case.children.len() - 1, depth));
                }
            }
            _ => {}
        }
        if empty {
            self.close();
        }
        Ok(())
    }

    fn close(&mut self) {
        let depth = self.depth;
        self.depth = self.depth.saturating_sub(1);
        if let Some(case) = &mut self.case
            && case.reading.is_some_and(|(_, d)| d == depth)
        {
            case.reading = None;
        }
        if self.case.as_ref().is_some_and(|c| c.depth == depth)
            && let Some(open) = self.case.take()
        {
            self.cases.push(finish(open));
        }
        if self.suites.last().is_some_and(|(d, _)| *d == depth) {
            self.suites.pop();
        }
    }
}

/// The case as read: its status from its children, its message, its name for people.
fn finish(open: Open) -> TestCase {
    let decided = [TestStatus::Skip, TestStatus::Fail, TestStatus::Error]
        .into_iter()
        .find_map(|s| open.children.iter().find(|(status, ..)| *status == s));
    let (status, message) = match decided {
        Some((status, attribute, text)) => (*status, message(attribute.as_deref(), text)),
        None => (TestStatus::Pass, None),
    };
    let id = test_id(
        &open.name,
        open.classname.as_deref(),
        open.file.as_deref(),
        open.suite.as_deref(),
    );
    TestCase {
        name: open.name,
        classname: open.classname,
        status,
        message,
        time_ms: open.time_ms,
        id,
    }
}

/// The first non-empty line of the `message` attribute, else of the text; at most
/// `MESSAGE_CHARS` characters.
fn message(attribute: Option<&str>, text: &str) -> Option<String> {
    let first_line = |s: &'_ str| -> Option<String> {
        s.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned)
    };
    let line = attribute
        .and_then(first_line)
        .or_else(|| first_line(text))?;
    let mut out: String = line.chars().take(MESSAGE_CHARS).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    Some(out)
}

/// How people name a test. pytest's node id (`tests/test_x.py::TestK::test_a`) from its
/// `file` attribute (xunit1) or, in a suite named `pytest`, from the dotted classname (the
/// leading lowercase parts are the module path, the capitalised ones classes); otherwise
/// `classname name` (gotestsum's `pkg TestX`, nextest's `binary module::test`), or the name
/// alone when the classname is absent or already in it (Jest's default).
fn test_id(name: &str, classname: Option<&str>, file: Option<&str>, suite: Option<&str>) -> String {
    let Some(class) = classname else {
        return name.to_owned();
    };
    if let Some(file) = file.filter(|f| f.ends_with(".py")) {
        let module = file.trim_end_matches(".py").replace(['/', '\\'], ".");
        if let Some(rest) = class
            .strip_prefix(module.as_str())
            .filter(|r| r.is_empty() || r.starts_with('.'))
        {
            let classes: String = rest
                .split('.')
                .filter(|c| !c.is_empty())
                .map(|c| format!("::{c}"))
                .collect();
            return format!("{file}{classes}::{name}");
        }
    }
    if suite == Some("pytest") {
        let parts: Vec<&str> = class.split('.').collect();
        let modules = parts
            .iter()
            .take_while(|p| !p.starts_with(|c: char| c.is_ascii_uppercase()))
            .count();
        if modules > 0 && parts.iter().all(|p| !p.is_empty()) {
            let classes: String = parts[modules..].iter().map(|c| format!("::{c}")).collect();
            return format!("{}.py{classes}::{name}", parts[..modules].join("/"));
        }
    }
    if class == name || name.starts_with(class) {
        name.to_owned()
    } else {
        format!("{class} {name}")
    }
}

/// An attribute's value, unescaped; None when absent.
fn attribute(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        if a.key.local_name().as_ref() == key.as_bytes() {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// `time="0.123"` (seconds; Surefire writes `1,234.5`) in whole milliseconds.
fn millis(seconds: &str) -> Option<u64> {
    let s: f64 = seconds.trim().replace(',', "").parse().ok()?;
    if !s.is_finite() || s < 0.0 {
        return None;
    }
    // Rounded, and within u64 (a test of 584 million years is not one).
    let ms = (s * 1000.0).round();
    (ms < 1.8e19).then(|| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = ms as u64;
        ms
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/junit")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn summary(cases: &[TestCase]) -> Vec<(String, TestStatus)> {
        cases.iter().map(|c| (c.id.clone(), c.status)).collect()
    }

    #[test]
    fn statuses_count_each_case_once() {
        let xml = br#"<?xml version="1.0"?>
<testsuites><testsuite name="s">
  <testcase name="ok"/>
  <testcase name="twice"><failure message="a"/><failure message="b"/><error message="c"/></testcase>
  <testcase name="err"><error>boom &amp; more&#10;second line</error></testcase>
  <testcase name="skip-and-fail"><failure/><skipped message="later"/></testcase>
  <testcase name="flaky"><flakyFailure message="once"/><system-out>x</system-out></testcase>
</testsuite></testsuites>"#;
        let cases = parse(xml).unwrap();
        let statuses: Vec<TestStatus> = cases.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                TestStatus::Pass,
                TestStatus::Fail,
                TestStatus::Error,
                TestStatus::Skip,
                TestStatus::Pass
            ]
        );
        assert_eq!(cases[1].message.as_deref(), Some("a"));
        assert_eq!(cases[2].message.as_deref(), Some("boom & more"));
        assert_eq!(cases[3].message.as_deref(), Some("later"));
        assert_eq!(
            Counts::of(&cases),
            Counts {
                tests: 5,
                failures: 1,
                errors: 1,
                skipped: 1,
                passed: 2
            }
        );
    }

    #[test]
    fn pytest() {
        let cases = parse(&data("pytest.xml")).unwrap();
        assert_eq!(
            summary(&cases),
            [
                (
                    "tests/test_cart.py::test_total".to_owned(),
                    TestStatus::Pass
                ),
                (
                    "tests/test_cart.py::test_discount".to_owned(),
                    TestStatus::Fail
                ),
                (
                    "tests/test_cart.py::TestCheckout::test_pay".to_owned(),
                    TestStatus::Pass
                ),
                (
                    "tests/test_cart.py::TestCheckout::test_refund".to_owned(),
                    TestStatus::Error
                ),
                (
                    "tests/api/test_remote.py::test_fetch".to_owned(),
                    TestStatus::Skip
                ),
            ]
        );
        assert_eq!(cases[1].classname.as_deref(), Some("tests.test_cart"));
        assert_eq!(cases[1].name, "test_discount");
        assert_eq!(
            cases[1].message.as_deref(),
            Some("AssertionError: assert 90 == 80")
        );
        assert_eq!(cases[0].time_ms, Some(2));
        assert_eq!(cases[4].message.as_deref(), Some("needs network"));
    }

    #[test]
    fn pytest_legacy_bare_testsuite_with_file_attributes() {
        let cases = parse(&data("pytest-legacy.xml")).unwrap();
        assert_eq!(
            summary(&cases),
            [
                ("tests/test_x.py::test_a".to_owned(), TestStatus::Fail),
                ("tests/test_x.py::test_ok".to_owned(), TestStatus::Pass),
                (
                    "tests/test_y.py::TestY::test_b".to_owned(),
                    TestStatus::Fail
                ),
                ("tests/test_y.py::test_later".to_owned(), TestStatus::Skip),
            ]
        );
    }

    #[test]
    fn nextest() {
        let cases = parse(&data("nextest.xml")).unwrap();
        assert_eq!(
            summary(&cases),
            [
                (
                    "shop cart::tests::total_sums_lines".to_owned(),
                    TestStatus::Pass
                ),
                (
                    "shop cart::tests::discount_applies".to_owned(),
                    TestStatus::Fail
                ),
                ("shop cart::tests::flaky_clock".to_owned(), TestStatus::Pass),
                ("shop::checkout pays_once".to_owned(), TestStatus::Pass),
            ]
        );
        assert!(
            cases[1]
                .message
                .as_deref()
                .is_some_and(|m| m.contains("panicked at src/cart.rs:42:9")),
            "{:?}",
            cases[1].message
        );
    }

    #[test]
    fn jest() {
        let cases = parse(&data("jest.xml")).unwrap();
        assert_eq!(
            summary(&cases),
            [
                ("cart totals the lines".to_owned(), TestStatus::Pass),
                ("cart applies a discount".to_owned(), TestStatus::Fail),
                ("cart pays later".to_owned(), TestStatus::Skip),
                (
                    "checkout refuses an empty cart".to_owned(),
                    TestStatus::Pass
                ),
            ]
        );
        assert_eq!(
            cases[1].message.as_deref(),
            Some("Error: expect(received).toBe(expected) // Object.is equality")
        );
    }

    #[test]
    fn gotestsum() {
        let cases = parse(&data("gotestsum.xml")).unwrap();
        assert_eq!(
            summary(&cases),
            [
                (
                    "example.com/shop/cart TestTotal".to_owned(),
                    TestStatus::Pass
                ),
                (
                    "example.com/shop/cart TestDiscount/ten_percent".to_owned(),
                    TestStatus::Fail
                ),
                (
                    "example.com/shop/cart TestDiscount".to_owned(),
                    TestStatus::Fail
                ),
                (
                    "example.com/shop/cart TestRemote".to_owned(),
                    TestStatus::Skip
                ),
                (
                    "example.com/shop/pay TestCharge".to_owned(),
                    TestStatus::Pass
                ),
            ]
        );
        assert_eq!(cases[1].message.as_deref(), Some("Failed"));
        assert!(
            cases[3]
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("=== RUN   TestRemote")),
            "{:?}",
            cases[3].message
        );
    }

    #[test]
    fn invalid_documents_say_why() {
        for (xml, why) in [
            (&b"<html><body/></html>"[..], "root element is <html>"),
            (b"<testsuites><testsuite name=\"a\">", "ends before"),
            (b"<testsuites></testsuite>", "testsuite"),
            (b"not xml at all", "no XML element"),
            (b"<testsuite><testcase/></testsuite>", "no name"),
            (b"\xff\xfe<", "not UTF-8"),
        ] {
            let e = parse(xml).expect_err(std::str::from_utf8(xml).unwrap_or("bytes"));
            assert!(e.contains(why), "{e} (wanted {why})");
        }
        assert_eq!(parse(b"<testsuites/>").unwrap(), Vec::new());
    }

    #[test]
    fn reasons_name_ten_then_count() {
        let case = |i: usize, status| TestCase {
            name: format!("t{i}"),
            classname: None,
            status,
            message: None,
            time_ms: None,
            id: format!("t{i}"),
        };
        assert_eq!(failed_summary(&[case(0, TestStatus::Pass)]), None);
        assert_eq!(
            failed_summary(&[case(0, TestStatus::Error), case(1, TestStatus::Skip)]).unwrap(),
            "1 test failed: t0"
        );
        let many: Vec<TestCase> = (0..13).map(|i| case(i, TestStatus::Fail)).collect();
        assert_eq!(
            failed_summary(&many).unwrap(),
            "13 tests failed: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 3 more"
        );
    }

    #[test]
    fn times() {
        assert_eq!(millis("0.0015"), Some(2));
        assert_eq!(millis("1,234.5"), Some(1_234_500));
        assert_eq!(millis("-1"), None);
        assert_eq!(millis("soon"), None);
    }
}
