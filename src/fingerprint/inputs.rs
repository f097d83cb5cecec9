//! Expanding `inputs` globs into files: one walk per distinct base folder, shared by every gate
//! whose globs start there, and a `GlobSet` per gate matching all its patterns at once.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use super::gitignore::Ignores;
use super::listing_cache::{Entries, Kind, ListingCache};
use super::stat_cache::FileStat;
use crate::config::{Config, Gate};
use crate::diag::Diagnostic;

/// Folders never walked: VCS metadata and the runner's own state.
const SKIP_DIRS: &[&str] = &[".git", ".runner"];

/// Whether `pattern` holds `**`. A byte scan: `str::contains` with a string sets up a searcher
/// each call, which cost more than the rest of a pattern's walk key (two calls per gate).
pub(super) fn has_globstar(pattern: &str) -> bool {
    pattern.as_bytes().windows(2).any(|w| w == b"**")
}

/// How deep below its base a glob can match: `None` with `**`, else its remaining components.
fn depth_of(pattern: &str) -> Option<usize> {
    if has_globstar(pattern) {
        return None;
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    let first_wild = parts
        .iter()
        .position(|p| p.contains(['*', '?', '[', '{']))
        .unwrap_or(parts.len());
    Some(parts.len() - first_wild)
}

/// The literal folder a glob starts from (`src/**/*.rs` -> `src`), or the whole path for a
/// glob without wildcards.
fn base_of(pattern: &str) -> (PathBuf, bool) {
    let mut base = PathBuf::new();
    for part in pattern.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            return (base, true);
        }
        base.push(part);
    }
    (base, false)
}

/// Matches a path against one input pattern. Patterns of the common shape `dir/*.ext` (one
/// last component with only `*` wildcards) match by name without compiling a regex: with
/// thousands of gates, regex compilation would dominate a no-op run.
enum PathMatcher {
    /// Files directly in `dir` whose name matches the `*`-only component.
    Simple {
        dir: PathBuf,
        component: String,
    },
    Glob(globset::GlobMatcher),
}

impl PathMatcher {
    fn new(pattern: &str) -> Option<Self> {
        let (dir, last) = pattern.rsplit_once('/').unwrap_or(("", pattern));
        // `**` crosses folders (`src/**` is everything below `src`), so it is never simple:
        // matched as `*`, it silently dropped files in subfolders from the cache key.
        let simple = !dir.contains(['*', '?', '[', '{', '\\'])
            && !last.contains(['?', '[', '{', '\\'])
            && !has_globstar(last)
            && !last.is_empty();
        if simple {
            return Some(PathMatcher::Simple {
                // As `Path` comparison sees it (`a//b` and `a/./b` are `a/b`), so that
                // `is_match` can compare bytes.
                dir: Path::new(dir).components().collect(),
                component: last.to_owned(),
            });
        }
        glob(pattern).map(|g| PathMatcher::Glob(g.compile_matcher()))
    }

    fn is_match(&self, path: &Path) -> bool {
        match self {
            PathMatcher::Simple { dir, component } => {
                // By bytes (listed paths are as the walk joined them: no `.` or doubled
                // `/`), not by `Path::parent`, which parses the path's components: this runs
                // for every listed file of every gate.
                let path = path.as_os_str().as_bytes();
                let dir = dir.as_os_str().as_bytes();
                let name = if dir.is_empty() {
                    Some(path)
                } else {
                    path.strip_prefix(dir).and_then(|r| r.strip_prefix(b"/"))
                };
                // By bytes, as globset does: a name that is not UTF-8 is still a file the glob
                // covers, and must enter the key.
                name.is_some_and(|n| {
                    !n.is_empty() && !n.contains(&b'/') && star_match(component.as_bytes(), n)
                })
            }
            PathMatcher::Glob(m) => m.is_match(path),
        }
    }
}

/// Does `name` match `pattern`, where `*` matches any run of bytes (no other wildcards)?
fn star_match(pattern: &[u8], name: &[u8]) -> bool {
    let mut parts = pattern.split(|b| *b == b'*');
    let first = parts.next().unwrap_or(b"");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&[u8]> = parts.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle.iter().filter(|p| !p.is_empty()) {
        match rest.windows(piece.len()).position(|w| w == *piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn glob(pattern: &str) -> Option<Glob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
}

/// Every file under `base` (relative to `root`), sorted; folders in `skip` are not entered.
/// Symlinked folders are not followed (no loops); symlinked files are listed. With a listing
/// cache, an unchanged folder costs one `stat` instead of being read.
fn walk(
    io: Io<'_>,
    base: &Path,
    depth: Option<usize>,
    skip: &[PathBuf],
    cache: Option<&ListingCache>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if depth == Some(0) {
        return out;
    }
    let mut stack = vec![(base.to_path_buf(), 1usize)];
    while let Some((dir, level)) = stack.pop() {
        let read;
        let entries = match cache {
            Some(cache) => match cached_list(io, &dir, cache) {
                Some(Listed::Cached(e)) => e,
                Some(Listed::Read(e)) => {
                    read = e;
                    &read
                }
                None => continue,
            },
            None => match list(io, &dir) {
                Some((e, _)) => {
                    read = e;
                    &read
                }
                None => continue,
            },
        };
        for (kind, name) in entries.iter() {
            let rel = dir.join(name);
            match kind {
                Kind::Dir => {
                    let deeper = depth.is_none_or(|d| level < d);
                    if deeper && !SKIP_DIRS.iter().any(|s| name == *s) && !skip.contains(&rel) {
                        stack.push((rel, level + 1));
                    }
                }
                Kind::File => out.push(rel),
            }
        }
    }
    sort_paths(&mut out);
    out
}

/// Where folders are read from: the root, or, when it is the working folder, paths relative to
/// it as they are (`super::io_path`).
#[derive(Clone, Copy)]
struct Io<'a> {
    root: &'a Path,
    root_is_cwd: bool,
}

impl Io<'_> {
    fn path<'p>(&self, rel: &'p Path) -> Cow<'p, Path> {
        super::io_path(self.root_is_cwd, self.root, rel)
    }
}

enum Listed<'a> {
    Cached(&'a Entries),
    Read(Entries),
}

/// `dir`'s entries from the cache when its stat is unchanged, else read (and recorded unless
/// it holds a symlink). `None`: not a readable folder.
fn cached_list<'a>(io: Io<'_>, dir: &Path, cache: &'a ListingCache) -> Option<Listed<'a>> {
    // Followed, as `read_dir` follows a symlinked base: the stat is the folder's own.
    let Ok(meta) = std::fs::metadata(io.path(dir)) else {
        cache.forget(dir);
        return None;
    };
    let stat = FileStat::of(&meta);
    if let Some(e) = cache.get(dir, &stat) {
        return Some(Listed::Cached(e));
    }
    // Stat first, then read: the recorded entries are at least as new as the recorded stat.
    let Some((entries, symlinks)) = list(io, dir) else {
        cache.forget(dir);
        return None;
    };
    if symlinks {
        cache.forget(dir);
    } else {
        cache.record(dir, stat, entries.clone());
    }
    Some(Listed::Read(entries))
}

/// Read `dir`: its files (symlinks to files included) and folders, and whether it holds a
/// symlink.
fn list(io: Io<'_>, dir: &Path) -> Option<(Entries, bool)> {
    let path = io.path(dir);
    let read = std::fs::read_dir(&path).ok()?;
    let mut entries = Entries::default();
    let mut symlinks = false;
    for entry in read.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let name = entry.file_name();
        if ft.is_dir() {
            entries.push(Kind::Dir, &name);
        } else if ft.is_file() {
            entries.push(Kind::File, &name);
        } else if ft.is_symlink() {
            symlinks = true;
            if path.join(&name).is_file() {
                entries.push(Kind::File, &name);
            }
        }
    }
    Some((entries, symlinks))
}

/// Sort and deduplicate paths by their bytes: comparing `Path`s component by component showed
/// as a third of a no-op run's instructions at 2,000 gates. Any total order will do: keys sort
/// their inputs again by string.
pub fn sort_paths(paths: &mut Vec<PathBuf>) {
    paths.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    paths.dedup_by(|a, b| a.as_os_str() == b.as_os_str());
}

/// Expanded inputs of the gates asked for: each gate's files, relative, sorted.
pub struct ExpandedInputs {
    /// Gate index -> its input files, relative to the config folder, sorted and deduplicated.
    /// A gate whose one glob matched its whole folder listing shares that listing: at 100,000
    /// gates that is 400,000 paths not copied.
    files: HashMap<usize, Arc<[PathBuf]>>,
}

impl ExpandedInputs {
    /// Gate `g`'s input files; None when it was not expanded (not selected).
    #[must_use]
    pub fn get(&self, g: usize) -> Option<&[PathBuf]> {
        self.files.get(&g).map(|f| &f[..])
    }

    /// Gate `g`'s input files; none when it was not expanded.
    #[must_use]
    pub fn of(&self, g: usize) -> &[PathBuf] {
        self.get(g).unwrap_or_default()
    }

    /// Every expanded gate's files, a file as many times as gates read it.
    pub fn all_files(&self) -> impl Iterator<Item = &Path> {
        self.files
            .values()
            .flat_map(|f| f.iter().map(PathBuf::as_path))
    }
}

/// Expand the inputs of `gates` (indices into `config.gates`). A positive glob that matches no
/// file is a config error unless the gate sets `allow_empty = true`.
pub fn expand(config: &Config, gates: &BTreeSet<usize>) -> Result<ExpandedInputs, Vec<Diagnostic>> {
    expand_with(config, gates, None)
}

/// `expand`, serving unchanged folders from `listings` and recording the ones it reads.
pub fn expand_cached(
    config: &Config,
    gates: &BTreeSet<usize>,
    listings: &ListingCache,
) -> Result<ExpandedInputs, Vec<Diagnostic>> {
    expand_with(config, gates, Some(listings))
}

fn expand_with(
    config: &Config,
    gates: &BTreeSet<usize>,
    cache: Option<&ListingCache>,
) -> Result<ExpandedInputs, Vec<Diagnostic>> {
    let root = &config.root;
    let skip: Vec<PathBuf> = [&config.settings.cache_dir]
        .iter()
        .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    let io = Io {
        root,
        root_is_cwd: super::root_is_cwd(root),
    };
    // Distinct walk bases across all gates, walked in parallel.
    let mut bases: Vec<WalkKey> = Vec::new();
    for &g in gates {
        let gate = &config.gates[g];
        for input in gate.inputs.iter().filter(|i| !i.exclude) {
            bases.push(walk_key(root, &input.pattern));
        }
        for (_, glob) in kind_globs(gate).filter(|(_, g)| !g.starts_with('!')) {
            bases.push(walk_key(root, glob));
        }
    }
    bases.sort_unstable();
    bases.dedup();
    // One walk or one gate (the re-expansion after each gate of a run) is done on this thread:
    // handing it to the pool costs two thread wake-ups and a wait, for no parallelism.
    let walk_one = |(b, d): WalkKey| {
        let files = walk(io, Path::new(&b), d, &skip, cache);
        ((b, d), Arc::<[PathBuf]>::from(files))
    };
    let listings: Listings = if bases.len() > 1 {
        bases.into_par_iter().map(&walk_one).collect()
    } else {
        bases.into_iter().map(&walk_one).collect()
    };

    // .gitignore rules, only when a selected gate respects them.
    let ignores = if gates.iter().any(|&g| config.gates[g].gitignore) {
        Ignores::load(
            root,
            listings
                .values()
                .flat_map(|l| l.iter().map(PathBuf::as_path)),
            listings.keys().map(|(b, _)| Path::new(b.as_os_str())),
        )
    } else {
        None
    };
    type Expanded = (usize, Result<Arc<[PathBuf]>, Vec<Diagnostic>>);
    let expand_one = |&g: &usize| {
        let gate = &config.gates[g];
        let ignores = ignores.as_ref().filter(|_| gate.gitignore);
        (g, expand_gate(config, gate, &listings, ignores))
    };
    let results: Vec<Expanded> = if gates.len() > 1 {
        gates.par_iter().map(&expand_one).collect()
    } else {
        gates.iter().map(&expand_one).collect()
    };
    let mut files = HashMap::with_capacity(results.len());
    let mut diags = Vec::new();
    for (g, r) in results {
        match r {
            Ok(f) => {
                files.insert(g, f);
            }
            Err(d) => diags.extend(d),
        }
    }
    if diags.is_empty() {
        Ok(ExpandedInputs { files })
    } else {
        Err(diags)
    }
}

/// A walk: its base folder (as bytes, cheap to hash and compare) and depth limit.
type WalkKey = (std::ffi::OsString, Option<usize>);
type Listings = crate::fasthash::FastMap<WalkKey, Arc<[PathBuf]>>;

/// Which walk serves a pattern: its base folder and depth (a literal folder: everything under it).
fn walk_key(root: &Path, pattern: &str) -> WalkKey {
    let (base, wild) = base_of(pattern);
    walk_key_of(root, pattern, base, wild)
}

/// `walk_key` for a pattern whose `base_of` is known.
fn walk_key_of(root: &Path, pattern: &str, base: PathBuf, wild: bool) -> WalkKey {
    if wild {
        (base.into_os_string(), depth_of(pattern))
    } else if root.join(&base).is_dir() {
        (base.into_os_string(), None)
    } else {
        (base.into_os_string(), Some(0))
    }
}

/// The globs of a gate's kind (`invalid` of a schema gate), with their index in that key's list.
fn kind_globs(gate: &Gate) -> impl Iterator<Item = (usize, &str)> {
    gate.kind
        .input_globs()
        .map_or(&[][..], |(_, globs)| globs)
        .iter()
        .map(String::as_str)
        .enumerate()
}

fn glob_set<'p>(patterns: impl Iterator<Item = &'p str>) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    let mut any = false;
    for pattern in patterns {
        if let Some(g) = glob(pattern) {
            builder.add(g);
            any = true;
        }
    }
    if any {
        builder.build().unwrap_or_else(|_| GlobSet::empty())
    } else {
        GlobSet::empty()
    }
}

/// Add the files `pattern` matches to `found` (minus `excludes`, and minus what `ignores`
/// says git ignores, unless the pattern names the file exactly); whether it matched any file.
///
/// With `whole` (the gate's only glob), a glob that matches every file of its listing, none
/// excluded or ignored, gives the listing itself back, shared, and pushes nothing.
fn expand_glob(
    config: &Config,
    pattern: &str,
    excludes: &GlobSet,
    listings: &Listings,
    ignores: Option<&Ignores>,
    found: &mut Vec<PathBuf>,
    whole: Option<&mut Option<Arc<[PathBuf]>>>,
) -> bool {
    let (base, wild) = base_of(pattern);
    let mut matched_any = false;
    if let Some(listing) = listings
        .get(&walk_key_of(&config.root, pattern, base.clone(), wild))
        .filter(|_| wild || config.root.join(&base).is_dir())
    {
        // A literal folder means everything under it.
        let matcher = if wild {
            PathMatcher::new(pattern)
        } else {
            glob(&format!("{}/**", pattern.trim_end_matches('/')))
                .map(|g| PathMatcher::Glob(g.compile_matcher()))
        };
        if let Some(m) = matcher {
            if let Some(whole) = whole
                && excludes.is_empty()
                && ignores.is_none()
                && !listing.is_empty()
                && listing.iter().all(|f| m.is_match(f))
            {
                *whole = Some(Arc::clone(listing));
                return true;
            }
            for f in listing.iter().filter(|f| m.is_match(f)) {
                matched_any = true;
                if !excludes.is_match(f) && !ignores.is_some_and(|i| i.ignored(f)) {
                    found.push(f.clone());
                }
            }
        }
    } else if !wild && config.root.join(&base).is_file() {
        matched_any = true;
        if !excludes.is_match(&base) {
            found.push(base);
        }
    }
    matched_any
}

fn expand_gate(
    config: &Config,
    gate: &Gate,
    listings: &Listings,
    ignores: Option<&Ignores>,
) -> Result<Arc<[PathBuf]>, Vec<Diagnostic>> {
    let excludes = glob_set(
        gate.inputs
            .iter()
            .filter(|i| i.exclude)
            .map(|i| i.pattern.as_str()),
    );
    let mut found: Vec<PathBuf> = Vec::new();
    let mut diags = Vec::new();
    // One glob and no kind globs (the common `in/g1/*.txt`): its listing may be the answer.
    let positive = gate.inputs.iter().filter(|i| !i.exclude).count();
    let mut whole = None;
    let share = positive == 1 && gate.kind.input_globs().is_none();
    for input in gate.inputs.iter().filter(|i| !i.exclude) {
        let matched_any = expand_glob(
            config,
            &input.pattern,
            &excludes,
            listings,
            ignores,
            &mut found,
            share.then_some(&mut whole),
        );
        if !matched_any && !gate.allow_empty {
            diags.push(
                Diagnostic::new(
                    &config.file_name,
                    Some(input.span.clone()),
                    format!(
                        "input `{}` of gate `{}` matches no file",
                        input.pattern, gate.name
                    ),
                )
                .with_help(
                    "fix the glob, create the file, or set `allow_empty = true` on the gate",
                ),
            );
        }
    }
    // The kind's own globs: their own exclusions, and the same rule for a glob matching nothing.
    if let Some((key, _)) = gate.kind.input_globs() {
        let excludes = glob_set(kind_globs(gate).filter_map(|(_, g)| g.strip_prefix('!')));
        for (index, pattern) in kind_globs(gate).filter(|(_, g)| !g.starts_with('!')) {
            let matched_any =
                expand_glob(config, pattern, &excludes, listings, None, &mut found, None);
            if !matched_any && !gate.allow_empty {
                let span = item_span(&config.source_text(), &gate.name, key, index)
                    .unwrap_or_else(|| gate.span.clone());
                diags.push(
                    Diagnostic::new(
                        &config.file_name,
                        Some(span),
                        format!(
                            "`{key}` glob `{pattern}` of gate `{}` matches no file",
                            gate.name
                        ),
                    )
                    .with_help(
                        "fix the glob, create the file, or set `allow_empty = true` on the gate",
                    ),
                );
            }
        }
    }
    if let Some(whole) = whole {
        // Walk listings are sorted and deduplicated already (`walk`).
        Ok(whole)
    } else if diags.is_empty() {
        sort_paths(&mut found);
        Ok(found.into())
    } else {
        Err(diags)
    }
}

/// Where item `index` of `key` in gate `gate` is written in the config text (the key's value
/// when it is not an array). Found again from the text, only when a message needs it: a kind's
/// settings carry no spans, since they are its cache key.
fn item_span(source: &str, gate: &str, key: &str, index: usize) -> Option<std::ops::Range<usize>> {
    let doc = toml::de::DeTable::parse(source).ok()?;
    let gates = doc.get_ref().get("gates")?.get_ref().as_table()?;
    let value = gates.get(gate)?.get_ref().as_table()?.get(key)?;
    match value.get_ref().as_array() {
        Some(items) => items.get(index).map(toml::Spanned::span),
        None => Some(value.span()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write each file (folders made as needed) under `root`, holding `content`.
    fn write_files(root: &Path, files: &[&str], content: &str) {
        for f in files {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), content).unwrap();
        }
    }

    #[test]
    fn globstar_is_found_anywhere_and_only_as_two_stars() {
        for p in ["**", "src/**", "**/x.rs", "a/**/b", "a**"] {
            assert!(has_globstar(p), "{p}");
        }
        for p in ["", "*", "src/*.rs", "a/*/b/*", "*/*"] {
            assert!(!has_globstar(p), "{p}");
        }
        assert_eq!(depth_of("in/*/x/*.txt"), Some(3));
        assert_eq!(depth_of("in/**/x.txt"), None);
    }

    #[test]
    fn bases() {
        assert_eq!(base_of("src/**/*.rs"), (PathBuf::from("src"), true));
        assert_eq!(base_of("*.md"), (PathBuf::new(), true));
        assert_eq!(base_of("a/b/c.txt"), (PathBuf::from("a/b/c.txt"), false));
        assert_eq!(base_of("in/g1/*.txt"), (PathBuf::from("in/g1"), true));
        assert_eq!(depth_of("in/g1/*.txt"), Some(1));
        assert_eq!(depth_of("*/x/*.txt"), Some(3));
        assert_eq!(depth_of("src/**/*.rs"), None);
    }

    #[test]
    fn simple_patterns_match_like_globs() {
        for (pattern, path, want) in [
            ("in/g1/*.txt", "in/g1/f0.txt", true),
            ("in/g1/*.txt", "in/g1/sub/f0.txt", false),
            ("in/g1/*.txt", "in/g1/f0.txtx", false),
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("a/*", "a/x", true),
            ("a/f*o*.rs", "a/foo.rs", true),
            ("a/f*o*.rs", "a/fxx.rs", false),
            ("a/*.*", "a/noext", false),
            ("a/**/b.rs", "a/x/y/b.rs", true),
            ("src/**", "src/a/b.txt", true),
            ("src/**", "src/top.txt", true),
            ("in/g1/*.txt", "in/g10/f0.txt", false),
            ("in/g1/*.txt", "in/g1", false),
            ("in/*.txt", "in/a/b.txt", false),
        ] {
            let m = PathMatcher::new(pattern).unwrap();
            assert_eq!(m.is_match(Path::new(path)), want, "{pattern} vs {path}");
            let g = glob(pattern).unwrap().compile_matcher();
            assert_eq!(
                g.is_match(path),
                want,
                "globset agrees: {pattern} vs {path}"
            );
        }
    }

    #[test]
    fn simple_patterns_match_names_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt as _;
        let name = Path::new(std::ffi::OsStr::from_bytes(b"in/f\xff.txt"));
        assert!(PathMatcher::new("in/*.txt").unwrap().is_match(name));
        assert!(PathMatcher::new("in/*").unwrap().is_match(name));
        assert!(!PathMatcher::new("in/*.md").unwrap().is_match(name));
    }

    #[test]
    fn cached_walks_list_what_reading_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_files(
            root,
            &[
                "src/a.txt",
                "src/sub/b.txt",
                "src/sub/deeper/c.txt",
                "src/.git/x",
            ],
            "x",
        );
        std::os::unix::fs::symlink("a.txt", root.join("src/link.txt")).unwrap();
        std::os::unix::fs::symlink("nope", root.join("src/dangling.txt")).unwrap();
        let cache_path = root.join("cache/listing-cache.bin");
        let base = Path::new("src");
        for _ in 0..3 {
            let c = ListingCache::load(&cache_path);
            for depth in [None, Some(1), Some(2)] {
                assert_eq!(
                    walk(
                        Io {
                            root,
                            root_is_cwd: false
                        },
                        base,
                        depth,
                        &[],
                        Some(&c)
                    ),
                    walk(
                        Io {
                            root,
                            root_is_cwd: false
                        },
                        base,
                        depth,
                        &[],
                        None
                    ),
                    "{depth:?}"
                );
            }
            c.save().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            walk(
                Io {
                    root,
                    root_is_cwd: false
                },
                base,
                None,
                &[],
                None
            ),
            [
                "src/a.txt",
                "src/link.txt",
                "src/sub/b.txt",
                "src/sub/deeper/c.txt"
            ]
            .map(PathBuf::from)
        );
        let c = ListingCache::load(&cache_path);
        let stat = |d: &str| FileStat::of(&std::fs::metadata(root.join(d)).unwrap());
        assert!(c.get(Path::new("src/sub"), &stat("src/sub")).is_some());
        assert!(
            c.get(base, &stat("src")).is_none(),
            "a folder holding a symlink is never recorded"
        );
    }

    #[test]
    fn kind_globs_join_the_inputs_and_must_match_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_files(
            root,
            &["s.json", "docs/a.json", "bad/x.json", "bad/keep.json"],
            "{}",
        );
        let gate = "version = 1\n[gates.\"s.v\"]\nkind = \"schema\"\nschema = \"s.json\"\ninputs = [\"docs/*.json\"]\n";
        let text = format!("{gate}invalid = [\"bad/*.json\", \"!bad/keep.json\"]\n");
        let config = crate::config::parse("gates.toml", &text, root).unwrap();
        let expanded = expand(&config, &BTreeSet::from([0])).unwrap();
        assert_eq!(
            expanded.of(0),
            ["bad/x.json", "docs/a.json"].map(PathBuf::from)
        );

        let text = format!("{gate}invalid = [\"bad/*.json\", \"none/*.json\"]\n");
        let config = crate::config::parse("gates.toml", &text, root).unwrap();
        let Err(diags) = expand(&config, &BTreeSet::from([0])) else {
            panic!("a glob of `invalid` matching nothing must be an error");
        };
        assert_eq!(diags.len(), 1, "{diags:?}");
        let span = diags[0].span.clone().unwrap();
        assert_eq!(&text[span], "\"none/*.json\"");
        assert_eq!(
            diags[0].message,
            "`invalid` glob `none/*.json` of gate `s.v` matches no file"
        );

        let text = format!("{gate}invalid = \"none/*.json\"\nallow_empty = true\n");
        let config = crate::config::parse("gates.toml", &text, root).unwrap();
        let expanded = expand(&config, &BTreeSet::from([0])).unwrap();
        assert_eq!(expanded.of(0), ["docs/a.json"].map(PathBuf::from));
    }

    #[test]
    fn a_glob_matching_its_whole_folder_shares_the_listing_and_others_are_filtered() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_files(
            root,
            &[
                "in/a/f0.txt",
                "in/a/f1.txt",
                "in/b/x.txt",
                "in/b/y.json",
                "in/b/z.txt",
            ],
            "x",
        );
        let text = "version = 1
[gates.whole]
run = \"true\"
inputs = [\"in/a/*.txt\"]
[gates.same]
run = \"true\"
inputs = [\"in/a/*.txt\"]
[gates.part]
run = \"true\"
inputs = [\"in/b/*.txt\"]
[gates.first_missing]
run = \"true\"
inputs = [\"in/b/*.json\"]
[gates.excluded]
run = \"true\"
inputs = [\"in/a/*.txt\", \"!in/a/f1.txt\"]
[gates.two]
run = \"true\"
inputs = [\"in/a/*.txt\", \"in/b/y.json\"]
";
        let config = crate::config::parse("gates.toml", text, root).unwrap();
        let index = |name: &str| config.gates.iter().position(|g| g.name == name).unwrap();
        let all: BTreeSet<usize> = (0..config.gates.len()).collect();
        let expanded = expand(&config, &all).unwrap();
        let files = |name: &str| expanded.of(index(name)).to_vec();
        let paths = |p: &[&str]| p.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(files("whole"), paths(&["in/a/f0.txt", "in/a/f1.txt"]));
        assert!(
            Arc::ptr_eq(
                &expanded.files[&index("whole")],
                &expanded.files[&index("same")]
            ),
            "two gates whose one glob matches all of a folder share its listing"
        );
        assert_eq!(files("part"), paths(&["in/b/x.txt", "in/b/z.txt"]));
        assert_eq!(files("first_missing"), paths(&["in/b/y.json"]));
        assert_eq!(files("excluded"), paths(&["in/a/f0.txt"]));
        assert_eq!(
            files("two"),
            paths(&["in/a/f0.txt", "in/a/f1.txt", "in/b/y.json"])
        );
    }

    #[test]
    fn star_does_not_cross_folders() {
        let m = glob("src/*.rs").unwrap().compile_matcher();
        assert!(m.is_match("src/a.rs"));
        assert!(!m.is_match("src/x/a.rs"));
        let m = glob("src/**/*.rs").unwrap().compile_matcher();
        assert!(m.is_match("src/x/y/a.rs"));
        assert!(m.is_match("src/a.rs"));
    }
}
