//! `runner report merge`: combine shard reports. Being built.

/// Merge `reports` into `out`.
pub fn merge_command(_reports: &[std::path::PathBuf], _out: &std::path::Path) -> i32 {
    eprintln!("error: `runner report merge` is not available in this build yet");
    crate::exit_code::USAGE
}
