//! Slipway's REST API. It records intent in Postgres and reads the runtime only to
//! report readiness; the worker does all building and running.

mod auth;
mod dashboard;
mod error;
mod extract;
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
