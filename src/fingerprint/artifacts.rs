//! Artifact sets (SPEC 10a): what a gate's `artifacts` match on disk after it ran.
//!
//! An entry is a path named exactly (a file, or a folder meaning everything under it), a glob
//! (`dist/**`) or an exclusion (`!dist/tmp/**`, which also excludes everything under what it
//! matches). What they match are *members*: regular files, and symlinks kept as links (their
//! target is never followed, nor walked into). A path named exactly that is a file is that
//! file, through a symlink too, as it always was.
//!
//! A member's *digest* is what enters dependents' keys and the index: the content hash for a
//! path named exactly (as before sets existed), the content hash marked with the execute bit
//! for a file found in a folder or by a glob, and the hash of the target for a link.

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

use super::stat_cache::Hash;
use crate::config::{Gate, is_glob};

/// Folders never walked into below an entry: VCS metadata and the runner's own state.
const SKIP_NAMES: &[&str] = &[".git", ".runner"];

/// What a member is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A regular file (for a path named exactly: the file it names, through a symlink too).
    File {
        /// Any execute bit is set.
        executable: bool,
        /// Its length in bytes.
        size: u64,
    },
    /// A symlink, kept as a link: the target written in it (never followed).
    Link(PathBuf),
}

/// One file (or link) an artifact set holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Relative to the config folder.
    pub path: PathBuf,
    /// What it is.
    pub found: Found,
    /// The path is one of the gate's entries named exactly.
    pub exact: bool,
}

/// The digest of a symlink member: a hash of its target, never of what it points to.
#[must_use]
pub fn link_digest(target: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("runner artifact symlink v1");
    h.update(target);
    *h.finalize().as_bytes()
}

/// The digest of a file member with content hash `content`: the content hash itself for a path
/// named exactly (what keys always held for those) or a file without an execute bit; marked
/// otherwise, so a lost execute bit in a folder is a change.
#[must_use]
pub fn file_digest(content: Hash, executable: bool, exact: bool) -> Hash {
    if exact || !executable {
        return content;
    }
    let mut h = blake3::Hasher::new_derive_key("runner artifact executable file v1");
    h.update(&content);
    *h.finalize().as_bytes()
}

fn glob(pattern: &str) -> Option<globset::Glob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
}

/// The folder a glob starts from (`dist/**/*.js` -> `dist`) and how deep below it it can
/// match (None with `**`).
fn base_and_depth(pattern: &str) -> (PathBuf, Option<usize>) {
    let parts: Vec<&str> = pattern.split('/').collect();
    let first_wild = parts.iter().position(|p| is_glob(p)).unwrap_or(parts.len());
    let base: PathBuf = parts[..first_wild].iter().collect();
    let depth = (!super::inputs::has_globstar(pattern)).then_some(parts.len() - first_wild);
    (base, depth)
}

struct GlobEntry<'g> {
    matcher: GlobMatcher,
    base: PathBuf,
    depth: Option<usize>,
    pattern: &'g str,
}

/// Some of a gate's artifact entries (all of them, or the ones a narrowed need names), with the
/// gate's exclusions, compiled. Cheap for entries named exactly: no glob is compiled then.
pub struct ArtifactSpec<'g> {
    /// Every entry of the gate named exactly (a member at such a path is `exact`).
    all_exact: Vec<&'g str>,
    /// The chosen entries named exactly.
    exact: Vec<&'g str>,
    /// The chosen globs.
    globs: Vec<GlobEntry<'g>>,
    /// The gate's exclusions (each with `/**` added); None when it has none.
    excludes: Option<GlobSet>,
}

impl<'g> ArtifactSpec<'g> {
    /// All of `gate`'s artifacts.
    #[must_use]
    pub fn of(gate: &'g Gate) -> Self {
        Self::of_entries(gate, gate.artifact_entries())
    }

    /// The entries `chosen` of `gate` (declared entries; exclusions among them are ignored:
    /// the gate's exclusions always apply).
    #[must_use]
    pub fn of_entries(gate: &'g Gate, chosen: impl IntoIterator<Item = &'g str>) -> Self {
        let mut exact = Vec::new();
        let mut globs = Vec::new();
        for entry in chosen.into_iter().filter(|e| !e.starts_with('!')) {
            if is_glob(entry) {
                if let Some(g) = glob(entry) {
                    let (base, depth) = base_and_depth(entry);
                    globs.push(GlobEntry {
                        matcher: g.compile_matcher(),
                        base,
                        depth,
                        pattern: entry,
                    });
                }
            } else {
                exact.push(entry);
            }
        }
        let mut excludes = None;
        let mut exclusions = gate.artifact_exclusions().peekable();
        if exclusions.peek().is_some() {
            let mut b = GlobSetBuilder::new();
            for e in exclusions {
                for pattern in [e.to_owned(), format!("{e}/**")] {
                    if let Some(g) = glob(&pattern) {
                        b.add(g);
                    }
                }
            }
            excludes = b.build().ok();
        }
        ArtifactSpec {
            all_exact: gate.artifact_entries().filter(|e| !is_glob(e)).collect(),
            exact,
            globs,
            excludes,
        }
    }

    /// Only paths named exactly, no exclusion: the shape every gate had before sets.
    #[must_use]
    pub fn is_exact(&self) -> bool {
        self.globs.is_empty() && self.excludes.is_none()
    }

    /// The chosen entries named exactly.
    #[must_use]
    pub fn exact_entries(&self) -> &[&'g str] {
        &self.exact
    }

    fn excluded(&self, path: &Path) -> bool {
        self.excludes.as_ref().is_some_and(|e| e.is_match(path))
    }

    /// Does the set cover `path` (relative), by its name alone: a chosen path named exactly or
    /// under one, or matched by a chosen glob, and not excluded.
    #[must_use]
    pub fn contains(&self, path: &str) -> bool {
        let by_entry = self.exact.iter().any(|e| {
            path.strip_prefix(e)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }) || self.globs.iter().any(|g| g.matcher.is_match(path));
        by_entry && !self.excluded(Path::new(path))
    }

    /// Which chosen entries (exact or glob) `path` falls under, by name.
    pub fn entries_of<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'g str> + 'a {
        let exact = self.exact.iter().copied().filter(move |e| {
            path.strip_prefix(e)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        let globs = self
            .globs
            .iter()
            .filter(move |g| g.matcher.is_match(path))
            .map(|g| g.pattern);
        exact.chain(globs)
    }

    /// The members on disk under `root`, each once (first entry first, each entry's matches
    /// sorted), never walking into folders named in `skip` (relative) or `.git`/`.runner`.
    #[must_use]
    pub fn members(&self, root: &Path, skip: &[PathBuf]) -> Vec<Member> {
        let mut out = Vec::new();
        for e in &self.exact {
            self.members_of_exact(root, Path::new(e), skip, &mut out);
        }
        for g in &self.globs {
            if !no_symlink_on_the_way(root, &g.base) {
                continue;
            }
            let mut found = Vec::new();
            walk(root, &g.base, g.depth, skip, &mut found);
            for (path, ft) in found {
                if g.matcher.is_match(&path) {
                    self.push_walked(root, path, ft, &mut out);
                }
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(out.len());
        out.retain(|m: &Member| seen.insert(m.path.clone()));
        out
    }

    /// What an entry named exactly is on disk: a file (followed), a folder (everything under
    /// it), a link that is not to a file (kept as a link), or nothing.
    fn members_of_exact(&self, root: &Path, rel: &Path, skip: &[PathBuf], out: &mut Vec<Member>) {
        if self.excluded(rel) {
            return;
        }
        let abs = root.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            return;
        };
        if meta.is_dir() {
            if !no_symlink_on_the_way(root, rel) {
                return;
            }
            let mut found = Vec::new();
            walk(root, rel, None, skip, &mut found);
            for (path, ft) in found {
                self.push_walked(root, path, ft, out);
            }
            return;
        }
        if let Some(m) = exact_member(&abs, rel.to_path_buf(), &meta) {
            out.push(m);
        }
    }

    fn push_walked(
        &self,
        root: &Path,
        path: PathBuf,
        ft: std::fs::FileType,
        out: &mut Vec<Member>,
    ) {
        if self.excluded(&path) {
            return;
        }
        let abs = root.join(&path);
        let exact = self
            .all_exact
            .iter()
            .any(|e| e.as_bytes() == path.as_os_str().as_bytes());
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            return;
        };
        if exact {
            if let Some(m) = exact_member(&abs, path, &meta) {
                out.push(m);
            }
            return;
        }
        let found = if ft.is_symlink() && meta.file_type().is_symlink() {
            match std::fs::read_link(&abs) {
                Ok(target) => Found::Link(target),
                Err(_) => return,
            }
        } else if meta.is_file() {
            Found::File {
                executable: meta.permissions().mode() & 0o111 != 0,
                size: meta.len(),
            }
        } else {
            return;
        };
        out.push(Member {
            path,
            found,
            exact: false,
        });
    }
}

/// A path named exactly, not a folder: the file it names (through a symlink too), else a link
/// kept as a link, else nothing (a fifo, a device).
fn exact_member(abs: &Path, path: PathBuf, lmeta: &std::fs::Metadata) -> Option<Member> {
    // Only a symlink needs a second look to know what it names.
    let followed = if lmeta.file_type().is_symlink() {
        std::fs::metadata(abs)
    } else {
        Ok(lmeta.clone())
    };
    let found = match followed {
        Ok(m) if m.is_file() => Found::File {
            executable: m.permissions().mode() & 0o111 != 0,
            size: m.len(),
        },
        _ if lmeta.file_type().is_symlink() => Found::Link(std::fs::read_link(abs).ok()?),
        _ => return None,
    };
    Some(Member {
        path,
        found,
        exact: true,
    })
}

/// No component of `rel` (the last one included) is a symlink: walking it cannot leave the
/// repository.
fn no_symlink_on_the_way(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        at.push(c);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return false;
        }
    }
    true
}

/// Every file and symlink under `base` (relative), sorted by bytes, up to `depth` levels
/// below it. Symlinks are listed, never followed or entered.
fn walk(
    root: &Path,
    base: &Path,
    depth: Option<usize>,
    skip: &[PathBuf],
    out: &mut Vec<(PathBuf, std::fs::FileType)>,
) {
    if depth == Some(0) {
        return;
    }
    let start = out.len();
    let mut stack = vec![(base.to_path_buf(), 1usize)];
    while let Some((dir, level)) = stack.pop() {
        let Ok(read) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in read.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            let name = entry.file_name();
            let rel = dir.join(&name);
            if ft.is_dir() {
                let deeper = depth.is_none_or(|d| level < d);
                let skipped = SKIP_NAMES.iter().any(|s| name.as_bytes() == s.as_bytes())
                    || skip.contains(&rel);
                if deeper && !skipped {
                    stack.push((rel, level + 1));
                }
            } else if ft.is_file() || ft.is_symlink() {
                out.push((rel, ft));
            }
        }
    }
    out[start..].sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(artifacts: &str) -> Gate {
        let text = format!("version = 1\n[gates.g]\nrun = \"true\"\nartifacts = {artifacts}\n");
        let dir = tempfile::tempdir().unwrap();
        crate::config::parse("gates.toml", &text, dir.path())
            .unwrap()
            .gates
            .remove(0)
    }

    #[test]
    fn members_are_files_and_links_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let outside = tempfile::tempdir().unwrap();
        for f in [
            "dist/a.js",
            "dist/sub/b.js",
            "dist/tmp/x.js",
            "cache/dist/c.js",
        ] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), f).unwrap();
        }
        std::fs::set_permissions(
            root.join("dist/a.js"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("dist/away")).unwrap();
        std::os::unix::fs::symlink("a.js", root.join("dist/alias.js")).unwrap();
        std::os::unix::fs::symlink("dist/a.js", root.join("exact.js")).unwrap();
        let g = gate(r#"["dist/**", "!dist/tmp", "exact.js", "**/c.js"]"#);
        let spec = ArtifactSpec::of(&g);
        assert!(!spec.is_exact());
        let members = spec.members(root, &[PathBuf::from("cache")]);
        let shown: Vec<(String, Found, bool)> = members
            .into_iter()
            .map(|m| (m.path.display().to_string(), m.found, m.exact))
            .collect();
        let file = |executable, size| Found::File { executable, size };
        assert_eq!(
            shown,
            [
                // A path named exactly: the file it names, through its link.
                ("exact.js".to_owned(), file(true, 9), true),
                ("dist/a.js".to_owned(), file(true, 9), false),
                (
                    "dist/alias.js".to_owned(),
                    Found::Link("a.js".into()),
                    false
                ),
                (
                    "dist/away".to_owned(),
                    Found::Link(outside.path().into()),
                    false
                ),
                ("dist/sub/b.js".to_owned(), file(false, 13), false),
            ]
        );
        assert!(spec.contains("dist/new/file"));
        assert!(!spec.contains("dist/tmp/x.js"));
        assert!(!spec.contains("dist"));
        assert!(spec.contains("exact.js"));
        assert_eq!(
            spec.entries_of("dist/c.js").collect::<Vec<_>>(),
            ["dist/**", "**/c.js"]
        );
        // The digest of an executable file found by a glob is not its content hash.
        let content = [7; 32];
        assert_eq!(file_digest(content, true, true), content);
        assert_eq!(file_digest(content, false, false), content);
        assert_ne!(file_digest(content, true, false), content);
        assert_ne!(link_digest(b"a.js"), link_digest(b"b.js"));
    }

    #[test]
    fn a_path_named_exactly_is_its_file_through_a_link_else_the_link_else_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("plain.txt"), "12345").unwrap();
        std::os::unix::fs::symlink("plain.txt", root.join("to-file")).unwrap();
        std::os::unix::fs::symlink("missing", root.join("dangling")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        let found = |name: &str| {
            let abs = root.join(name);
            let lmeta = std::fs::symlink_metadata(&abs).unwrap();
            exact_member(&abs, name.into(), &lmeta).map(|m| m.found)
        };
        let file = Some(Found::File {
            executable: false,
            size: 5,
        });
        assert_eq!(found("plain.txt"), file);
        assert_eq!(found("to-file"), file, "a link to a file is that file");
        assert_eq!(found("dangling"), Some(Found::Link("missing".into())));
        assert_eq!(found("fifo"), None);
    }

    #[test]
    fn a_glob_under_a_symlinked_folder_matches_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.js"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("dist")).unwrap();
        let g = gate(r#"["dist/**"]"#);
        assert!(ArtifactSpec::of(&g).members(tmp.path(), &[]).is_empty());
        // Named exactly, the symlinked folder is one link.
        let g = gate(r#"["dist"]"#);
        let members = ArtifactSpec::of(&g).members(tmp.path(), &[]);
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].found, Found::Link(outside.path().into()));
    }

    #[test]
    fn bases_and_depths() {
        assert_eq!(base_and_depth("dist/**"), (PathBuf::from("dist"), None));
        assert_eq!(
            base_and_depth("dist/*.js"),
            (PathBuf::from("dist"), Some(1))
        );
        assert_eq!(base_and_depth("*.js"), (PathBuf::new(), Some(1)));
        assert_eq!(base_and_depth("a/*/b.js"), (PathBuf::from("a"), Some(2)));
    }
}
