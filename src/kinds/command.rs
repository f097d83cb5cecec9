//! The `command` kind (the default): `run` executed with `sh -c` from the config folder. The
//! scheduler spawns it (`proc::command`); it is never evaluated in process.

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};

/// `kind = "command"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandSpec {
    /// The shell command.
    pub run: String,
}

impl Kind for CommandSpec {
    const NAME: &'static str = "command";
    const KEYS: &'static [&'static str] = &["run"];
    const ITEMS: &'static str = "commands";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        Some(CommandSpec {
            run: p.required("run")?,
        })
    }

    fn evaluate(&self, _ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError> {
        Err(BuiltinError::Other(
            "command gates are spawned, not evaluated in process".to_owned(),
        ))
    }
}
