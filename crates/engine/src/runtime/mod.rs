//! The runtime boundary: what the pipeline, the reconciler and the watcher ask of the
//! place where releases run, in PaaS terms (environments, releases, replicas), never in
//! Docker's or Kubernetes' terms. [`docker::DockerRuntime`] implements it with the
//! Docker Engine; a Kubernetes runtime must give the same guarantees, which each method
//! documents.
//!
//! Companion services (a Redis beside the app) join the boundary with the environments
//! work that defines their lifecycle; until then `[services]` is parsed but not run.
//!
//! Images are not the runtime's business: they are built through the Docker Engine in
//! every mode (see `pipeline::build`), and a runtime only runs them.

pub mod docker;
mod types;

use std::time::Duration;

use futures_util::stream::BoxStream;
use slipway_core::spec::HealthCheck;
use uuid::Uuid;

pub use types::{
    Collected, Completed, Environment, Health, LogLine, LogStream, LogsQuery, OneOffSpec, Replica,
    ReplicaEvent, ReplicaEventKind, ReplicaInfo, ReplicaSpec, ReplicaState, RuntimeError,
    RuntimeErrorKind,
};

/// Where releases run. Every method may be called by several workers at once for the
/// same app (the reconciler serialises per app with a database lock, the pipeline per
/// deployment with its lease); implementations must tolerate that.
#[async_trait::async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Whether the runtime answers, with its own words for what it is (engine version,
    /// cluster). Workers put this in their heartbeat. Read-only.
    async fn ping(&self) -> Result<String, RuntimeError>;

    /// Once per worker start, before anything else: shared infrastructure this
    /// installation needs (Docker: the shared network, and Traefik and the workers
    /// attached to every app network). Idempotent.
    async fn start_up(&self) -> Result<(), RuntimeError>;

    /// Background upkeep the runtime needs for as long as the worker runs (Docker:
    /// re-attaching a recreated Traefik to the app networks). Returns when `shutdown`
    /// fires. Errors are the runtime's to log and retry; nothing is reported.
    async fn maintain(&self, shutdown: tokio_util::sync::CancellationToken);

    /// Makes the environment's isolation boundary exist (Docker: a network of its own,
    /// reachable by Traefik and the workers only; Kubernetes: a namespace). Idempotent:
    /// for an environment that exists it only repairs what is missing. On error it may
    /// leave the boundary half-made, in a state the next call completes or reuses. The
    /// error's message is worded for the deployment log.
    async fn prepare(&self, env: &Environment) -> Result<(), RuntimeError>;

    /// Starts one replica and returns where to reach it. A replica of the same name
    /// (an earlier attempt) is replaced, so a retry is idempotent. On error nothing of
    /// this replica is left behind.
    async fn start(&self, spec: &ReplicaSpec) -> Result<Replica, RuntimeError>;

    /// Waits until a web replica passes `check` (`check.retries` answers in a row) within
    /// `limit`, watching the replica too, so a crash is reported at once rather than
    /// as a timeout. Changes nothing.
    async fn wait_healthy(&self, replica: &Replica, check: &HealthCheck, limit: Duration)
    -> Health;

    /// The state of one replica's process; `None` when the replica does not exist.
    async fn state(&self, replica: &str) -> Result<Option<ReplicaState>, RuntimeError>;

    /// The last `lines` lines a replica wrote, oldest first, for failure reports.
    async fn output_tail(&self, replica: &str, lines: usize) -> Result<Vec<String>, RuntimeError>;

    /// Stops one replica (`grace` to finish in-flight work, then killed) and removes it.
    /// Idempotent: a replica that is already gone is success.
    async fn stop(&self, replica: &str, grace: Duration) -> Result<(), RuntimeError>;

    /// The replicas the runtime holds for one release, in any state.
    async fn replicas_of(&self, release: Uuid) -> Result<Vec<ReplicaInfo>, RuntimeError>;

    /// Every replica of this installation (not of another installation sharing the
    /// runtime), in any state: the start-up sweep removes those no release accounts for.
    async fn all_replicas(&self) -> Result<Vec<ReplicaInfo>, RuntimeError>;

    /// Stops and removes every replica of a release; returns their names. Idempotent.
    /// On error some replicas may remain; calling it again removes them.
    async fn retire(&self, release: Uuid, grace: Duration) -> Result<Vec<String>, RuntimeError>;

    /// A replica's output as lines, oldest first; `query.follow` keeps the stream open
    /// for new lines. A replica that does not exist is an error item of kind
    /// `NotFound`. Dropping the stream ends it.
    fn logs(
        &self,
        replica: &str,
        query: &LogsQuery,
    ) -> BoxStream<'static, Result<LogLine, RuntimeError>>;

    /// Lifecycle events of this installation's replicas (deaths, out-of-memory kills,
    /// starts) from now on, for as long as the stream is polled: the implementation
    /// resumes by itself after a broken connection, and may repeat an event across a
    /// break but does not skip one it could still see.
    fn events(&self) -> BoxStream<'static, ReplicaEvent>;

    /// Runs a one-off process (a test run) until it exits, `spec.timeout` passes or
    /// `stop` fires, handing each line it writes to `output` as it comes. It runs
    /// isolated from the environment's replicas (Docker: on a network of its own); no
    /// traffic reaches it and it is never restarted. `spec.collect` is copied out after
    /// it ends. Whatever happens (exit, timeout, stop, error) the process and its
    /// isolation are removed before this returns; only when the future is dropped
    /// midway may they remain, and then `retire(spec.release)` removes the process and
    /// `destroy` of the environment the rest.
    async fn run_to_completion(
        &self,
        spec: &OneOffSpec,
        output: &(dyn Fn(LogLine) + Send + Sync),
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<Completed, RuntimeError>;

    /// Removes an environment with everything it owns (replicas, network or
    /// namespace). Idempotent; on error what remains is removed by the next call.
    async fn destroy(&self, env: &Environment) -> Result<(), RuntimeError>;
}

/// How long the runtime may take to stop a replica of a retired release.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
