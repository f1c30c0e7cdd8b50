//! The deployment pipeline (clone → build → release) and the worker loop that claims
//! deployments from the Postgres queue, holds their leases, and tears deleted apps down.

mod failure;
mod health;
mod lease;
mod logsink;
mod pipeline;
mod teardown;
mod worker;

pub use failure::Failure;
pub use worker::{Context, Worker, WorkerError};
