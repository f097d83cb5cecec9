//! The documents a schema gate's `invalid` lists: matched as the expansion of `inputs` matches.

use std::path::Path;

/// Matches the documents that `invalid` lists, as the inputs' expansion does: `*` stays within
/// a folder, a literal folder means everything under it, `!` excludes.
pub(super) struct InvalidSet {
    include: globset::GlobSet,
    exclude: globset::GlobSet,
}

impl InvalidSet {
    pub(super) fn new(globs: &[String]) -> Self {
        let mut include = globset::GlobSetBuilder::new();
        let mut exclude = globset::GlobSetBuilder::new();
        for glob in globs {
            let (builder, pattern) = match glob.strip_prefix('!') {
                Some(pattern) => (&mut exclude, pattern),
                None => (&mut include, glob.as_str()),
            };
            let literal = !pattern.contains(['*', '?', '[', '{']);
            let folder = format!("{}/**", pattern.trim_end_matches('/'));
            let patterns = if literal {
                vec![pattern, folder.as_str()]
            } else {
                vec![pattern]
            };
            for pattern in patterns {
                if let Ok(glob) = globset::GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                {
                    builder.add(glob);
                }
            }
        }
        InvalidSet {
            include: include
                .build()
                .unwrap_or_else(|_| globset::GlobSet::empty()),
            exclude: exclude
                .build()
                .unwrap_or_else(|_| globset::GlobSet::empty()),
        }
    }

    pub(super) fn contains(&self, path: &Path) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_globs_match_like_inputs() {
        let set = InvalidSet::new(&[
            "bad/*.json".to_owned(),
            "!bad/keep.json".to_owned(),
            "worse".to_owned(),
        ]);
        for (path, expected) in [
            ("bad/a.json", true),
            ("bad/keep.json", false),
            ("bad/sub/a.json", false),
            ("bad/a.yaml", false),
            ("worse", true),
            ("worse/deep/x.json", true),
            ("good/a.json", false),
        ] {
            assert_eq!(set.contains(Path::new(path)), expected, "{path}");
        }
    }
}
