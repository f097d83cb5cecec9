//! The summary rule: a finding's one-line title from a longer text.

/// Longest title, in Unicode scalar values.
const MAX_TITLE: usize = 100;

/// The title of a finding from `text` (already trimmed and not empty): its first line, cut
/// before the first `". "`, without one trailing `.`, trimmed, and at most 100 characters
/// (the first 97 and `...` when longer).
///
/// When the cuts leave nothing (the text starts with `". "` or is just `.`), the first line
/// is used whole, so that a title is never empty.
#[must_use]
pub(crate) fn summary(text: &str) -> String {
    let text = text.trim();
    let first_line = text.split(['\n', '\r']).next().unwrap_or(text);
    let sentence = first_line.split(". ").next().unwrap_or(first_line);
    let sentence = sentence.strip_suffix('.').unwrap_or(sentence).trim();
    let title = if sentence.is_empty() {
        first_line.trim_end()
    } else {
        sentence
    };
    if title.chars().count() > MAX_TITLE {
        let mut cut: String = title.chars().take(MAX_TITLE - 3).collect();
        cut.push_str("...");
        cut
    } else {
        title.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let long = "x".repeat(150);
        let hundred = "y".repeat(100);
        let hundred_one = "z".repeat(101);
        let accents = "é".repeat(120);
        let cases: Vec<(&str, String)> = vec![
            (
                "The node registry has no production deployment path. Only the in-memory dev stub exists.",
                "The node registry has no production deployment path".into(),
            ),
            ("One sentence.", "One sentence".into()),
            ("  padded sentence.  ", "padded sentence".into()),
            ("No full stop", "No full stop".into()),
            // Only one trailing full stop goes.
            ("Ellipsis...", "Ellipsis..".into()),
            // A full stop not followed by a space does not end the sentence.
            (
                "Version 0.5 is used.Really",
                "Version 0.5 is used.Really".into(),
            ),
            ("Uses v1.2. Then more", "Uses v1.2".into()),
            ("First line\nsecond line. More", "First line".into()),
            ("First line.\r\nsecond", "First line".into()),
            (
                "Trailing space before stop .",
                "Trailing space before stop".into(),
            ),
            // The sentence is cut before the trailing full stop is removed.
            ("Two stops.. Then", "Two stops".into()),
            ("Stop then space. \nNext", "Stop then space".into()),
            // Nothing left after the cuts: the first line whole.
            (".", ".".into()),
            (". Starts with a stop", ". Starts with a stop".into()),
            (&hundred, hundred.clone()),
            (&hundred_one, format!("{}...", "z".repeat(97))),
            (&long, format!("{}...", "x".repeat(97))),
            // Characters, not bytes.
            (&accents, format!("{}...", "é".repeat(97))),
        ];
        for (text, want) in cases {
            let got = summary(text);
            assert_eq!(got, want, "{text:?}");
            assert!(got.chars().count() <= 100 && !got.is_empty());
        }
    }

    #[test]
    fn cut_matches_the_expected_report() {
        // The rule keeps exactly 97 characters, as the expected report's FM-002 shows.
        let text = "A consent revocation reaches memoria after the 24-hour SLA, so revoked signals stay in consolidated records.";
        assert_eq!(
            summary(text),
            "A consent revocation reaches memoria after the 24-hour SLA, so revoked signals stay in consolidat..."
        );
    }
}
