//! `runner audit normalize`. Being built.

/// Normalize audit outputs into one report.
pub fn normalize_command(_files: &[std::path::PathBuf], _out: &std::path::Path) -> i32 {
    eprintln!("error: `runner audit normalize` is not available in this build yet");
    crate::exit_code::USAGE
}
