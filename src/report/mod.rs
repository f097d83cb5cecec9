//! Reports: the model every format derives from, and the writers.

pub mod formats;
pub mod json;
pub mod merge;
pub mod model;
pub mod progress;

pub use model::{ExportedMetric, GateReport, Report, Summary, ThresholdReport};
