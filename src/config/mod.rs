//! gates.toml: loading (with spans), validation, and the validated model.

mod load;
mod model;
mod overlap;
mod snapshot;
pub mod threshold_expr;

pub use load::{LoadError, all_gate_keys, load, parse};
pub use model::{
    BaselineThreshold, CacheSettings, Config, EnvMode, Gate, InputGlob, NarrowedNeed,
    RemoteCacheSettings, Settings, SigningSettings, Statistic, Threshold, is_glob,
};
