//! `write_json_atomic`: writes a JSON artifact through a temporary file and a
//! rename, so a reader never sees half a file.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::Failure;

/// Serializes `value` (pretty, with a trailing newline) to `path`, creating
/// the parent folder if needed.
///
/// # Errors
/// A runtime [`Failure`] naming the file when a folder or file cannot be
/// written.
pub fn write_json_atomic(path: &Path, value: &serde_json::Value) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|err| Failure::runtime(format!("{}: cannot serialize: {err}", path.display())))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` via a sibling temporary file and a rename.
///
/// # Errors
/// A runtime [`Failure`] naming the file and the step that failed; a usage
/// [`Failure`] when `path` has no file name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    attempt(path, bytes).map_err(|error| match error {
        AttemptError::NotAFile => Failure::usage(format!("{}: not a file path", path.display())),
        AttemptError::Io(what, err) => {
            Failure::runtime(format!("{}: cannot {what}: {err}", path.display()))
        }
    })
}

/// [`write_atomic`] for callers that word their own message: the bare I/O
/// error, without the path or the step.
///
/// # Errors
/// The I/O error of the step that failed (`InvalidInput` when `path` has no
/// file name).
pub fn write_atomic_io(path: &Path, bytes: &[u8]) -> io::Result<()> {
    attempt(path, bytes).map_err(|error| match error {
        AttemptError::NotAFile => io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        AttemptError::Io(_, err) => err,
    })
}

enum AttemptError {
    NotAFile,
    /// The step that failed and its error.
    Io(&'static str, io::Error),
}

fn attempt(path: &Path, bytes: &[u8]) -> Result<(), AttemptError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|err| AttemptError::Io("create the parent folder", err))?;
    let Some(name) = path.file_name() else {
        return Err(AttemptError::NotAFile);
    };
    // The temporary file sits in the same folder, so the rename stays on one
    // file system and is atomic.
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|err| {
        let _ = fs::remove_file(&tmp);
        AttemptError::Io("write", err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("runner-tasks-atomic-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn creates_parent_and_leaves_no_temp_file() {
        let dir = scratch("parent");
        let path = dir.join("nested/out.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\n  \"a\": 1\n}\n");
        let leftovers: Vec<_> = fs::read_dir(dir.join("nested")).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replaces_existing_file() {
        let dir = scratch("replace");
        let path = dir.join("out.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn io_variant_gives_the_bare_error() {
        let dir = scratch("io");
        fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("blocker");
        fs::write(&blocker, b"").unwrap();
        let err = write_atomic_io(&blocker.join("out.json"), b"x").unwrap_err();
        assert!(!err.to_string().contains("blocker"), "{err}");
        let err = write_atomic_io(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        write_atomic_io(&dir.join("ok.json"), b"ok").unwrap();
        assert_eq!(fs::read(dir.join("ok.json")).unwrap(), b"ok");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failure_names_the_file() {
        let dir = scratch("blocked");
        fs::create_dir_all(&dir).unwrap();
        // A regular file where a folder is needed makes create_dir_all fail.
        let blocker = dir.join("blocker");
        fs::write(&blocker, b"").unwrap();
        let failure = write_atomic(&blocker.join("out.json"), b"x").unwrap_err();
        assert_eq!(failure.code, 1);
        assert!(failure.message.contains("blocker"), "{}", failure.message);
        fs::remove_dir_all(dir).unwrap();
    }
}
