//! Typed, span-aware reading of one TOML table: every mistake becomes a `Diagnostic`.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, suggest};

/// Collects diagnostics for one config file.
pub(crate) struct Sink {
    pub(crate) file: String,
    pub(crate) diags: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(&self.file, Some(span), message));
    }

    pub(crate) fn error_help(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::new(&self.file, Some(span), message).with_help(help));
    }
}

/// One item of an array of strings or tables.
pub(crate) enum Element<'a, 'i> {
    /// A string, and where it is.
    Str(String, Range<usize>),
    /// An inline table, and where it is.
    Table(&'a DeTable<'i>, Range<usize>),
}

/// A table being read, and where it sits (``gate `x` ``, `[settings]`), for messages.
pub(crate) struct Fields<'a, 'i> {
    pub(crate) table: &'a DeTable<'i>,
    pub(crate) place: String,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub(crate) fn new(table: &'a DeTable<'i>, place: impl Into<String>) -> Self {
        Fields {
            table,
            place: place.into(),
        }
    }

    /// Report every key not in `known` (with a suggestion); `elsewhere` explains keys that
    /// exist but do not belong here (e.g. `run` on a schema gate).
    pub(crate) fn reject_unknown(
        &self,
        sink: &mut Sink,
        known: &[&str],
        elsewhere: impl Fn(&str) -> Option<String>,
    ) {
        for (key, _) in self.table {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            if let Some(why) = elsewhere(name) {
                sink.error(
                    key.span(),
                    format!("key `{name}` does not apply here: {why} ({})", self.place),
                );
            } else {
                sink.error_help(
                    key.span(),
                    format!("unknown key `{name}` in {}", self.place),
                    suggest(name, known),
                );
            }
        }
    }

    pub(crate) fn value(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    fn type_error(&self, sink: &mut Sink, key: &str, v: &Spanned<DeValue<'_>>, expected: &str) {
        sink.error(
            v.span(),
            format!(
                "`{key}` in {} must be {expected}, found {}",
                self.place,
                v.get_ref().type_str()
            ),
        );
    }

    pub(crate) fn string(&self, sink: &mut Sink, key: &str) -> Option<(String, Range<usize>)> {
        let v = self.value(key)?;
        match v.get_ref().as_str() {
            Some(s) => Some((s.to_owned(), v.span())),
            None => {
                self.type_error(sink, key, v, "a string");
                None
            }
        }
    }

    pub(crate) fn bool(&self, sink: &mut Sink, key: &str) -> Option<bool> {
        let v = self.value(key)?;
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.type_error(sink, key, v, "true or false");
        }
        b
    }

    /// A non-negative integer that fits `u64`.
    pub(crate) fn uint(&self, sink: &mut Sink, key: &str) -> Option<(u64, Range<usize>)> {
        let v = self.value(key)?;
        let parsed = v
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok());
        match parsed {
            Some(n) if n >= 0 => Some((n.unsigned_abs(), v.span())),
            Some(_) => {
                sink.error(
                    v.span(),
                    format!("`{key}` in {} must not be negative", self.place),
                );
                None
            }
            None => {
                self.type_error(sink, key, v, "an integer");
                None
            }
        }
    }

    /// An array of strings, each with its span.
    pub(crate) fn strings(&self, sink: &mut Sink, key: &str) -> Vec<(String, Range<usize>)> {
        let Some(v) = self.value(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(sink, key, v, "an array of strings");
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| match item.get_ref().as_str() {
                Some(s) => Some((s.to_owned(), item.span())),
                None => {
                    sink.error(
                        item.span(),
                        format!(
                            "`{key}` in {} must hold strings, found {}",
                            self.place,
                            item.get_ref().type_str()
                        ),
                    );
                    None
                }
            })
            .collect()
    }

    /// An array whose items are strings or tables (`inputs = ["src/**", { run = "..." }]`).
    /// `expected` says what it holds, for the error when it is not an array.
    pub(crate) fn strings_or_tables(
        &self,
        sink: &mut Sink,
        key: &str,
        expected: &str,
    ) -> Vec<Element<'a, 'i>> {
        let Some(v) = self.value(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(sink, key, v, expected);
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| match item.get_ref() {
                DeValue::String(s) => Some(Element::Str(s.to_string(), item.span())),
                DeValue::Table(t) => Some(Element::Table(t, item.span())),
                other => {
                    sink.error(
                        item.span(),
                        format!(
                            "`{key}` in {} must hold strings or tables, found {}",
                            self.place,
                            other.type_str()
                        ),
                    );
                    None
                }
            })
            .collect()
    }

    /// A string or an array of strings (`policy = "p.rego"` or `policy = ["a.rego", "b.rego"]`).
    pub(crate) fn string_or_strings(
        &self,
        sink: &mut Sink,
        key: &str,
    ) -> Vec<(String, Range<usize>)> {
        match self.value(key) {
            Some(v) if v.get_ref().is_str() => self.string(sink, key).into_iter().collect(),
            _ => self.strings(sink, key),
        }
    }

    /// A sub-table, or an error if the key holds something else.
    pub(crate) fn table(
        &self,
        sink: &mut Sink,
        key: &str,
    ) -> Option<(&'a DeTable<'i>, Range<usize>)> {
        let v = self.value(key)?;
        match v.get_ref().as_table() {
            Some(t) => Some((t, v.span())),
            None => {
                self.type_error(sink, key, v, "a table");
                None
            }
        }
    }

    /// A table of string values, in order, each with its key's span.
    pub(crate) fn string_map(
        &self,
        sink: &mut Sink,
        key: &str,
    ) -> Vec<(String, String, Range<usize>)> {
        let Some((t, _)) = self.table(sink, key) else {
            return Vec::new();
        };
        t.iter()
            .filter_map(|(k, v)| match v.get_ref().as_str() {
                Some(s) => Some((k.get_ref().to_string(), s.to_owned(), k.span())),
                None => {
                    sink.error(
                        v.span(),
                        format!(
                            "`{key}.{}` in {} must be a string, found {}",
                            k.get_ref(),
                            self.place,
                            v.get_ref().type_str()
                        ),
                    );
                    None
                }
            })
            .collect()
    }
}

impl Fields<'_, '_> {
    /// A duration such as `"30s"` (`vocab::duration`).
    pub(crate) fn duration(&self, sink: &mut Sink, key: &str) -> Option<std::time::Duration> {
        let (text, span) = self.string(sink, key)?;
        match crate::vocab::duration::parse(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                sink.error(span, format!("`{key}` in {}: {e}", self.place));
                None
            }
        }
    }

    /// A whole number that fits in a u32.
    pub(crate) fn u32(&self, sink: &mut Sink, key: &str) -> Option<u32> {
        let (n, span) = self.uint(sink, key)?;
        Some(small_u32(sink, n, span))
    }
}

/// `n` as a u32, or an error at `span`.
pub(crate) fn small_u32(sink: &mut Sink, n: u64, span: Range<usize>) -> u32 {
    u32::try_from(n).unwrap_or_else(|_| {
        sink.error(span, format!("{n} is too large"));
        0
    })
}

/// Convert a TOML value to JSON (datetimes become strings).
pub(crate) fn to_json(v: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map_or_else(|_| Value::String(i.to_string()), Value::from),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .map_or(Value::Null, Value::from),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(a) => Value::Array(a.iter().map(|x| to_json(x.get_ref())).collect()),
        DeValue::Table(t) => Value::Object(
            t.iter()
                .map(|(k, x)| (k.get_ref().to_string(), to_json(x.get_ref())))
                .collect(),
        ),
    }
}
