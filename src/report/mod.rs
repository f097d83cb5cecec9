//! Reports: the model every format derives from, and the writers.

pub mod annotations;
pub mod formats;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod metrics;
pub mod model;
pub mod signature;

pub use model::{
    BaselineReport, ExportedMetric, FindingReport, GateReport, RanAt, Report, Summary,
    TestCaseReport, ThresholdReport, UndeclaredReport,
};
