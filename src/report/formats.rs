//! The optional report files of a run (`JUnit`, Markdown, Prometheus) and the CI side effects:
//! the GitHub step summary and the workflow-command annotations.
//!
//! Every format is rendered by its own module from the same [`Report`]; this file only decides
//! which ones a run asked for and where the text goes. Failing to write one is a warning: the
//! gates were judged, and the exit code stands.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Report, annotations, junit, markdown, metrics};
use crate::config::Config;

/// Which extra files a run was asked for.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// `--junit`: where to write `JUnit` XML.
    pub junit: Option<PathBuf>,
    /// `--summary`: where to write the Markdown summary.
    pub summary: Option<PathBuf>,
    /// `--metrics`: where to write Prometheus text exposition.
    pub metrics: Option<PathBuf>,
}

/// What the CI environment asks for, read once so that the writer itself stays testable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiEnv {
    /// `$GITHUB_STEP_SUMMARY`: a file the Markdown summary is appended to.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: print `::error` / `::warning` workflow commands.
    pub github_actions: bool,
    /// `$GITHUB_WORKSPACE`: the repository root, which annotations name files relative to.
    pub workspace: Option<PathBuf>,
}

impl CiEnv {
    /// Read `GITHUB_STEP_SUMMARY` and `GITHUB_WORKSPACE` (each ignored when empty) and
    /// `GITHUB_ACTIONS`.
    #[must_use]
    pub fn from_env() -> Self {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        CiEnv {
            step_summary: path("GITHUB_STEP_SUMMARY"),
            github_actions: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            workspace: path("GITHUB_WORKSPACE"),
        }
    }

    /// A folder (or file) as annotations name it: relative to `$GITHUB_WORKSPACE` when it is
    /// inside it; None otherwise.
    #[must_use]
    pub fn repo_path(&self, path: &Path) -> Option<PathBuf> {
        annotations::repo_path(path, self.workspace.as_deref()?)
    }
}

/// Write every requested format; returns warnings for those that could not be written.
///
/// Also appends the Markdown summary to `$GITHUB_STEP_SUMMARY` when that is set, and prints
/// annotations to stdout under `GITHUB_ACTIONS=true`.
#[must_use]
pub fn write_requested(report: &Report, config: &Config, requested: &Requested) -> Vec<String> {
    let ci = CiEnv::from_env();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_with(report, config, requested, &ci, &mut out)
}

/// [`write_requested`] with the CI environment and the annotation stream passed in.
#[must_use]
pub fn write_with(
    report: &Report,
    config: &Config,
    requested: &Requested,
    ci: &CiEnv,
    annotations_out: &mut dyn Write,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(path) = &requested.junit {
        match junit::render(report, config) {
            Ok(xml) => write_file(path, xml.as_bytes(), "JUnit report", &mut warnings),
            Err(e) => warnings.push(format!("cannot render the JUnit report: {e}")),
        }
    }
    let summary = (requested.summary.is_some() || ci.step_summary.is_some())
        .then(|| markdown::render(report));
    if let (Some(path), Some(text)) = (&requested.summary, &summary) {
        write_file(path, text.as_bytes(), "Markdown summary", &mut warnings);
    }
    if let Some(path) = &requested.metrics
        && let Err(e) = crate::bincodec::write_atomic_shared_with(path, |out| {
            metrics::write(report, config, out)
        })
    {
        warnings.push(format!(
            "cannot write the metrics file {}: {e}",
            path.display()
        ));
    }
    if let (Some(path), Some(text)) = (&ci.step_summary, &summary)
        && let Err(e) = append(path, text.as_bytes())
    {
        warnings.push(format!(
            "cannot append the summary to GITHUB_STEP_SUMMARY {}: {e}",
            path.display()
        ));
    }
    if ci.github_actions {
        // Findings name files relative to the config folder; GitHub, relative to the
        // repository. Without a workspace that holds the config, they stay as they are.
        let dir = ci.repo_path(&config.root).unwrap_or_default();
        let text = annotations::render(report, &dir);
        if let Err(e) = annotations_out
            .write_all(text.as_bytes())
            .and_then(|()| annotations_out.flush())
        {
            warnings.push(format!("cannot print the GitHub annotations: {e}"));
        }
    }
    warnings
}

fn write_file(path: &Path, data: &[u8], what: &str, warnings: &mut Vec<String>) {
    if let Err(e) = crate::bincodec::write_atomic_shared(path, data) {
        warnings.push(format!("cannot write the {what} {}: {e}", path.display()));
    }
}

/// Append with one `write` call, so that other steps appending to the same file do not
/// interleave with it. The file is created if missing, never truncated.
fn append(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{GateReport, Summary};
    use crate::vocab::Mode;
    use crate::vocab::Status;

    fn report() -> Report {
        let gate = |name: &str, status, mode| GateReport {
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
            cached: false,
            duration_ms: 5,
            key: None,
            reason: Some(format!("{name} broke")),
            artifacts: Vec::new(),
            thresholds: Vec::new(),
            exports: Vec::new(),
        };
        Report {
            outcome: crate::vocab::exit_code::Outcome::Fail,
            version: 1,
            exit_code: 1,
            started_at: "2026-11-24T10:00:00Z".to_owned(),
            duration_ms: 10,
            summary: Summary {
                fail: 2,
                ..Summary::default()
            },
            labels: vec!["smoke-failed:smoke".to_owned()],
            gates: vec![
                gate("build", Status::Fail, Mode::Blocking),
                gate("smoke", Status::Fail, Mode::Observational),
            ],
        }
    }

    fn config(dir: &Path) -> Config {
        crate::config::parse(
            "gates.toml",
            "version = 1\n[gates.build]\nrun = \"true\"\n",
            dir,
        )
        .expect("config")
    }

    #[test]
    fn writes_requested_files_appends_the_step_summary_and_annotates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        let step = dir.path().join("step.md");
        std::fs::write(&step, "earlier step\n").expect("write");
        let requested = Requested {
            junit: Some(dir.path().join("out/junit.xml")),
            summary: Some(dir.path().join("out/summary.md")),
            metrics: Some(dir.path().join("out/metrics.prom")),
        };
        let ci = CiEnv {
            step_summary: Some(step.clone()),
            github_actions: true,
            workspace: None,
        };
        let mut out = Vec::new();
        let warnings = write_with(&report(), &config, &requested, &ci, &mut out);
        assert!(warnings.is_empty(), "{warnings:?}");
        for p in [&requested.junit, &requested.summary, &requested.metrics] {
            assert!(p.as_ref().is_some_and(|p| p.is_file()), "{p:?}");
        }
        let summary =
            std::fs::read_to_string(requested.summary.as_ref().expect("summary")).expect("read");
        assert_eq!(
            std::fs::read_to_string(&step).expect("read"),
            format!("earlier step\n{summary}")
        );
        let lines: Vec<String> = String::from_utf8(out)
            .expect("utf8")
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            lines,
            [
                "::error title=build::build broke",
                "::warning title=smoke::smoke broke"
            ]
        );
    }

    #[test]
    fn an_unwritable_file_is_a_warning_and_nothing_is_printed_outside_ci() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        std::fs::write(dir.path().join("file"), "").expect("write");
        let requested = Requested {
            junit: Some(dir.path().join("file/junit.xml")),
            ..Requested::default()
        };
        let mut out = Vec::new();
        let warnings = write_with(&report(), &config, &requested, &CiEnv::default(), &mut out);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("cannot write the JUnit report"),
            "{warnings:?}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn findings_are_annotated_relative_to_the_github_workspace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir_all(&sub).expect("mkdir");
        let config = config(&sub);
        let mut report = report();
        report.gates[0].findings = vec![crate::report::FindingReport {
            file: "docs/x.md".to_owned(),
            line: Some(2),
            message: "item missing".to_owned(),
        }];
        let annotate = |workspace: Option<PathBuf>| {
            let ci = CiEnv {
                step_summary: None,
                github_actions: true,
                workspace,
            };
            let mut out = Vec::new();
            let warnings = write_with(&report, &config, &Requested::default(), &ci, &mut out);
            assert!(warnings.is_empty(), "{warnings:?}");
            String::from_utf8(out)
                .expect("utf8")
                .lines()
                .filter(|l| l.contains("file="))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            annotate(Some(dir.path().to_path_buf())),
            ["::error file=sub/docs/x.md,line=2,title=build::item missing"]
        );
        assert_eq!(
            annotate(None),
            ["::error file=docs/x.md,line=2,title=build::item missing"]
        );
        // A workspace that does not hold the config: paths stay relative to the config folder.
        let elsewhere = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            annotate(Some(elsewhere.path().to_path_buf())),
            ["::error file=docs/x.md,line=2,title=build::item missing"]
        );
    }
}
