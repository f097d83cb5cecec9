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
    /// What is wrong.
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
    /// The file cannot be read (the I/O error).
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// The file is not UTF-8 (the decoding error).
    #[error("not UTF-8 text: {0}")]
    NotUtf8(String),
    /// The file is not JSON (the parser's error).
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    /// The top level is not an array (the type found).
    #[error("the top level must be an array of entries, found {0}")]
    NotAnArray(&'static str),
    /// An entry is not an object (the type found).
    #[error("an entry must be an object, found {0}")]
    NotAnObject(&'static str),
    /// An empty array in a file whose name tells no format.
    #[error(
        "cannot decide the format: the array is empty and the file name is not structural_gaps, failure_modes or fact_checks"
    )]
    EmptyWithoutFormat,
    /// Neither the file name nor the first entry's keys tell the format.
    #[error(
        "cannot decide the format: the file name is not structural_gaps, failure_modes or fact_checks, and the first entry has none of the keys finding_id, failure_mode, claim"
    )]
    UnknownFormat,
    /// A required field is absent.
    #[error("required field is missing")]
    Missing,
    /// A required field is `null`.
    #[error("required field is null")]
    Null,
    /// A field has the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The type wanted, with its article (`a string`).
        expected: &'static str,
        /// The type found, with its article.
        found: &'static str,
    },
    /// A text is empty or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// An enumeration has a value outside its scale.
    #[error("unknown value `{value}`; expected one of {accepted}")]
    UnknownValue {
        /// The value as written (trimmed).
        value: String,
        /// The accepted values, for the message.
        accepted: &'static str,
    },
    /// A confidence outside 0 to 1 (the number as JSON).
    #[error("must be a number from 0 to 1, found {0}")]
    ConfidenceOutOfRange(String),
    /// An `eta_days` that is not a non-negative JSON integer (the value as JSON).
    #[error("must be a non-negative integer such as 7, found {0}")]
    BadEtaDays(String),
    /// A structural gap's `finding_id` with characters outside the id pattern.
    #[error("`{0}` is not a valid id: it must match ^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    BadId(String),
    /// An id already used by an earlier entry.
    #[error("duplicate id `{id}`: used by {first} and by {second}")]
    DuplicateId {
        /// The id.
        id: String,
        /// The first user, as `file [index]`.
        first: String,
        /// This entry, as `file [index]`.
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
