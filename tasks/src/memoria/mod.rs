//! The memoria smoke test: compress fixed sample documents with deflate,
//! decode them, and measure ratio and loss.

mod codec;
mod report;
mod sample;

pub use codec::{DEFAULT_LEVEL, compress, decompress};
pub use report::{DocumentResult, MemoriaReport, token_differences};
pub use sample::{Sample, load_samples};
