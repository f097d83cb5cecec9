//! Whether two globs can match one path, and whether an exclusion takes away all a glob
//! matches: for the config error of an artifact its own inputs match (SPEC 10a), decided on
//! the patterns alone, before anything exists on disk.

use super::model::is_glob;

fn glob(pattern: &str) -> Option<globset::Glob> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
}

/// Can two globs (or paths; a path named exactly also stands for everything under it) match
/// one path? Decided on components: `**` spans any number of them; two components with
/// wildcards meet when only `*` is used and their fixed starts and ends agree, and are
/// assumed to meet otherwise (`?`, `[...]`, `{...}`): a false "yes" only asks for a narrower
/// glob.
#[must_use]
pub(super) fn may_overlap(a: &str, b: &str) -> bool {
    let alternatives = |p: &str| {
        let mut v = vec![p.to_owned()];
        if !is_glob(p) {
            v.push(format!("{p}/**"));
        }
        v
    };
    alternatives(a).iter().any(|x| {
        alternatives(b).iter().any(|y| {
            let xs: Vec<&str> = x.split('/').collect();
            let ys: Vec<&str> = y.split('/').collect();
            meet(&xs, &ys)
        })
    })
}

fn meet(a: &[&str], b: &[&str]) -> bool {
    match (a.first(), b.first()) {
        (None, None) => true,
        (Some(&"**"), _) => meet(&a[1..], b) || (!b.is_empty() && meet(a, &b[1..])),
        (_, Some(&"**")) => meet(a, &b[1..]) || (!a.is_empty() && meet(&a[1..], b)),
        (None, _) | (_, None) => false,
        (Some(x), Some(y)) => component_meet(x, y) && meet(&a[1..], &b[1..]),
    }
}

fn component_meet(a: &str, b: &str) -> bool {
    match (is_glob(a), is_glob(b)) {
        (false, false) => a == b,
        (true, false) => glob(a).is_some_and(|g| g.compile_matcher().is_match(b)),
        (false, true) => glob(b).is_some_and(|g| g.compile_matcher().is_match(a)),
        (true, true) => {
            let star_only = |s: &str| !s.contains(['?', '[', '{', '\\']);
            if !(star_only(a) && star_only(b)) {
                return true;
            }
            let (a_start, a_end) = fixed_ends(a);
            let (b_start, b_end) = fixed_ends(b);
            (a_start.starts_with(b_start) || b_start.starts_with(a_start))
                && (a_end.ends_with(b_end) || b_end.ends_with(a_end))
        }
    }
}

/// The text before the first `*` and after the last one.
fn fixed_ends(s: &str) -> (&str, &str) {
    let start = s.split('*').next().unwrap_or("");
    let end = s.rsplit('*').next().unwrap_or("");
    (start, end)
}

/// Does the exclusion `exclude` take away everything `pattern` can match (so an overlap with
/// `pattern` is no overlap)? True when `pattern` lies at or under `exclude`'s folder (a path,
/// or a path followed by `/**`), or when `pattern` is a path that `exclude` matches.
#[must_use]
pub(super) fn excludes_all_of(exclude: &str, pattern: &str) -> bool {
    if exclude == pattern {
        return true;
    }
    let folder = exclude.strip_suffix("/**").unwrap_or(exclude);
    if !is_glob(folder) {
        let folder: Vec<&str> = folder.split('/').collect();
        let fixed: Vec<&str> = pattern.split('/').take_while(|c| !is_glob(c)).collect();
        return fixed.len() >= folder.len() && fixed[..folder.len()] == folder[..];
    }
    !is_glob(pattern) && glob(exclude).is_some_and(|g| g.compile_matcher().is_match(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps() {
        for (a, b, want) in [
            ("src/**", "src/gen/**", true),
            ("src/**/*.rs", "src/gen", true),
            ("src/*.rs", "src/*.js", false),
            ("src/*.rs", "dist/**", false),
            ("dist/**", "dist", true),
            ("coverage", "src/**/*.rs", false),
            ("**/*.rs", "out/**", true),
            ("a/*/c", "a/b/*", true),
            ("a/x*", "a/y*", false),
            ("a/*x", "a/*y", false),
            ("a/f?o", "a/*.js", true),
            ("README.md", "dist/**", false),
            ("out/a.txt", "out/a.txt", true),
            ("out", "out/a.txt", true),
        ] {
            assert_eq!(may_overlap(a, b), want, "{a} vs {b}");
            assert_eq!(may_overlap(b, a), want, "{b} vs {a}");
        }
    }

    #[test]
    fn exclusions_that_cover() {
        for (e, p, want) in [
            ("dist/tmp/**", "dist/tmp/**", true),
            ("dist/tmp", "dist/tmp/*.js", true),
            ("dist/tmp/**", "dist/tmp/x.js", true),
            ("dist", "dist", true),
            ("dist/tmp/**", "dist/**", false),
            ("*.gen.rs", "src/a.gen.rs", false),
            ("src/*.gen.rs", "src/a.gen.rs", true),
            ("src/*.gen.rs", "src/*.rs", false),
        ] {
            assert_eq!(excludes_all_of(e, p), want, "{e} covers {p}");
        }
    }
}
