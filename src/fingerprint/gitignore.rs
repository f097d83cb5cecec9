//! `.gitignore` rules for inputs (on by default, as ruff, ripgrep and Turborepo do): a file a
//! glob matches is not an input when git ignores it, so build output, virtualenvs and tool
//! caches under a `**` do not enter keys. A file named exactly in `inputs` is never ignored.
//!
//! The rules are the repository's `.gitignore` files (each applying below its folder, deeper
//! ones first) and `.git/info/exclude`, read with the `ignore` crate (ripgrep's). The
//! `.gitignore` files are found in the folder listings the expansion already made, plus the
//! folders above each walk's base: no extra walk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The ignore rules of one expansion.
pub(super) struct Ignores {
    root: PathBuf,
    /// Folder (relative to the root; empty for the root) -> its `.gitignore` rules.
    by_dir: HashMap<PathBuf, Gitignore>,
    /// `.git/info/exclude`: the lowest precedence.
    exclude: Option<Gitignore>,
}

impl Ignores {
    /// The rules for `root`, from `.gitignore` files among `listed` (paths relative to the
    /// root) and in the folders above the walks' `bases`. None when there is no rule at all.
    pub(super) fn load<'a>(
        root: &Path,
        listed: impl Iterator<Item = &'a Path>,
        bases: impl Iterator<Item = &'a Path>,
    ) -> Option<Self> {
        let mut dirs: Vec<PathBuf> = listed
            .filter(|p| p.file_name().is_some_and(|n| n == ".gitignore"))
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        // The folders above each base, up to the root (a base's own `.gitignore` is in its
        // listing: no stat per base, which at 10,000 gates would be 10,000 more system calls).
        let mut above: Vec<&Path> = bases.filter_map(Path::parent).collect();
        above.sort_unstable();
        above.dedup();
        for base in above {
            let mut dir = Some(base);
            while let Some(d) = dir {
                dirs.push(d.to_path_buf());
                dir = d.parent();
            }
        }
        dirs.push(PathBuf::new());
        dirs.sort();
        dirs.dedup();
        let mut by_dir = HashMap::new();
        for dir in dirs {
            let file = root.join(&dir).join(".gitignore");
            if !file.is_file() {
                continue;
            }
            let mut builder = GitignoreBuilder::new(root.join(&dir));
            // A line that is not a valid pattern is skipped, as git does.
            let _ = builder.add(&file);
            if let Ok(rules) = builder.build() {
                by_dir.insert(dir, rules);
            }
        }
        let exclude_file = root.join(".git").join("info").join("exclude");
        let exclude = exclude_file.is_file().then(|| {
            let mut builder = GitignoreBuilder::new(root);
            let _ = builder.add(&exclude_file);
            builder.build().ok()
        });
        let exclude = exclude.flatten();
        if by_dir.is_empty() && exclude.is_none() {
            return None;
        }
        Some(Ignores {
            root: root.to_path_buf(),
            by_dir,
            exclude,
        })
    }

    /// Whether git ignores the file at `rel` (relative to the root).
    pub(super) fn ignored(&self, rel: &Path) -> bool {
        let abs = self.root.join(rel);
        let mut dir = rel.parent();
        // Deeper files first: their rules override the ones above them.
        while let Some(d) = dir {
            if let Some(rules) = self.by_dir.get(d) {
                match rules.matched_path_or_any_parents(&abs, false) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            dir = d.parent();
        }
        self.exclude.as_ref().is_some_and(|rules| {
            matches!(
                rules.matched_path_or_any_parents(&abs, false),
                Match::Ignore(_)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_rules_and_negations() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/gen")).unwrap();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n*.log\n!keep.log\n").unwrap();
        std::fs::write(root.join("src/.gitignore"), "gen/\n!important.log\n").unwrap();
        std::fs::write(root.join(".git/info/exclude"), "local.txt\n").unwrap();
        let listed = [Path::new("src/.gitignore")];
        let ignores =
            Ignores::load(root, listed.into_iter(), [Path::new("src")].into_iter()).expect("rules");
        for (path, ignored) in [
            ("build/out.o", true),
            ("src/build/x.o", true),
            ("a.log", true),
            ("keep.log", false),
            ("src/gen/x.rs", true),
            ("src/lib.rs", false),
            ("src/important.log", false),
            ("local.txt", true),
            ("README.md", false),
        ] {
            assert_eq!(ignores.ignored(Path::new(path)), ignored, "{path}");
        }
    }

    #[test]
    fn no_rule_file_means_no_rules() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Ignores::load(dir.path(), std::iter::empty(), std::iter::empty()).is_none());
    }
}
