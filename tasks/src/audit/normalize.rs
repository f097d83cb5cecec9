//! From the input files' bytes to the findings: parse, decide each file's format, read every
//! entry, and check that ids are unique, collecting every problem on the way.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::fields::Entry;
use super::formats::Format;
use super::problem::{InputError, Problem, type_name};
use super::report::{Finding, InputSummary};

/// One input file as given on the command line, with its bytes or why they could not be read.
pub(crate) struct Input {
    /// The path exactly as given, as it appears in messages and in the report.
    pub name: String,
    pub content: Result<Vec<u8>, String>,
}

impl Input {
    /// Read the file at `path`.
    pub(crate) fn load(path: &Path) -> Self {
        Input {
            name: path.display().to_string(),
            content: std::fs::read(path).map_err(|e| e.to_string()),
        }
    }
}

/// Every input's summary and finding (in input order), or every problem found.
pub(crate) fn normalize(
    inputs: &[Input],
) -> Result<(Vec<InputSummary>, Vec<Finding>), Vec<InputError>> {
    let mut errors = Vec::new();
    let mut summaries = Vec::new();
    let mut findings = Vec::new();
    // Each id's first user, as `file [index]`, for duplicate messages.
    let mut first_use: HashMap<String, String> = HashMap::new();
    for input in inputs {
        let file = input.name.as_str();
        let Some(entries) = parse(input, &mut errors) else {
            continue;
        };
        let format = decide_format(file, &entries, &mut errors);
        for (index, value) in entries.iter().enumerate() {
            let Value::Object(object) = value else {
                errors.push(InputError::at(
                    file,
                    index,
                    None,
                    Problem::NotAnObject(type_name(value)),
                ));
                continue;
            };
            let Some(format) = format else { continue };
            let mut entry = Entry::new(file, index, object, &mut errors);
            let (id, finding) = format.read(&mut entry);
            findings.extend(finding);
            let Some(id) = id else { continue };
            let here = format!("{file} [{index}]");
            if let Some(first) = first_use.get(&id) {
                let problem = Problem::DuplicateId {
                    id,
                    first: first.clone(),
                    second: here,
                };
                errors.push(InputError::at(file, index, format.id_field(), problem));
            } else {
                first_use.insert(id, here);
            }
        }
        if let Some(format) = format {
            summaries.push(InputSummary {
                file: file.to_owned(),
                format,
                findings: entries.len(),
            });
        }
    }
    if errors.is_empty() {
        Ok((summaries, findings))
    } else {
        Err(errors)
    }
}

/// The file's top-level array: UTF-8, JSON, an array.
fn parse(input: &Input, errors: &mut Vec<InputError>) -> Option<Vec<Value>> {
    let file = input.name.as_str();
    let fail = |errors: &mut Vec<InputError>, problem| {
        errors.push(InputError::file(file, problem));
        None
    };
    let bytes = match &input.content {
        Ok(bytes) => bytes,
        Err(e) => return fail(errors, Problem::Unreadable(e.clone())),
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return fail(errors, Problem::NotUtf8(e.to_string())),
    };
    match serde_json::from_str(text) {
        Ok(Value::Array(entries)) => Some(entries),
        Ok(other) => fail(errors, Problem::NotAnArray(type_name(&other))),
        Err(e) => fail(errors, Problem::InvalidJson(e.to_string())),
    }
}

/// The file's format, by its name, else by the keys of its first entry.
fn decide_format(file: &str, entries: &[Value], errors: &mut Vec<InputError>) -> Option<Format> {
    if let Some(format) = Format::from_file_name(Path::new(file)) {
        return Some(format);
    }
    match entries.first() {
        None => {
            errors.push(InputError::file(file, Problem::EmptyWithoutFormat));
            None
        }
        Some(Value::Object(first)) => {
            let format = Format::from_keys(first);
            if format.is_none() {
                errors.push(InputError::file(file, Problem::UnknownFormat));
            }
            format
        }
        // The entry itself is reported as not an object; that is the problem to fix first.
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::severity::Severity;

    fn input(name: &str, json: &str) -> Input {
        Input {
            name: name.to_owned(),
            content: Ok(json.as_bytes().to_vec()),
        }
    }

    fn problems(inputs: &[Input]) -> Vec<String> {
        match normalize(inputs) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    const GAP: &str = r#"{"finding_id": "SG-1", "severity": "low", "gap_description": "g",
        "evidence": "e", "recommendation": "r"}"#;
    const MODE: &str = r#"{"failure_mode": "m", "likelihood": "low", "impact": "low", "mitigation": "x", "owner": "o"}"#;
    const CLAIM: &str =
        r#"{"claim": "c", "verification_status": "verified", "sources": [], "confidence": 1}"#;

    #[test]
    fn file_level_problems() {
        let cases: Vec<(Input, &str)> = vec![
            (
                Input {
                    name: "gone.json".into(),
                    content: Err("No such file or directory (os error 2)".into()),
                },
                "gone.json: cannot read the file: No such file or directory (os error 2)",
            ),
            (
                Input {
                    name: "bin.json".into(),
                    content: Ok(vec![b'[', 0xff, b']']),
                },
                "bin.json: not UTF-8 text: invalid utf-8 sequence of 1 bytes from index 1",
            ),
            (
                input("a.json", "[{"),
                "a.json: not valid JSON: EOF while parsing an object at line 1 column 2",
            ),
            (
                input("a.json", r#"{"findings": []}"#),
                "a.json: the top level must be an array of entries, found an object",
            ),
            (
                input("a.json", "[]"),
                "a.json: cannot decide the format: the array is empty and the file name is not structural_gaps, failure_modes or fact_checks",
            ),
            (
                input("a.json", r#"[{"id": "x"}]"#),
                "a.json: cannot decide the format: the file name is not structural_gaps, failure_modes or fact_checks, and the first entry has none of the keys finding_id, failure_mode, claim",
            ),
            (
                input("a.json", "[3]"),
                "a.json: [0]: an entry must be an object, found a number",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                problems(std::slice::from_ref(&input)),
                [want],
                "{}",
                input.name
            );
        }
    }

    #[test]
    fn empty_array_with_a_format_name_is_fine() {
        let (summaries, findings) = normalize(&[input("in/fact_checks.json", "[]")]).unwrap();
        assert_eq!(
            summaries,
            [InputSummary {
                file: "in/fact_checks.json".into(),
                format: Format::FactChecks,
                findings: 0
            }]
        );
        assert!(findings.is_empty());
    }

    #[test]
    fn format_by_keys_and_every_entry_read_as_it() {
        let json = format!("[{CLAIM}, {GAP}]");
        // The second entry is read as a fact check although it looks like a structural gap.
        assert_eq!(
            problems(&[input("checks.json", &json)]),
            [
                "checks.json: [1].claim: required field is missing",
                "checks.json: [1].verification_status: required field is missing",
                "checks.json: [1].sources: required field is missing",
                "checks.json: [1].confidence: required field is missing",
            ]
        );
        let (summaries, findings) =
            normalize(&[input("modes.json", &format!("[{MODE}]"))]).unwrap();
        assert_eq!(summaries[0].format, Format::FailureModes);
        assert_eq!(
            (findings[0].id.as_str(), findings[0].severity),
            ("FM-001", Severity::Info)
        );
    }

    #[test]
    fn the_file_name_wins_over_the_keys() {
        assert_eq!(
            problems(&[input("failure_modes.json", &format!("[{CLAIM}]"))])[0],
            "failure_modes.json: [0].failure_mode: required field is missing"
        );
    }

    #[test]
    fn duplicate_ids_name_both_sources() {
        let cases: Vec<(Vec<Input>, Vec<&str>)> = vec![
            (
                vec![input("structural_gaps.json", &format!("[{GAP}, {GAP}]"))],
                vec![
                    "structural_gaps.json: [1].finding_id: duplicate id `SG-1`: used by structural_gaps.json [0] and by structural_gaps.json [1]",
                ],
            ),
            (
                vec![
                    input("a/failure_modes.json", &format!("[{MODE}]")),
                    input("b/failure_modes.json", &format!("[{MODE}]")),
                ],
                vec![
                    "b/failure_modes.json: [0]: duplicate id `FM-001`: used by a/failure_modes.json [0] and by b/failure_modes.json [0]",
                ],
            ),
            (
                // A structural gap may collide with a positional id.
                vec![
                    input("fact_checks.json", &format!("[{CLAIM}]")),
                    input(
                        "structural_gaps.json",
                        &format!("[{}]", GAP.replace("SG-1", "FC-001")),
                    ),
                ],
                vec![
                    "structural_gaps.json: [0].finding_id: duplicate id `FC-001`: used by fact_checks.json [0] and by structural_gaps.json [0]",
                ],
            ),
            (
                // Found even when the entry has other problems.
                vec![input(
                    "structural_gaps.json",
                    &format!(r#"[{GAP}, {{"finding_id": "SG-1"}}]"#),
                )],
                vec![
                    "structural_gaps.json: [1].severity: required field is missing",
                    "structural_gaps.json: [1].gap_description: required field is missing",
                    "structural_gaps.json: [1].evidence: required field is missing",
                    "structural_gaps.json: [1].recommendation: required field is missing",
                    "structural_gaps.json: [1].finding_id: duplicate id `SG-1`: used by structural_gaps.json [0] and by structural_gaps.json [1]",
                ],
            ),
        ];
        for (inputs, want) in cases {
            assert_eq!(problems(&inputs), want);
        }
    }

    #[test]
    fn all_files_are_checked_and_good_files_still_summarized_in_order() {
        let inputs = [
            input("bad.json", "{}"),
            input("fact_checks.json", &format!("[{CLAIM}, 7]")),
            input("structural_gaps.json", &format!("[{GAP}]")),
        ];
        assert_eq!(
            problems(&inputs),
            [
                "bad.json: the top level must be an array of entries, found an object",
                "fact_checks.json: [1]: an entry must be an object, found a number",
            ]
        );
        let (summaries, findings) = normalize(&inputs[2..]).unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(findings[0].source.file, "structural_gaps.json");
    }
}
