//! Files made in a folder that is created on demand.
//!
//! A run writes a log, a lock and a cache entry for each gate it runs, each in a folder of the
//! cache or of `.runner/`. Making sure of the folder first (`create_dir_all`: a `mkdir` and a
//! `stat`) cost two system calls per file, and the folder is there for all but the first. The
//! file is tried first and the folder made only when it is missing, so a folder removed during
//! a run (`runner clean` in another terminal) is made again as before.

use std::io;
use std::path::Path;

/// `op`, which makes a file in `dir`; when it fails because something on the way is missing,
/// `dir` is created (with its parents) and `op` tried once more.
pub(crate) fn in_dir<T>(dir: &Path, mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    match op() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            op()
        }
        done => done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_made_only_when_the_file_cannot_be() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("a/b");
        let mut tries = 0;
        let made = in_dir(&dir, || {
            tries += 1;
            std::fs::File::create(dir.join("f"))
        });
        assert!(made.is_ok(), "{made:?}");
        assert_eq!(tries, 2, "tried, the folder made, tried again");
        let mut tries = 0;
        in_dir(&dir, || {
            tries += 1;
            std::fs::File::create(dir.join("g"))
        })
        .expect("second file");
        assert_eq!(tries, 1, "the folder is there: one try");
        assert!(dir.join("f").is_file() && dir.join("g").is_file());
    }

    #[test]
    fn other_errors_are_given_back_untouched() {
        let root = tempfile::tempdir().expect("temp dir");
        let file = root.path().join("file");
        std::fs::write(&file, "x").expect("write");
        // A file where the folder should be: NotADirectory, not NotFound, and nothing is made.
        let mut tries = 0;
        let e = in_dir(&file, || {
            tries += 1;
            std::fs::File::create(file.join("f"))
        })
        .expect_err("a file is in the way");
        assert_ne!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(tries, 1);
        assert_eq!(std::fs::read_to_string(&file).expect("still there"), "x");
    }
}
