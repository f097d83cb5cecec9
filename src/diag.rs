//! User-facing diagnostics: `file:LINE:COL: message`, the source line with a caret, and help.
//!
//! Rendered by hand rather than through a report framework so the first line is exactly
//! `gates.toml:3:7: message`, which editors and CI log parsers recognise as a location.

use std::fmt::{self, Write as _};
use std::ops::Range;

/// One problem in a file the user wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (for example `gates.toml`).
    pub file: String,
    /// Byte range in `source`; `None` when the problem has no place (a missing file).
    pub span: Option<Range<usize>>,
    /// What is wrong, in one line.
    pub message: String,
    /// How to fix it, when we know.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem in `file` at `span` (None: no place), without help.
    #[must_use]
    pub fn new(file: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            span,
            message: message.into(),
            help: None,
        }
    }

    /// Add how to fix it.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column of the span's start in `source`.
    #[must_use]
    pub fn line_col(&self, source: &str) -> Option<(usize, usize)> {
        self.span.as_ref().map(|s| line_col(source, s.start))
    }

    /// Render with the offending line of `source` and a caret under the span.
    #[must_use]
    pub fn render(&self, source: &str) -> String {
        let mut out = String::new();
        let Some(span) = &self.span else {
            let _ = writeln!(out, "{}: {}", self.file, self.message);
            if let Some(help) = &self.help {
                let _ = writeln!(out, "  = help: {help}");
            }
            return out;
        };
        let (line, col) = line_col(source, span.start);
        let _ = writeln!(out, "{}:{line}:{col}: {}", self.file, self.message);
        let text = source.lines().nth(line - 1).unwrap_or("");
        let gutter = " ".repeat(line.to_string().len());
        let line_start = span.start - (col_bytes(source, span.start));
        let line_end = line_start + text.len();
        // `lines()` drops the `\r` of a `\r\n`, so a span can start past the shown text (a TOML
        // error at that `\r`, found by fuzzing): then the caret goes just after the text. A
        // `clamp` here panicked when the line ended before the span began.
        let end = span.end.min(line_end).max(span.start);
        let caret_at = text
            .get(..(span.start - line_start).min(text.len()))
            .map_or(0, |s| s.chars().count());
        let width = source
            .get(span.start..end)
            .map_or(1, |s| s.chars().count())
            .max(1);
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{line} | {text}");
        let _ = writeln!(
            out,
            "{gutter} | {}{}",
            " ".repeat(caret_at),
            "^".repeat(width)
        );
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{gutter} = help: {help}");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// Byte offset of `pos` from the start of its line.
fn col_bytes(source: &str, pos: usize) -> usize {
    let pos = pos.min(source.len());
    pos - source[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// 1-based line and column (in characters) of byte offset `pos`.
#[must_use]
pub fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(source.len());
    let before = &source[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Help text for an unknown name: a suggestion when one is close, else the known names.
#[must_use]
pub fn suggest(word: &str, known: &[&str]) -> String {
    match did_you_mean(word, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "nothing of that kind is defined".to_owned(),
        None if known.len() <= 12 => format!("expected one of: {}", known.join(", ")),
        None => format!(
            "expected one of: {}, ... ({} in all)",
            known[..12].join(", "),
            known.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 8), (2, 3));
    }

    #[test]
    fn render_points_at_the_span() {
        let src = "version = 1\n[gates.a]\nneds = []\n";
        let d = Diagnostic::new("gates.toml", Some(22..26), "unknown key `neds` in gate `a`")
            .with_help("did you mean `needs`?");
        let text = d.render(src);
        assert_eq!(
            text,
            "gates.toml:3:1: unknown key `neds` in gate `a`\n  |\n3 | neds = []\n  | ^^^^\n  = help: did you mean `needs`?\n"
        );
    }

    #[test]
    fn render_survives_a_span_on_the_carriage_return_of_a_crlf() {
        // Fuzzing found it (fuzz/regressions/config_load/diag-render-span-at-crlf).
        let src = "\"\r\n\nx = 1\n";
        for span in [1..2, 1..5, 2..3, 2..2, 9..9, 30..40] {
            let text = Diagnostic::new("gates.toml", Some(span.clone()), "bad").render(src);
            assert!(text.starts_with("gates.toml:"), "{span:?}: {text}");
        }
        let text = Diagnostic::new("gates.toml", Some(1..2), "bad").render(src);
        assert_eq!(text, "gates.toml:1:2: bad\n  |\n1 | \"\n  |  ^\n");
    }

    #[test]
    fn suggestions_are_close_or_absent() {
        assert_eq!(did_you_mean("neds", ["needs", "inputs"]), Some("needs"));
        assert_eq!(did_you_mean("zzzz", ["needs", "inputs"]), None);
        assert_eq!(did_you_mean("buidl", ["build", "test"]), Some("build"));
    }
}
