//! What can be wrong with a history file, as values: rendered only when shown, and kept in the
//! summary as data (line and reason), not as text.

use std::fmt;

/// A problem found while reading the history; the run goes on without the bad part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HistoryWarning {
    /// A line that is not a history entry, skipped.
    CorruptLine {
        /// The history file as shown to people.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Why it is not an entry.
        why: String,
    },
    /// More corrupt lines than are listed one by one.
    MoreCorrupt {
        /// The history file as shown to people.
        file: String,
        /// How many were not listed.
        count: usize,
    },
    /// The file could not be opened.
    Unopenable {
        /// The history file as shown to people.
        file: String,
        /// The I/O error.
        error: String,
    },
    /// The file could not be read past a line.
    Unreadable {
        /// The history file as shown to people.
        file: String,
        /// The last line read.
        after_line: usize,
        /// The I/O error.
        error: String,
    },
}

impl HistoryWarning {
    /// Whether the summary keeps it (the corrupt lines of the summarised part; the count of
    /// the others is made again from the number of corrupt lines on every read).
    pub(crate) fn is_kept_in_summary(&self) -> bool {
        matches!(self, HistoryWarning::CorruptLine { .. })
    }
}

impl fmt::Display for HistoryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryWarning::CorruptLine { file, line, why } => {
                write!(f, "history {file}:{line}: skipped a corrupt line: {why}")
            }
            HistoryWarning::MoreCorrupt { file, count } => {
                write!(f, "history {file}: {count} more corrupt lines skipped")
            }
            HistoryWarning::Unopenable { file, error } => {
                write!(f, "cannot read the history {file}: {error}")
            }
            HistoryWarning::Unreadable {
                file,
                after_line,
                error,
            } => write!(
                f,
                "cannot read the history {file} past line {after_line}: {error}"
            ),
        }
    }
}
