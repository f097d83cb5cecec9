//! The JSON report file.

use std::path::Path;

use super::model::Report;

/// Write the report atomically (pretty JSON, trailing newline), with the mode any new file gets
/// (0666 less the umask).
pub fn write(report: &Report, path: &Path) -> std::io::Result<()> {
    crate::bincodec::write_atomic_shared_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, report).map_err(std::io::Error::other)?;
        std::io::Write::write_all(w, b"\n")
    })
}

/// Read a report back (for `report merge`). A report written before `outcome` existed gets
/// the outcome its exit code names.
pub fn read(path: &Path) -> Result<Report, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let not_a_report =
        |e: serde_json::Error| format!("{}: not a runner report: {e}", path.display());
    let mut value: serde_json::Value = serde_json::from_slice(&data).map_err(not_a_report)?;
    if let Some(fields) = value.as_object_mut()
        && !fields.contains_key("outcome")
    {
        let outcome = match fields.get("exit_code").and_then(serde_json::Value::as_i64) {
            Some(1) => "fail",
            Some(78) => "skipped",
            _ => "pass",
        };
        fields.insert("outcome".to_owned(), outcome.into());
    }
    serde_json::from_value(value).map_err(not_a_report)
}
