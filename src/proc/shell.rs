//! The shell gates run under, found as `execvp` would find `sh`: the first executable `sh` on
//! the process's PATH, else `/bin/sh`.
//!
//! Why the runner looks it up itself: the standard library starts a child with `posix_spawn`
//! only when it need not search a PATH the caller changed. A gate's environment sets PATH (the
//! strict base), so `Command::new("sh")` made it fork the whole runner for every gate instead
//! (measured at 2,000 gates, cold: about 1 ms more system time per gate, and worse the larger the
//! runner's memory). An absolute program path keeps `posix_spawn`, with the same shell.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The `sh` a process whose PATH is `path` (None: unset) would run. Memoised per PATH value:
/// a run has one or two.
#[must_use]
pub(crate) fn sh_on(path: Option<&OsStr>) -> PathBuf {
    static FOUND: OnceLock<Mutex<HashMap<Option<OsString>, PathBuf>>> = OnceLock::new();
    let found = FOUND.get_or_init(|| Mutex::new(HashMap::new()));
    let key = path.map(OsStr::to_os_string);
    if let Some(sh) = found.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return sh;
    }
    let sh = search(path);
    if let Ok(mut m) = found.lock() {
        m.insert(key, sh.clone());
    }
    sh
}

/// The first executable `sh` in the absolute folders of `path`, else `/bin/sh`.
fn search(path: Option<&OsStr>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    path.into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("sh"))
        .find(|sh| {
            sh.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_executable_sh_on_the_path_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // Not executable: skipped.
        std::fs::write(a.join("sh"), "").unwrap();
        std::fs::write(b.join("sh"), "").unwrap();
        std::fs::set_permissions(
            b.join("sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(sh_on(Some(&path)), b.join("sh"));
    }

    #[test]
    fn without_a_usable_path_it_is_bin_sh() {
        assert_eq!(sh_on(None), PathBuf::from("/bin/sh"));
        assert_eq!(
            sh_on(Some(OsStr::new("relative/dir:/nonexistent-runner-dir"))),
            PathBuf::from("/bin/sh")
        );
    }
}
