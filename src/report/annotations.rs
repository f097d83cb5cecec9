//! GitHub Actions workflow commands: `::error` for each gate that blocks the run, `::warning`
//! for each observational gate that failed. Printed to stdout under `GITHUB_ACTIONS=true`.

use super::{GateReport, Report};
use crate::vocab::Mode;
use crate::vocab::Status;

/// One line per annotation, each ending in a newline; empty when nothing needs attention.
///
/// A gate whose effective mode is blocking and that ended `fail`, `error` or `not_run` gets
/// `::error title=<gate>::<reason>`; an observational `fail` or `error` gets `::warning`.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for g in &report.gates {
        let level = match (g.mode, g.status) {
            (Mode::Blocking, Status::Fail | Status::Error | Status::NotRun) => "error",
            (Mode::Observational, Status::Fail | Status::Error) => "warning",
            _ => continue,
        };
        out.push_str(&format!(
            "::{level} title={}::{}\n",
            escape_property(&g.name),
            escape_data(&message(g))
        ));
    }
    out
}

fn message(g: &GateReport) -> String {
    g.reason
        .clone()
        .unwrap_or_else(|| format!("gate ended {}", g.status.as_str()))
}

/// The message part of a workflow command: `%`, CR and LF are percent-encoded.
#[must_use]
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (`title=`): as data, plus `:` and `,`, which would end the property.
#[must_use]
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;

    #[test]
    fn levels_and_escaping() {
        let gate = |name: &str, status, mode, reason: Option<&str>| GateReport {
            description: None,
            guard: None,
            findings: Vec::new(),
            name: name.to_owned(),
            kind: "command".to_owned(),
            status,
            mode,
            configured_mode: Mode::Observational,
            cached: false,
            duration_ms: 1,
            key: None,
            reason: reason.map(str::to_owned),
            artifacts: Vec::new(),
            thresholds: Vec::new(),
            exports: Vec::new(),
        };
        let report = Report {
            outcome: crate::vocab::exit_code::Outcome::Fail,
            version: 1,
            exit_code: 1,
            started_at: String::new(),
            duration_ms: 1,
            summary: Summary::default(),
            labels: Vec::new(),
            gates: vec![
                gate("ok", Status::Pass, Mode::Blocking, None),
                gate(
                    "a,b:c",
                    Status::Fail,
                    Mode::Blocking,
                    Some("100% broken\r\nsee log"),
                ),
                gate("graduated", Status::Error, Mode::Blocking, None),
                gate(
                    "blocked",
                    Status::NotRun,
                    Mode::Blocking,
                    Some("not run: needs `a`"),
                ),
                gate("smoke", Status::Fail, Mode::Observational, Some("flaky")),
                gate(
                    "smoke-dep",
                    Status::NotRun,
                    Mode::Observational,
                    Some("not run"),
                ),
                gate("skipped", Status::Skip, Mode::Blocking, Some("skipped")),
            ],
        };
        let lines: Vec<String> = render(&report).lines().map(str::to_owned).collect();
        assert_eq!(
            lines,
            [
                "::error title=a%2Cb%3Ac::100%25 broken%0D%0Asee log",
                "::error title=graduated::gate ended error",
                "::error title=blocked::not run: needs `a`",
                "::warning title=smoke::flaky",
            ]
        );
    }
}
