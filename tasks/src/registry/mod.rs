//! The registry dev stub: a tiny in-memory HTTP service on `std::net` that
//! stands in for the MATRIZ node registry during development and CI.

mod http;
mod router;
mod server;
mod store;

pub use http::{ReadError, Request, Response, read_request};
pub use router::handle;
pub use server::{DEFAULT_PORT, ENVIRONMENT_VARS, Server, check_environment};
pub use store::CheckpointStore;
