//! Writing an entry's files back into the repository, safely: every path is checked before
//! anything is written, no write goes through a symlink, and each file lands by rename.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::entry::{Entry, check_path};

/// Why a restore was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The path (as in the entry) passes through a symlink.
    #[error("refusing to restore `{0}`: it passes through a symlink")]
    Symlink(String),
    /// The path is not plain and relative, or a file or folder is in the way; with the reason.
    #[error("refusing to restore `{0}`: {1}")]
    Unsafe(String, String),
    /// Writing the file failed: its path and the I/O error.
    #[error("cannot write `{0}`: {1}")]
    Io(String, std::io::Error),
}

/// Check that writing `rel` under `root` would not follow a symlink or replace a folder.
fn check_target(root: &Path, rel: &str) -> Result<(), RestoreError> {
    check_path(rel).map_err(|e| RestoreError::Unsafe(rel.to_owned(), e.to_string()))?;
    let mut at = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(RestoreError::Symlink(rel.to_owned()));
            }
            Ok(m) if i + 1 < parts.len() && !m.is_dir() => {
                return Err(RestoreError::Unsafe(
                    rel.to_owned(),
                    format!("{} is not a folder", at.display()),
                ));
            }
            Ok(m) if i + 1 == parts.len() && m.is_dir() => {
                return Err(RestoreError::Unsafe(
                    rel.to_owned(),
                    "a folder is in the way".to_owned(),
                ));
            }
            // Nothing below a missing component can be a symlink.
            Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Restore the files of `entry` for which `needs_write(path)` is true. All targets are checked
/// first; if any is unsafe nothing is written.
pub fn restore(
    root: &Path,
    entry: &Entry,
    needs_write: impl Fn(&str) -> bool,
) -> Result<usize, RestoreError> {
    let todo: Vec<usize> = (0..entry.manifest.files.len())
        .filter(|&i| needs_write(&entry.manifest.files[i].path))
        .collect();
    for &i in &todo {
        check_target(root, &entry.manifest.files[i].path)?;
    }
    for &i in &todo {
        let rec = &entry.manifest.files[i];
        let dest = root.join(&rec.path);
        let io = |e| RestoreError::Io(rec.path.clone(), e);
        let dir = dest.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(io)?;
        // Re-check after creating folders: a racing process could have planted a symlink.
        check_target(root, &rec.path)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".runner-restore-")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(&entry.contents[i]).map_err(io)?;
        let mode = if rec.executable { 0o755 } else { 0o644 };
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io)?;
        tmp.persist(&dest).map_err(|e| io(e.error))?;
    }
    Ok(todo.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::{FileRecord, Manifest};
    use crate::fingerprint::{KeyMaterial, hex};

    fn entry(paths: &[&str]) -> Entry {
        Entry {
            manifest: Manifest {
                key: String::new(),
                gate: "g".into(),
                created_at: String::new(),
                files: paths
                    .iter()
                    .map(|p| FileRecord {
                        path: (*p).into(),
                        size: 1,
                        executable: false,
                        hash: hex(blake3::hash(b"x").as_bytes()),
                    })
                    .collect(),
                log_bytes: 0,
                material: KeyMaterial::default(),
                signature: None,
            },
            contents: paths.iter().map(|_| b"x".to_vec()).collect(),
            log: Vec::new(),
        }
    }

    #[test]
    fn restores_into_new_folders() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            restore(dir.path(), &entry(&["out/a/b.txt"]), |_| true).unwrap(),
            1
        );
        assert_eq!(std::fs::read(dir.path().join("out/a/b.txt")).unwrap(), b"x");
    }

    #[test]
    fn refuses_symlinked_folder_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        let e = entry(&["ok.txt", "out/evil.txt"]);
        assert!(matches!(
            restore(dir.path(), &e, |_| true),
            Err(RestoreError::Symlink(_))
        ));
        assert!(
            !dir.path().join("ok.txt").exists(),
            "nothing is half-applied"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_symlinked_file() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("a.txt")).unwrap();
        assert!(restore(dir.path(), &entry(&["a.txt"]), |_| true).is_err());
    }
}
