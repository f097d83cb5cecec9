//! What can be wrong with an audit input, and where: `FILE: [INDEX].FIELD: message`.

use std::fmt;

use serde_json::Value;

/// One problem in an input file, with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// The file exactly as given on the command line.
    pub file: String,
    /// 0-based position in the top-level array; `None` for a problem with the whole file.
    pub index: Option<usize>,
    /// The field inside the entry (`sources[1]` for a list element); `None` for the entry.
    pub field: Option<String>,
    pub problem: Problem,
}

impl InputError {
    /// A problem with the whole file.
    pub(crate) fn file(file: &str, problem: Problem) -> Self {
        InputError {
            file: file.to_owned(),
            index: None,
            field: None,
            problem,
        }
    }

    /// A problem with one entry, or with one field of it.
    pub(crate) fn at(file: &str, index: usize, field: Option<&str>, problem: Problem) -> Self {
        InputError {
            file: file.to_owned(),
            index: Some(index),
            field: field.map(str::to_owned),
            problem,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.field) {
            (Some(index), Some(field)) => {
                write!(f, "{}: [{index}].{field}: {}", self.file, self.problem)
            }
            (Some(index), None) => write!(f, "{}: [{index}]: {}", self.file, self.problem),
            (None, _) => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for InputError {}

/// The message part of an [`InputError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error("not UTF-8 text: {0}")]
    NotUtf8(String),
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the top level must be an array of entries, found {0}")]
    NotAnArray(&'static str),
    #[error("an entry must be an object, found {0}")]
    NotAnObject(&'static str),
    #[error(
        "cannot decide the format: the array is empty and the file name is not structural_gaps, failure_modes or fact_checks"
    )]
    EmptyWithoutFormat,
    #[error(
        "cannot decide the format: the file name is not structural_gaps, failure_modes or fact_checks, and the first entry has none of the keys finding_id, failure_mode, claim"
    )]
    UnknownFormat,
    #[error("required field is missing")]
    Missing,
    #[error("required field is null")]
    Null,
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("must not be empty")]
    Empty,
    #[error("unknown value `{value}`; expected one of {accepted}")]
    UnknownValue {
        value: String,
        accepted: &'static str,
    },
    #[error("must be a number from 0 to 1, found {0}")]
    ConfidenceOutOfRange(String),
    #[error("must be a non-negative integer such as 7, found {0}")]
    BadEtaDays(String),
    #[error("`{0}` is not a valid id: it must match ^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    BadId(String),
    #[error("duplicate id `{id}`: used by {first} and by {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
}

/// How a JSON value's type is named in messages.
#[must_use]
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_index_and_field() {
        let cases = [
            (
                InputError::file("a.json", Problem::NotAnArray("an object")),
                "a.json: the top level must be an array of entries, found an object",
            ),
            (
                InputError::at("a.json", 2, None, Problem::NotAnObject("a string")),
                "a.json: [2]: an entry must be an object, found a string",
            ),
            (
                InputError::at("dir/b.json", 0, Some("severity"), Problem::Missing),
                "dir/b.json: [0].severity: required field is missing",
            ),
            (
                InputError::at(
                    "b.json",
                    1,
                    Some("sources[3]"),
                    Problem::WrongType {
                        expected: "a string",
                        found: "a number",
                    },
                ),
                "b.json: [1].sources[3]: expected a string, found a number",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
        }
    }
}
