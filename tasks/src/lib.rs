//! Programs that `runner`'s own gate suite runs: the registry dev stub, the
//! dream drift harness, the memoria compression smoke test, the audit
//! normalizer and the post-quantum signature benchmark.
//!
//! Each binary in `src/bin/` only parses its arguments and calls into these
//! modules, so the behaviour is unit-tested here.

pub mod args;
pub mod atomic_write;
pub mod audit;
pub mod dream;
pub mod failure;
pub mod memoria;
pub mod pqc;
pub mod prng;
pub mod registry;

pub use args::{Args, Opt, OptKind};
pub use atomic_write::{write_atomic_io, write_json_atomic};
pub use failure::Failure;
