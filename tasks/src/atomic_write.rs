//! `write_json_atomic`: writes a JSON artifact through a temporary file and a
//! rename, so a reader never sees half a file.

use std::fs;
use std::io::Write;
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
/// A runtime [`Failure`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |what: &str, err: std::io::Error| {
        Failure::runtime(format!("{}: cannot {what}: {err}", path.display()))
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|err| fail("create the parent folder", err))?;
    let Some(name) = path.file_name() else {
        return Err(Failure::usage(format!(
            "{}: not a file path",
            path.display()
        )));
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
        fail("write", err)
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
