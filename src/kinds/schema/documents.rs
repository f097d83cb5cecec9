//! Documents and schemas as the `schema` kind reads them: JSON, TOML or YAML by extension, parsed
//! into JSON values, and the place (line, column) of the value a JSON pointer names.

use std::path::Path;

use serde_json::Value;

/// Why a file could not be loaded.
#[derive(Debug)]
pub(super) enum Load {
    Io(std::io::Error),
    Parse(ParseError),
}

/// A parse error with its 1-based position (0 when the parser gives none).
#[derive(Debug)]
pub(super) struct ParseError {
    pub(super) line: usize,
    pub(super) col: usize,
    pub(super) message: String,
}

/// Shown after "parse error": ` at line L, column C: message`.
impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, " at line {}, column {}", self.line, self.col)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The text formats a document can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Toml,
    Yaml,
}

impl Format {
    fn of(path: &Path) -> Self {
        let extension = path
            .extension()
            .and_then(|ext| ext.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match extension.as_str() {
            "toml" => Format::Toml,
            "yaml" | "yml" => Format::Yaml,
            _ => Format::Json,
        }
    }
}

/// A document read and parsed: its value, and its text to find positions in.
pub(super) struct Document {
    text: String,
    format: Format,
    /// The document as JSON.
    pub(super) value: Value,
}

impl Document {
    /// Read and parse a JSON, TOML or YAML file (by extension).
    pub(super) fn read(path: &Path) -> Result<Self, Load> {
        let text = std::fs::read_to_string(path).map_err(Load::Io)?;
        let format = Format::of(path);
        let value = parse(&text, format).map_err(Load::Parse)?;
        Ok(Document {
            text,
            format,
            value,
        })
    }

    /// The 1-based line and column of the value at `pointer` (RFC 6901, `""` is the whole
    /// document); `None` when it cannot be found (YAML is not located).
    pub(super) fn position(&self, pointer: &str) -> Option<(usize, usize)> {
        let segments = segments(pointer)?;
        let offset = match self.format {
            Format::Json => json_offset(&self.text, &segments)?,
            Format::Toml => toml_offset(&self.text, &segments)?,
            Format::Yaml => return None,
        };
        Some(line_col(&self.text, offset))
    }
}

/// Read and parse a JSON, TOML or YAML file (by extension) into a JSON value.
pub(super) fn load(path: &Path) -> Result<Value, Load> {
    Document::read(path).map(|document| document.value)
}

fn parse(text: &str, format: Format) -> Result<Value, ParseError> {
    match format {
        Format::Toml => toml::from_str::<toml::Table>(text)
            .map(|table| from_toml(toml::Value::Table(table)))
            .map_err(|err| {
                let (line, col) = err.span().map_or((0, 0), |span| line_col(text, span.start));
                ParseError {
                    line,
                    col,
                    message: err.message().trim().to_owned(),
                }
            }),
        Format::Yaml => serde_yaml::from_str(text).map_err(|err| {
            let (line, col) = err.location().map_or((0, 0), |at| (at.line(), at.column()));
            let message = err.to_string();
            // serde_yaml appends the position it also returns; say it once.
            let suffix = format!(" at line {line} column {col}");
            ParseError {
                line,
                col,
                message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
            }
        }),
        Format::Json => serde_json::from_str(text).map_err(|err| {
            let message = err.to_string();
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
            ParseError {
                line: err.line(),
                col: err.column(),
                message,
            }
        }),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, col)
}

/// TOML to JSON: datetimes become their RFC 3339 text, non-finite floats become null.
fn from_toml(value: toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(int) => Value::from(int),
        toml::Value::Float(float) => {
            serde_json::Number::from_f64(float).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(bool) => Value::Bool(bool),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(from_toml).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, from_toml(value)))
                .collect(),
        ),
    }
}

/// The reference tokens of a JSON pointer, unescaped (`~1` is `/`, `~0` is `~`).
fn segments(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|token| token.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// The byte offset where the value that `segments` lead to starts, in a valid JSON text.
fn json_offset(text: &str, segments: &[String]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    for segment in segments {
        at = match bytes.get(at)? {
            b'{' => member(text, at, segment)?,
            b'[' => element(bytes, at, segment.parse().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The end of the string that starts at `at` (just past its closing quote).
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The end of the value that starts at `at`.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0_usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            Some(i)
        }
    }
}

/// Where the value of member `name` of the object at `at` starts (the last one, as a JSON
/// parser keeps the last of duplicate names).
fn member(text: &str, at: usize, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut found = None;
    let mut i = skip_space(bytes, at + 1);
    while bytes.get(i) == Some(&b'"') {
        let key_end = string_end(bytes, i)?;
        let key: String = serde_json::from_str(text.get(i..key_end)?).ok()?;
        i = skip_space(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let value = skip_space(bytes, i + 1);
        if key == name {
            found = Some(value);
        }
        i = skip_space(bytes, value_end(bytes, value)?);
        if bytes.get(i) == Some(&b',') {
            i = skip_space(bytes, i + 1);
        }
    }
    found
}

/// Where element `index` of the array at `at` starts.
fn element(bytes: &[u8], at: usize, index: usize) -> Option<usize> {
    let mut i = skip_space(bytes, at + 1);
    for _ in 0..index {
        if bytes.get(i) == Some(&b']') {
            return None;
        }
        i = skip_space(bytes, value_end(bytes, i)?);
        if bytes.get(i) != Some(&b',') {
            return None;
        }
        i = skip_space(bytes, i + 1);
    }
    (bytes.get(i) != Some(&b']')).then_some(i)
}

/// The byte offset where the value that `segments` lead to starts, in a TOML text (the root
/// is its first byte).
fn toml_offset(text: &str, segments: &[String]) -> Option<usize> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let Some((last, parents)) = segments.split_last() else {
        return Some(0);
    };
    let mut table = root.get_ref();
    let mut value: Option<&toml::Spanned<toml::de::DeValue<'_>>> = None;
    for segment in parents.iter().chain(std::iter::once(last)) {
        let next = match value.map(toml::Spanned::get_ref) {
            None => table.get(segment.as_str())?,
            Some(toml::de::DeValue::Table(inner)) => inner.get(segment.as_str())?,
            Some(toml::de::DeValue::Array(items)) => items.get(segment.parse::<usize>().ok()?)?,
            Some(_) => return None,
        };
        value = Some(next);
        if let toml::de::DeValue::Table(inner) = next.get_ref() {
            table = inner;
        }
    }
    value.map(|v| v.span().start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_at(text: &str, pointer: &str) -> Option<(usize, usize)> {
        let segments = segments(pointer)?;
        json_offset(text, &segments).map(|offset| line_col(text, offset))
    }

    #[test]
    fn json_pointers_find_their_values() {
        let text = "{\n  \"a\": {\"b\": [1, {\"c\": \"x\"}, [true]]},\n  \"a/b\": 2,\n  \"e\\\"q\": null,\n  \"t~\": \"é\", \"u\": 3\n}";
        let cases = [
            ("", Some((1, 1))),
            ("/a", Some((2, 8))),
            ("/a/b", Some((2, 14))),
            ("/a/b/0", Some((2, 15))),
            ("/a/b/1/c", Some((2, 24))),
            ("/a/b/2/0", Some((2, 31))),
            ("/a~1b", Some((3, 10))),
            ("/e\"q", Some((4, 11))),
            ("/t~0", Some((5, 9))),
            ("/u", Some((5, 19))),
            ("/a/b/3", None),
            ("/missing", None),
            ("/a/b/x", None),
            ("no-slash", None),
        ];
        for (pointer, expected) in cases {
            assert_eq!(json_at(text, pointer), expected, "{pointer}");
        }
        // Duplicate names: the last one counts, as for the parser.
        assert_eq!(json_at("{\"k\": 1,\n \"k\": 2}", "/k"), Some((2, 7)));
        assert_eq!(json_at("  [ ]", "/0"), None);
    }

    #[test]
    fn toml_pointers_find_their_values() {
        let text = "name = \"n\"\nports = [80, 443]\n\n[owner]\ncontact = { mail = \"x\" }\n";
        let cases = [
            ("", Some((1, 1))),
            ("/name", Some((1, 8))),
            ("/ports/1", Some((2, 14))),
            ("/owner/contact/mail", Some((5, 20))),
            ("/owner/missing", None),
        ];
        for (pointer, expected) in cases {
            let segments = segments(pointer).expect("pointer");
            let found = toml_offset(text, &segments).map(|offset| line_col(text, offset));
            assert_eq!(found, expected, "{pointer}");
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncd\nef", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
        assert_eq!(line_col("é\n\"x\": é", 9), (2, 7));
    }
}
