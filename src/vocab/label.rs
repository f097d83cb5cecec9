//! Labels a run asks CI to put on the pull request.

use std::fmt;

/// A pull-request label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Label {
    /// An observational gate failed: `smoke-failed:<gate>`.
    SmokeFailed(String),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::SmokeFailed(gate) => write!(f, "smoke-failed:{gate}"),
        }
    }
}
