//! The vocabulary every other module speaks: statuses, modes, metric paths, cache keys,
//! durations, byte sizes, the clock, labels and run outcomes. It imports nothing of the crate,
//! so it is the first thing to read.

pub mod cache_key;
pub mod clock;
pub mod duration;
pub mod exit_code;
pub mod label;
pub mod metric_path;
pub mod mode;
pub mod size;
pub mod status;

pub use cache_key::{CacheKey, hex};
pub use label::Label;
pub use metric_path::MetricPath;
pub use mode::Mode;
pub use status::{Status, TestStatus};
