//! Slipway's REST API. It records intent in Postgres and has no access to the runtime:
//! readiness comes from the workers' heartbeats, runtime logs from a worker, and the
//! workers do all building and running.

mod auth;
mod dashboard;
mod error;
mod extract;
mod git;
mod idempotency;
mod limits;
pub mod openapi;
mod paging;
mod routes;
mod state;
mod views;

pub use error::ApiError;
pub use routes::{openapi as openapi_document, router};
pub use state::AppState;
