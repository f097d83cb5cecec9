//! Processes the runner starts: process groups with one stop policy (`group`), command gates
//! (`command`), the handlers and the guardian that take every group down with the runner
//! (`signals`, `guardian`), and the tails of their logs (`tail`).

pub mod command;
pub mod group;
pub mod guardian;
pub mod signals;
pub mod tail;

pub use command::{CommandSpec, ProcessEnd};
pub use group::{GRACE, Group, Spawn};
