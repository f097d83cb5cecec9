//! `runner graduate --write`: set `mode = "blocking"` on gates in gates.toml, keeping every
//! comment, blank line and key order (`toml_edit`).

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike, Value};

use crate::config::Config;
use crate::vocab::Mode;

/// Why gates.toml could not be edited.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum WriteBackError {
    #[error("gates.toml is not valid TOML: {0}")]
    Parse(String),
    #[error("gate `{0}` is not a table under [gates]")]
    NoGate(String),
}

/// `source` with each of `gates` set to `mode = "blocking"`: an existing `mode` value is
/// replaced in place (its comments kept), a missing one is added as the gate's last key.
/// Gates already blocking are left alone; `None` when nothing changed.
///
/// # Errors
/// When `source` is not TOML, or a gate is not a table under `[gates]`.
pub(super) fn set_blocking(source: &str, gates: &[&str]) -> Result<Option<String>, WriteBackError> {
    let mut doc: DocumentMut = source
        .parse()
        .map_err(|e: toml_edit::TomlError| WriteBackError::Parse(e.message().to_owned()))?;
    let mut changed = false;
    for &name in gates {
        let table = doc
            .get_mut("gates")
            .and_then(Item::as_table_like_mut)
            .and_then(|t| t.get_mut(name))
            .and_then(Item::as_table_like_mut)
            .ok_or_else(|| WriteBackError::NoGate(name.to_owned()))?;
        changed |= set_mode(table);
    }
    Ok(changed.then(|| doc.to_string()))
}

/// Rewrite the config file of `config` with `gates` made blocking, checked by loading the
/// result first: the file is never left in a state the runner would refuse.
pub(crate) fn write_graduations(config: &Config, gates: &[&str]) -> Result<(), String> {
    let path = config_path(config);
    let source = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let Some(edited) = set_blocking(&source, gates).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    // Never write a file the runner would then refuse, or one that did not change what we meant.
    let edited_config =
        crate::config::parse(&config.file_name, &edited, &config.root).map_err(|d| {
            format!(
                "the edited file does not load ({} problems); it was left unchanged",
                d.len()
            )
        })?;
    if let Some(g) = edited_config
        .gates
        .iter()
        .find(|g| gates.contains(&g.name.as_str()) && g.mode != Mode::Blocking)
    {
        return Err(format!(
            "gate `{}` did not become blocking; the file was left unchanged",
            g.name
        ));
    }
    let target = std::fs::canonicalize(&path).unwrap_or(path);
    let permissions = std::fs::metadata(&target).map(|m| m.permissions()).ok();
    crate::bincodec::write_atomic(&target, edited.as_bytes()).map_err(|e| e.to_string())?;
    // The file is replaced by a new one: give it the old one's permissions back.
    if let Some(p) = permissions {
        std::fs::set_permissions(&target, p).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn config_path(config: &Config) -> PathBuf {
    let name = Path::new(&config.file_name)
        .file_name()
        .map_or_else(|| "gates.toml".into(), PathBuf::from);
    config.root.join(name)
}

/// Set `mode = "blocking"` in one gate's table; whether anything changed.
fn set_mode(table: &mut dyn TableLike) -> bool {
    match table.get_mut("mode").and_then(Item::as_value_mut) {
        Some(value) if value.as_str() == Some("blocking") => false,
        Some(value) => {
            // Keep the spaces and the trailing comment around the old value.
            let decor = value.decor().clone();
            *value = Value::from("blocking");
            *value.decor_mut() = decor;
            true
        }
        None => {
            table.insert("mode", toml_edit::value("blocking"));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        source: &'static str,
        gates: &'static [&'static str],
        expect: Option<&'static str>,
    }

    const CASES: &[Case] = &[
        Case {
            name: "replaces in place and keeps the trailing comment",
            source: "[gates.a]\nrun = \"x\"\nmode = \"observational\"   # smoke for now\ntags = [\"t\"]\n",
            gates: &["a"],
            expect: Some(
                "[gates.a]\nrun = \"x\"\nmode = \"blocking\"   # smoke for now\ntags = [\"t\"]\n",
            ),
        },
        Case {
            name: "inserts when absent, after the last key, before sub-tables",
            source: "[gates.a]\nrun = \"x\"\n\n# limits\n[gates.a.thresholds]\np = \"< 1\"\n",
            gates: &["a"],
            expect: Some(
                "[gates.a]\nrun = \"x\"\nmode = \"blocking\"\n\n# limits\n[gates.a.thresholds]\np = \"< 1\"\n",
            ),
        },
        Case {
            name: "inline table",
            source: "[gates]\na = { run = \"x\", mode = \"observational\" } # inline\n",
            gates: &["a"],
            expect: Some("[gates]\na = { run = \"x\", mode = \"blocking\" } # inline\n"),
        },
        Case {
            name: "dotted keys",
            source: "gates.a.run = \"x\"\ngates.a.mode = 'observational'\n",
            gates: &["a"],
            expect: Some("gates.a.run = \"x\"\ngates.a.mode = \"blocking\"\n"),
        },
        Case {
            name: "quoted gate names",
            source: "[gates.\"odd name\"]\nmode = \"observational\"\n",
            gates: &["odd name"],
            expect: Some("[gates.\"odd name\"]\nmode = \"blocking\"\n"),
        },
        Case {
            name: "already blocking: nothing to write",
            source: "[gates.a]\nmode = \"blocking\" # done\n",
            gates: &["a"],
            expect: None,
        },
    ];

    #[test]
    fn set_blocking_table() {
        for case in CASES {
            let got = set_blocking(case.source, case.gates)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(got.as_deref(), case.expect, "{}", case.name);
        }
    }

    #[test]
    fn unknown_gate_and_bad_toml_are_errors() {
        assert_eq!(
            set_blocking("[gates.a]\n", &["b"]),
            Err(WriteBackError::NoGate("b".into()))
        );
        assert!(matches!(
            set_blocking("[gates.a\n", &["a"]),
            Err(WriteBackError::Parse(_))
        ));
    }
}
