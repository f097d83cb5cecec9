//! A small builder that drives the built `runner` on a temporary repository.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// A temporary repository with a gates.toml.
pub(crate) struct Repo {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What a run of the binary gave.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Panic with the whole output unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Repo {
    pub(crate) fn new() -> Self {
        Repo {
            dir: tempfile::tempdir().expect("tempdir"),
            env: Vec::new(),
        }
    }

    /// Write gates.toml (with `version = 1` prepended).
    pub(crate) fn gates(self, body: &str) -> Self {
        self.write("gates.toml", &format!("version = 1\n\n{body}"));
        self
    }

    /// Set an environment variable for every later run.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Write a file (folders created).
    pub(crate) fn write(&self, rel: &str, content: &str) -> &Self {
        self.write_bytes(rel, content.as_bytes())
    }

    pub(crate) fn write_bytes(&self, rel: &str, content: &[u8]) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Run `runner ARGS` in the repository (bounded: 120 s).
    pub(crate) fn run(&self, args: &[&str]) -> Outcome {
        let mut cmd = assert_cmd::Command::cargo_bin("runner").expect("binary");
        cmd.current_dir(self.dir.path())
            .args(args)
            .timeout(Duration::from_secs(120));
        cmd.env_remove("GITHUB_ACTIONS")
            .env_remove("RUNNER_NOW")
            .env_remove("GITHUB_STEP_SUMMARY");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run runner");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The JSON report of the last run.
    pub(crate) fn report(&self) -> Value {
        serde_json::from_str(&self.read("cache/report.json")).expect("report is JSON")
    }

    /// One gate's entry in the last report.
    pub(crate) fn gate(&self, name: &str) -> Value {
        self.report()["gates"]
            .as_array()
            .and_then(|g| g.iter().find(|g| g["name"] == name).cloned())
            .unwrap_or_else(|| panic!("gate {name} not in report"))
    }

    /// (status, cached) of a gate in the last report.
    pub(crate) fn status(&self, name: &str) -> (String, bool) {
        let g = self.gate(name);
        (
            g["status"].as_str().unwrap_or_default().to_owned(),
            g["cached"].as_bool().unwrap_or(false),
        )
    }
}
