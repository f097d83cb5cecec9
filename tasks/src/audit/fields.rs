//! Typed reads of one input entry's fields, collecting every problem instead of stopping at
//! the first.

use serde_json::{Map, Value};

use super::problem::{InputError, Problem, type_name};
use super::severity::normalize_enum;

/// One object of an input file's top-level array, being read.
pub(crate) struct Entry<'a> {
    file: &'a str,
    index: usize,
    object: &'a Map<String, Value>,
    errors: &'a mut Vec<InputError>,
    clean: bool,
}

impl<'a> Entry<'a> {
    pub(crate) fn new(
        file: &'a str,
        index: usize,
        object: &'a Map<String, Value>,
        errors: &'a mut Vec<InputError>,
    ) -> Self {
        Entry {
            file,
            index,
            object,
            errors,
            clean: true,
        }
    }

    /// The file the entry is in, as given on the command line.
    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    /// 0-based position of the entry in its file.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// True when no field of this entry has had a problem so far.
    pub(crate) fn is_clean(&self) -> bool {
        self.clean
    }

    /// Record a problem with `field` of this entry.
    pub(crate) fn fail(&mut self, field: &str, problem: Problem) {
        self.clean = false;
        self.errors
            .push(InputError::at(self.file, self.index, Some(field), problem));
    }

    /// A required field's value: missing and `null` are problems.
    fn required(&mut self, field: &str) -> Option<&'a Value> {
        match self.object.get(field) {
            None => {
                self.fail(field, Problem::Missing);
                None
            }
            Some(Value::Null) => {
                self.fail(field, Problem::Null);
                None
            }
            Some(value) => Some(value),
        }
    }

    /// A required text: a string, trimmed, not empty.
    pub(crate) fn text(&mut self, field: &str) -> Option<String> {
        let value = self.required(field)?;
        self.text_value(field, value)
    }

    /// An optional text: absent is `None`; when present (even `null`) it must be a text.
    /// A problem also gives `None`, and marks the entry unclean.
    pub(crate) fn optional_text(&mut self, field: &str) -> Option<String> {
        let value = self.object.get(field)?;
        self.text_value(field, value)
    }

    fn text_value(&mut self, field: &str, value: &Value) -> Option<String> {
        let Value::String(text) = value else {
            self.fail(
                field,
                Problem::WrongType {
                    expected: "a string",
                    found: type_name(value),
                },
            );
            return None;
        };
        let text = text.trim();
        if text.is_empty() {
            self.fail(field, Problem::Empty);
            return None;
        }
        Some(text.to_owned())
    }

    /// A required enum: a text, normalized (see [`normalize_enum`]), then matched by `parse`.
    /// `accepted` lists the values for the message.
    pub(crate) fn enumeration<T>(
        &mut self,
        field: &str,
        parse: fn(&str) -> Option<T>,
        accepted: &'static str,
    ) -> Option<T> {
        let text = self.text(field)?;
        let parsed = parse(&normalize_enum(&text));
        if parsed.is_none() {
            self.fail(
                field,
                Problem::UnknownValue {
                    value: text,
                    accepted,
                },
            );
        }
        parsed
    }

    /// A required list of texts (may be empty); each element is `field[i]` in messages.
    pub(crate) fn text_list(&mut self, field: &str) -> Option<Vec<String>> {
        let value = self.required(field)?;
        let Value::Array(items) = value else {
            self.fail(
                field,
                Problem::WrongType {
                    expected: "an array of strings",
                    found: type_name(value),
                },
            );
            return None;
        };
        let mut texts = Vec::with_capacity(items.len());
        let mut all = true;
        for (i, item) in items.iter().enumerate() {
            match self.text_value(&format!("{field}[{i}]"), item) {
                Some(text) => texts.push(text),
                None => all = false,
            }
        }
        all.then_some(texts)
    }

    /// A required number from 0 to 1 inclusive.
    pub(crate) fn fraction(&mut self, field: &str) -> Option<f64> {
        let value = self.required(field)?;
        let Some(number) = value.as_f64() else {
            self.fail(
                field,
                Problem::WrongType {
                    expected: "a number",
                    found: type_name(value),
                },
            );
            return None;
        };
        if !(0.0..=1.0).contains(&number) {
            self.fail(field, Problem::ConfidenceOutOfRange(value.to_string()));
            return None;
        }
        Some(number)
    }

    /// An optional non-negative JSON integer (`7`, not `7.0` or `"7"`): absent is `None`.
    /// A problem also gives `None`, and marks the entry unclean.
    pub(crate) fn optional_count(&mut self, field: &str) -> Option<u64> {
        let value = self.object.get(field)?;
        // `as_u64` is `Some` only for a number written without fraction or exponent that
        // fits in a u64, which is exactly a non-negative JSON integer.
        let count = value.as_u64();
        if count.is_none() {
            self.fail(field, Problem::BadEtaDays(value.to_string()));
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::severity::Level;

    /// Run `read` on the object `json` and give (value, rendered problems).
    fn read<T>(
        json: &str,
        read: impl FnOnce(&mut Entry<'_>) -> Option<T>,
    ) -> (Option<T>, Vec<String>) {
        let value: Value = serde_json::from_str(json).unwrap();
        let mut errors = Vec::new();
        let mut entry = Entry::new("f.json", 4, value.as_object().unwrap(), &mut errors);
        let got = read(&mut entry);
        let clean = entry.is_clean();
        assert_eq!(clean, errors.is_empty(), "{json}");
        (got, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn texts() {
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            (r#"{"a": "  hi  "}"#, Some("hi"), &[]),
            ("{}", None, &["f.json: [4].a: required field is missing"]),
            (
                r#"{"a": null}"#,
                None,
                &["f.json: [4].a: required field is null"],
            ),
            (
                r#"{"a": 3}"#,
                None,
                &["f.json: [4].a: expected a string, found a number"],
            ),
            (
                r#"{"a": ["x"]}"#,
                None,
                &["f.json: [4].a: expected a string, found an array"],
            ),
            (
                r#"{"a": " \n\t "}"#,
                None,
                &["f.json: [4].a: must not be empty"],
            ),
        ];
        for (json, want, problems) in cases {
            let (got, errors) = read(json, |e| e.text("a"));
            assert_eq!(got.as_deref(), *want, "{json}");
            assert_eq!(errors, *problems, "{json}");
        }
    }

    #[test]
    fn optional_texts() {
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            ("{}", None, &[]),
            (r#"{"owner": " dream "}"#, Some("dream"), &[]),
            (
                r#"{"owner": null}"#,
                None,
                &["f.json: [4].owner: expected a string, found null"],
            ),
            (
                r#"{"owner": ""}"#,
                None,
                &["f.json: [4].owner: must not be empty"],
            ),
            (
                r#"{"owner": false}"#,
                None,
                &["f.json: [4].owner: expected a string, found a boolean"],
            ),
        ];
        for (json, want, problems) in cases {
            let (got, errors) = read(json, |e| e.optional_text("owner"));
            assert_eq!(got.as_deref(), *want, "{json}");
            assert_eq!(errors, *problems, "{json}");
        }
    }

    #[test]
    fn enumerations() {
        let cases: &[(&str, Option<Level>, &[&str])] = &[
            (r#"{"impact": "High"}"#, Some(Level::High), &[]),
            (r#"{"impact": " MEDIUM "}"#, Some(Level::Medium), &[]),
            (
                r#"{"impact": "severe"}"#,
                None,
                &["f.json: [4].impact: unknown value `severe`; expected one of low, medium, high"],
            ),
            (
                r#"{"impact": 2}"#,
                None,
                &["f.json: [4].impact: expected a string, found a number"],
            ),
            (
                "{}",
                None,
                &["f.json: [4].impact: required field is missing"],
            ),
        ];
        for (json, want, problems) in cases {
            let (got, errors) = read(json, |e| {
                e.enumeration("impact", Level::parse, Level::ACCEPTED)
            });
            assert_eq!(got, *want, "{json}");
            assert_eq!(errors, *problems, "{json}");
        }
    }

    /// (object, the list read, the problems).
    type ListCase<'a> = (&'a str, Option<&'a [&'a str]>, &'a [&'a str]);

    #[test]
    fn text_lists() {
        let cases: &[ListCase<'_>] = &[
            (r#"{"sources": []}"#, Some(&[]), &[]),
            (r#"{"sources": [" a ", "b"]}"#, Some(&["a", "b"]), &[]),
            (
                r#"{"sources": "a"}"#,
                None,
                &["f.json: [4].sources: expected an array of strings, found a string"],
            ),
            (
                r#"{"sources": ["a", 1, " "]}"#,
                None,
                &[
                    "f.json: [4].sources[1]: expected a string, found a number",
                    "f.json: [4].sources[2]: must not be empty",
                ],
            ),
            (
                r#"{"sources": null}"#,
                None,
                &["f.json: [4].sources: required field is null"],
            ),
        ];
        for (json, want, problems) in cases {
            let (got, errors) = read(json, |e| e.text_list("sources"));
            let got: Option<Vec<&str>> =
                got.as_ref().map(|v| v.iter().map(String::as_str).collect());
            assert_eq!(got.as_deref(), *want, "{json}");
            assert_eq!(errors, *problems, "{json}");
        }
    }

    #[test]
    fn fractions() {
        let cases: &[(&str, Option<f64>, &[&str])] = &[
            (r#"{"c": 0}"#, Some(0.0), &[]),
            (r#"{"c": 1}"#, Some(1.0), &[]),
            (r#"{"c": 0.65}"#, Some(0.65), &[]),
            (
                r#"{"c": 1.5}"#,
                None,
                &["f.json: [4].c: must be a number from 0 to 1, found 1.5"],
            ),
            (
                r#"{"c": -0.1}"#,
                None,
                &["f.json: [4].c: must be a number from 0 to 1, found -0.1"],
            ),
            (
                r#"{"c": "0.5"}"#,
                None,
                &["f.json: [4].c: expected a number, found a string"],
            ),
            ("{}", None, &["f.json: [4].c: required field is missing"]),
        ];
        for (json, want, problems) in cases {
            let (got, errors) = read(json, |e| e.fraction("c"));
            assert_eq!(got, *want, "{json}");
            assert_eq!(errors, *problems, "{json}");
        }
    }

    #[test]
    fn counts() {
        let bad = |found: &str| {
            format!("f.json: [4].eta_days: must be a non-negative integer such as 7, found {found}")
        };
        let cases: Vec<(&str, Option<u64>, Vec<String>)> = vec![
            ("{}", None, vec![]),
            (r#"{"eta_days": 7}"#, Some(7), vec![]),
            (r#"{"eta_days": 0}"#, Some(0), vec![]),
            (r#"{"eta_days": 7.0}"#, None, vec![bad("7.0")]),
            (r#"{"eta_days": "7"}"#, None, vec![bad("\"7\"")]),
            (r#"{"eta_days": -1}"#, None, vec![bad("-1")]),
            (r#"{"eta_days": 1e2}"#, None, vec![bad("100.0")]),
            (r#"{"eta_days": null}"#, None, vec![bad("null")]),
        ];
        for (json, want, problems) in cases {
            let (got, errors) = read(json, |e| e.optional_count("eta_days"));
            assert_eq!(got, want, "{json}");
            assert_eq!(errors, problems, "{json}");
        }
    }
}
