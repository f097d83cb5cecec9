//! `runner init`: a commented starter gates.toml. Being built.

/// Write a starter config at `path` unless one exists.
pub fn init_command(_path: &std::path::Path) -> i32 {
    eprintln!("error: `runner init` is not available in this build yet");
    crate::exit_code::USAGE
}
