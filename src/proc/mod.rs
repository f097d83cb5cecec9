//! Processes the runner starts: process groups with one stop policy (`group`), command gates
//! (`command`), the handlers and the guardian that take every group down with the runner
//! (`signals`, `guardian`), and the tails of their logs (`tail`).

pub(crate) mod command;
pub(crate) mod group;
pub(crate) mod guardian;
pub(crate) mod shell;
pub(crate) mod signals;
pub(crate) mod tail;
pub(crate) mod trace;

pub(crate) use command::{CommandSpec, ProcessEnd};
pub(crate) use group::{GRACE, Group, Spawn, SpawnEnv};
