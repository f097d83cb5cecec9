//! The dream drift harness: a seeded simulation per seed, compared with a
//! committed baseline.

mod baseline;
mod drift;
mod simulation;

pub use baseline::{BASELINE_VERSION, Baseline};
pub use drift::{DriftReport, SeedDrift};
pub use simulation::{DEFAULT_STEPS, Simulation};
