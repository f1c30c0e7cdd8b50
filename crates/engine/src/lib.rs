//! The deployment pipeline (clone → config → build → release) and the worker loop that
//! claims deployments from the Postgres queue, holds their leases, reconciles running
//! releases with the runtime, watches their containers, and tears deleted apps down.

mod failure;
mod health;
pub mod heartbeat;
mod lease;
mod logsink;
mod networks;
mod pipeline;
pub mod reconcile;
mod replicas;
pub mod runtime_logs;
mod teardown;
pub mod watcher;
mod workdir;
mod worker;

pub use failure::Failure;
pub use worker::{Context, Worker, WorkerError};
