//! Slipway's REST API. It records intent in Postgres and has no access to the runtime:
//! readiness comes from the workers' heartbeats, runtime logs from a worker, and the
//! workers do all building and running.

mod auth;
pub mod callbacks;
mod dashboard;
mod error;
mod extract;
mod git;
mod hooks;
mod idempotency;
mod limits;
pub mod openapi;
mod paging;
mod routes;
mod state;
mod views;
mod webhook_secret;
mod ws;

pub use error::ApiError;
pub use hooks::MAX_HOOK_BODY;
pub use routes::{openapi as openapi_document, router};
pub use state::AppState;
