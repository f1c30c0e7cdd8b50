//! The deployment pipeline (clone → config → build → release) and the worker loop that
//! claims deployments from the Postgres queue, holds their leases, reconciles running
//! releases with the runtime, watches their replicas, and tears deleted apps down. The
//! pipeline, reconciler and watcher reach the runtime only through [`runtime::Runtime`].

mod app_images;
mod error;
mod failure;
pub mod heartbeat;
mod lease;
mod logsink;
mod pipeline;
pub mod reconcile;
mod replicas;
pub mod runtime;
pub mod runtime_logs;
mod teardown;
mod test_report;
pub mod watcher;
mod workdir;
mod worker;

pub use error::EngineError;
pub use failure::Failure;
pub use worker::{Context, Worker, WorkerError};
