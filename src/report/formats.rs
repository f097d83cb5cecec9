//! The optional report files of a run (JUnit, Markdown, Prometheus) and CI annotations.
//! Being built: see issue "History, graduation, reports".

use std::path::PathBuf;

use super::Report;
use crate::config::Config;

/// Which extra files a run was asked for.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
}

/// Write every requested format; returns warnings for those that could not be written.
#[must_use]
pub fn write_requested(_report: &Report, _config: &Config, _requested: &Requested) -> Vec<String> {
    Vec::new()
}
