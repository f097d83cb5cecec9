//! Run history and graduation (SPEC 6). Being built: see issue "History, graduation, reports".

use std::path::{Path, PathBuf};

use crate::config::{Gate, Mode, Settings};
use crate::report::Report;
use crate::run::Workspace;

/// The history file as read at the start of a run.
pub struct History {
    path: PathBuf,
}

impl History {
    /// Read the history file (missing = empty).
    #[must_use]
    pub fn load(path: &Path) -> Self {
        History { path: path.to_path_buf() }
    }

    /// Problems met while reading (corrupt lines), one line each.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// The gate's mode now: blocking once an observational gate graduated.
    #[must_use]
    pub fn effective_mode(&self, gate: &Gate, _settings: &Settings, _now: time::OffsetDateTime) -> Mode {
        gate.mode
    }

    /// Append one line per judged gate of `report`.
    pub fn append_run(&self, _report: &Report, _now: time::OffsetDateTime) -> std::io::Result<()> {
        let _ = &self.path;
        Ok(())
    }
}

/// `runner status`.
pub fn status_command(_ws: &Workspace, _now: Option<&str>) -> i32 {
    eprintln!("error: `runner status` is not available in this build yet");
    crate::exit_code::USAGE
}

/// `runner graduate [--write]`.
pub fn graduate_command(_ws: &Workspace, _now: Option<&str>, _write: bool) -> i32 {
    eprintln!("error: `runner graduate` is not available in this build yet");
    crate::exit_code::USAGE
}
