//! The JSON report file.

use std::path::Path;

use super::model::Report;

/// Write the report atomically (pretty JSON, trailing newline).
pub fn write(report: &Report, path: &Path) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    text.push(b'\n');
    crate::bincodec::write_atomic(path, &text)
}

/// Read a report back (for `report merge` and `verify`).
pub fn read(path: &Path) -> Result<Report, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_slice(&data)
        .map_err(|e| format!("{}: not a runner report: {e}", path.display()))
}
