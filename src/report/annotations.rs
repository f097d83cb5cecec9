//! GitHub Actions workflow commands: `::error` for each gate that blocks the run, `::warning`
//! for each observational gate that failed, one more per finding of those gates (with `file=`
//! and `line=`, so GitHub shows it on the diff), and `::error file=,line=,col=` for each problem
//! in gates.toml. Printed to stdout under `GITHUB_ACTIONS=true`.

use std::path::{Component, Path, PathBuf};

use super::{GateReport, Report};
use crate::config::LoadError;
use crate::vocab::Mode;
use crate::vocab::Status;

/// One line per annotation, each ending in a newline; empty when nothing needs attention.
///
/// A gate whose effective mode is blocking and that ended `fail`, `error` or `not_run` gets
/// `::error title=<gate>::<reason>`; an observational `fail` or `error` gets `::warning`. Each
/// finding of such a gate gets one more line at the same level, placed on its file (and line,
/// when known): `::error file=docs/x.md,line=12,title=<gate>::<message>`. `dir` is the config
/// folder relative to the repository root (empty when they are the same, or when it is not
/// known): finding paths are relative to the config folder, GitHub wants them relative to the
/// repository.
#[must_use]
pub fn render(report: &Report, dir: &Path) -> String {
    let mut out = String::new();
    for g in &report.gates {
        let level = match (g.mode, g.status) {
            (Mode::Blocking, Status::Fail | Status::Error | Status::NotRun) => "error",
            (Mode::Observational, Status::Fail | Status::Error) => "warning",
            _ => continue,
        };
        let title = escape_property(&g.name);
        out.push_str(&format!(
            "::{level} title={title}::{}\n",
            escape_data(&message(g))
        ));
        for f in &g.findings {
            let file = slash_path(&dir.join(&f.file));
            let line = f.line.map(|l| format!(",line={l}")).unwrap_or_default();
            out.push_str(&format!(
                "::{level} file={}{line},title={title}::{}\n",
                escape_property(&file),
                escape_data(&f.message)
            ));
        }
    }
    out
}

/// One `::error` per problem of a config that could not be loaded:
/// `::error file=<config file>,line=L,col=C::message` (no `line`/`col` for a problem without a
/// place, such as a file that cannot be read). `file` is the config file as the annotations
/// should name it (relative to the repository root when known, see [`repo_path`]); it replaces
/// the name a diagnostic carries for the config file itself.
#[must_use]
pub fn config_errors(error: &LoadError, file: &str) -> String {
    match error {
        LoadError::Read { error, .. } => format!(
            "::error file={}::{}\n",
            escape_property(file),
            escape_data(&format!("cannot read the config: {error}"))
        ),
        LoadError::Invalid {
            file: config_file,
            source_text,
            diagnostics,
            ..
        } => {
            let mut out = String::new();
            for d in diagnostics {
                let own = d.file == *config_file;
                let name = if own { file } else { d.file.as_str() };
                let place = if own {
                    d.line_col(source_text)
                        .map(|(line, col)| format!(",line={line},col={col}"))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "::error file={}{place}::{}\n",
                    escape_property(name),
                    escape_data(&d.message)
                ));
            }
            out
        }
    }
}

/// `path` (a file or folder) relative to the repository root `workspace` (`GITHUB_WORKSPACE`),
/// as annotations name files: both are resolved (symlinks, `..`) first. None when `path` is not
/// inside the workspace (or either cannot be resolved).
#[must_use]
pub fn repo_path(path: &Path, workspace: &Path) -> Option<PathBuf> {
    let (full, root) = (
        std::fs::canonicalize(path).ok()?,
        std::fs::canonicalize(workspace).ok()?,
    );
    full.strip_prefix(&root).ok().map(Path::to_path_buf)
}

/// A path with `/` between its parts, as GitHub names files; `.` parts dropped.
fn slash_path(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::CurDir => None,
            Component::RootDir => Some(String::new()),
            c => Some(c.as_os_str().to_string_lossy().into_owned()),
        })
        .collect::<Vec<_>>()
        .join("/")
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

/// A property value (`title=`, `file=`): as data, plus `:` and `,`, which would end the
/// property.
#[must_use]
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FindingReport, Summary};

    #[test]
    fn levels_and_escaping() {
        let gate = |name: &str, status, mode, reason: Option<&str>| GateReport {
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
        let lines: Vec<String> = render(&report, Path::new(""))
            .lines()
            .map(str::to_owned)
            .collect();
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

    fn finding(file: &str, line: Option<usize>, message: &str) -> FindingReport {
        FindingReport {
            file: file.to_owned(),
            line,
            message: message.to_owned(),
        }
    }

    fn gate_with_findings(
        name: &str,
        status: Status,
        mode: Mode,
        findings: Vec<FindingReport>,
    ) -> GateReport {
        GateReport {
            why: None,
            ran: None,
            undeclared_reads: Vec::new(),
            flaky: false,
            attempts: 1,
            tests: Vec::new(),
            description: None,
            guard: None,
            findings,
            name: name.to_owned(),
            kind: "checklist".to_owned(),
            status,
            mode,
            configured_mode: mode,
            cached: false,
            duration_ms: 1,
            key: None,
            reason: Some(format!("{name}: 2 items missing")),
            artifacts: Vec::new(),
            thresholds: Vec::new(),
            exports: Vec::new(),
        }
    }

    fn report_of(gates: Vec<GateReport>) -> Report {
        Report {
            outcome: crate::vocab::exit_code::Outcome::Fail,
            version: 1,
            exit_code: 1,
            started_at: String::new(),
            duration_ms: 1,
            summary: Summary::default(),
            labels: Vec::new(),
            gates,
        }
    }

    #[test]
    fn one_annotation_per_finding_on_its_file_and_line() {
        let report = report_of(vec![
            gate_with_findings(
                "docs",
                Status::Fail,
                Mode::Blocking,
                vec![
                    finding("docs/x.md", Some(12), "item `Rollback plan` is missing"),
                    finding("docs/a,b:c.md", None, "50% done\nsee above"),
                ],
            ),
            gate_with_findings(
                "smoke:docs",
                Status::Fail,
                Mode::Observational,
                vec![finding("./notes/y.md", Some(3), "unchecked")],
            ),
            // A gate that passed, or an observational one that did not run, is not annotated,
            // findings or not.
            gate_with_findings(
                "fine",
                Status::Pass,
                Mode::Blocking,
                vec![finding("z.md", Some(1), "stale")],
            ),
            gate_with_findings(
                "later",
                Status::NotRun,
                Mode::Observational,
                vec![finding("z.md", Some(1), "stale")],
            ),
        ]);
        assert_eq!(
            render(&report, Path::new("")),
            "::error title=docs::docs: 2 items missing\n\
             ::error file=docs/x.md,line=12,title=docs::item `Rollback plan` is missing\n\
             ::error file=docs/a%2Cb%3Ac.md,title=docs::50%25 done%0Asee above\n\
             ::warning title=smoke%3Adocs::smoke:docs: 2 items missing\n\
             ::warning file=notes/y.md,line=3,title=smoke%3Adocs::unchecked\n"
        );
        // A config in a subfolder of the repository: file paths are the repository's.
        let lines: Vec<String> = render(&report, Path::new("sub/dir"))
            .lines()
            .filter(|l| l.contains("file="))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            lines,
            [
                "::error file=sub/dir/docs/x.md,line=12,title=docs::item `Rollback plan` is missing",
                "::error file=sub/dir/docs/a%2Cb%3Ac.md,title=docs::50%25 done%0Asee above",
                "::warning file=sub/dir/notes/y.md,line=3,title=smoke%3Adocs::unchecked",
            ]
        );
    }

    #[test]
    fn config_errors_are_placed_on_the_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "version = 1\n[gates.a]\nrun = \"true\"\nrunn = 1\n[gates.b]\nneeds = [\"zz\"]\nrun = \"x\"\n";
        let Err(diagnostics) = crate::config::parse("gates.toml", text, dir.path()) else {
            panic!("the config has problems");
        };
        assert!(diagnostics.len() >= 2, "{diagnostics:?}");
        let error = LoadError::Invalid {
            file: "gates.toml".to_owned(),
            source_text: text.to_owned(),
            diagnostics: diagnostics.clone(),
            partial: None,
        };
        let got = config_errors(&error, "ci/gates.toml");
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), diagnostics.len(), "{got}");
        assert!(
            lines[0].starts_with("::error file=ci/gates.toml,line=4,col=1::unknown key `runn`"),
            "{got}"
        );
        assert!(
            lines[1].starts_with("::error file=ci/gates.toml,line=6,col="),
            "{got}"
        );
        assert!(lines[1].contains("zz"), "{got}");

        let unread = LoadError::Read {
            file: "gates.toml".to_owned(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file: a,b"),
        };
        assert_eq!(
            config_errors(&unread, "x:y/gates.toml"),
            "::error file=x%3Ay/gates.toml::cannot read the config: No such file: a,b\n"
        );
    }

    #[test]
    fn repo_paths_are_relative_to_the_workspace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join("gates.toml"), "").expect("write");
        assert_eq!(
            repo_path(&sub.join("../sub/gates.toml"), dir.path()),
            Some(PathBuf::from("sub/gates.toml"))
        );
        assert_eq!(repo_path(dir.path(), dir.path()), Some(PathBuf::new()));
        assert_eq!(repo_path(dir.path(), &sub), None);
        assert_eq!(repo_path(&dir.path().join("absent"), dir.path()), None);
        assert_eq!(slash_path(Path::new("./a/./b.md")), "a/b.md");
        assert_eq!(slash_path(Path::new("/a/b")), "/a/b");
    }
}
