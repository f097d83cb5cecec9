//! Writing an entry's files back into the repository, safely: every path is checked before
//! anything is written, no write goes through a symlink, and each file lands by rename.

use std::collections::HashSet;
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
/// Paths in `removed` are about to be removed: one in the way counts as absent.
fn check_target(root: &Path, rel: &str, removed: &HashSet<&str>) -> Result<(), RestoreError> {
    check_path(rel).map_err(|e| RestoreError::Unsafe(rel.to_owned(), e.to_string()))?;
    let mut at = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    let mut prefix_len = 0;
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        prefix_len += part.len() + usize::from(i > 0);
        if removed.contains(&rel[..prefix_len]) {
            return Ok(());
        }
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

/// Check that removing `rel` under `root` removes that very path: relative, plain, and no
/// symlink on the way to it (the path itself may be one: the link is removed, not followed).
fn check_removal(root: &Path, rel: &str) -> Result<(), RestoreError> {
    check_path(rel).map_err(|e| RestoreError::Unsafe(rel.to_owned(), e.to_string()))?;
    let mut at = root.to_path_buf();
    if let Some((parents, _)) = rel.rsplit_once('/') {
        for part in parents.split('/') {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(RestoreError::Symlink(rel.to_owned())),
                Err(_) => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Make the files of `entry` for which `needs_write(path)` is true what the entry holds (a
/// link for a link record), after removing the files in `remove` (files and links the entry
/// does not hold under the locations its gate's artifacts match). Every path is checked first;
/// if any is unsafe nothing is removed or written. Returns how many paths changed.
pub fn restore(
    root: &Path,
    entry: &Entry,
    needs_write: impl Fn(&str) -> bool,
    remove: &[String],
) -> Result<usize, RestoreError> {
    let todo: Vec<usize> = (0..entry.manifest.files.len())
        .filter(|&i| needs_write(&entry.manifest.files[i].path))
        .collect();
    for r in remove {
        check_removal(root, r)?;
    }
    let removed: HashSet<&str> = remove.iter().map(String::as_str).collect();
    for &i in &todo {
        check_target(root, &entry.manifest.files[i].path, &removed)?;
    }
    for r in remove {
        match std::fs::remove_file(root.join(r)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RestoreError::Io(r.clone(), e)),
        }
    }
    let none = HashSet::new();
    let mut made = HashSet::new();
    for &i in &todo {
        let rec = &entry.manifest.files[i];
        let dest = root.join(&rec.path);
        let io = |e| RestoreError::Io(rec.path.clone(), e);
        let dir = dest.parent().unwrap_or(root);
        if !made.contains(dir) {
            std::fs::create_dir_all(dir).map_err(io)?;
            made.insert(dir.to_path_buf());
        }
        // Re-check after creating folders: a racing process could have planted a symlink.
        check_target(root, &rec.path, &none)?;
        match &rec.link {
            Some(target) => place_link(dir, &dest, target).map_err(io)?,
            None => {
                let mode = if rec.executable { 0o755 } else { 0o644 };
                let mut tmp = tempfile::Builder::new()
                    .prefix(".runner-restore-")
                    .tempfile_in(dir)
                    .map_err(io)?;
                tmp.write_all(&entry.contents[i]).map_err(io)?;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(io)?;
                tmp.persist(&dest).map_err(|e| io(e.error))?;
            }
        }
    }
    Ok(todo.len() + remove.len())
}

/// Put a symlink to `target` at `dest` (in `dir`): made under a temporary name, then renamed
/// over `dest`, so `dest` is never written through.
fn place_link(dir: &Path, dest: &Path, target: &str) -> std::io::Result<()> {
    let mut last = None;
    for attempt in 0..16u32 {
        let tmp = dir.join(format!(
            ".runner-link-{}-{}-{attempt}",
            std::process::id(),
            LINKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        match std::os::unix::fs::symlink(target, &tmp) {
            Ok(()) => {
                return std::fs::rename(&tmp, dest).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Temporary link names made by this process.
static LINKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
                        link: None,
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
            restore(dir.path(), &entry(&["out/a/b.txt"]), |_| true, &[]).unwrap(),
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
            restore(dir.path(), &e, |_| true, &[]),
            Err(RestoreError::Symlink(_))
        ));
        assert!(
            !dir.path().join("ok.txt").exists(),
            "nothing is half-applied"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn removes_stale_files_and_places_links_without_following_any() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("kept.txt"), "outside").unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/stale.txt"), "old").unwrap();
        // A stale link to a folder outside: removed as a link, the folder untouched.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out/away")).unwrap();
        // A stale file where the entry has a folder.
        std::fs::write(dir.path().join("out/sub"), "file in the way").unwrap();
        let mut e = entry(&["out/sub/a.txt", "out/link"]);
        e.manifest.files[1].link = Some(outside.path().join("kept.txt").display().to_string());
        e.contents[1] = Vec::new();
        let remove = ["out/away", "out/stale.txt", "out/sub"].map(String::from);
        assert_eq!(restore(dir.path(), &e, |_| true, &remove).unwrap(), 5);
        assert!(!dir.path().join("out/stale.txt").exists());
        assert!(std::fs::symlink_metadata(dir.path().join("out/away")).is_err());
        assert_eq!(
            std::fs::read(dir.path().join("out/sub/a.txt")).unwrap(),
            b"x"
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("out/link")).unwrap(),
            outside.path().join("kept.txt")
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join("kept.txt")).unwrap(),
            "outside"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn refuses_a_removal_through_a_symlinked_folder() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim.txt"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        let remove = ["out/victim.txt".to_owned()];
        assert!(matches!(
            restore(dir.path(), &entry(&[]), |_| true, &remove),
            Err(RestoreError::Symlink(_))
        ));
        assert!(outside.path().join("victim.txt").exists());
    }

    #[test]
    fn refuses_symlinked_file() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("a.txt")).unwrap();
        assert!(restore(dir.path(), &entry(&["a.txt"]), |_| true, &[]).is_err());
    }
}
