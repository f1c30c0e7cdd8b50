//! The vocabulary of the runtime boundary: plain data, no Docker or Kubernetes types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use slipway_core::output::{LogLine, LogStream, LogsQuery};

/// Where an app's releases run. Today an app has one environment; the environments
/// issue adds more per app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub app_id: Uuid,
    pub app: String,
}

/// One replica of one process of a release.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaSpec {
    pub env: Environment,
    pub release: Uuid,
    pub process: String,
    /// 1-based.
    pub replica: u32,
    /// Unique per installation: the key under which the replica is recorded.
    pub name: String,
    pub image: String,
    /// The TCP port the process listens on (web processes take traffic there).
    pub port: u16,
    /// The process' environment variables, complete (config vars and Slipway's own).
    pub vars: BTreeMap<String, String>,
    /// Replaces the image's command when set.
    pub command: Option<Vec<String>>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
}

impl ReplicaSpec {
    /// Only `web` processes take HTTP traffic and are health-checked over HTTP.
    pub fn is_web(&self) -> bool {
        slipway_core::spec::ProcessSpec::is_web(&self.process)
    }
}

/// A process run once to completion (a test run) in an environment.
#[derive(Clone, Debug, PartialEq)]
pub struct OneOffSpec {
    pub env: Environment,
    /// The deployment it belongs to: `retire` of it removes the run too.
    pub release: Uuid,
    /// Unique per installation.
    pub name: String,
    /// What it is, for the runtime's labels (`test`).
    pub purpose: String,
    pub image: String,
    /// The app's port (tests may start the app and talk to it); nothing is routed to it.
    pub port: u16,
    /// Replaces the image's command when set.
    pub command: Option<Vec<String>>,
    pub vars: BTreeMap<String, String>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub timeout: std::time::Duration,
    /// A file the process writes (a test report), copied out after it ends.
    pub collect: Option<String>,
}

/// How a one-off process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// `None` when it was stopped (time limit, or asked to stop) before it exited.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    /// Stopped because the caller asked.
    pub stopped: bool,
    pub oom_killed: bool,
    /// The file `OneOffSpec::collect` names, when one was asked for.
    pub collected: Option<Collected>,
}

/// A file copied out of a finished one-off process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collected {
    File(Vec<u8>),
    /// The process did not write it.
    Missing,
    /// Why it could not be copied (too large, not a regular file, …).
    Unreadable(String),
}

/// A started replica and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// The runtime's own id for it.
    pub id: String,
    pub name: String,
    /// Its address inside the environment, if it has one yet.
    pub ip: Option<String>,
    /// A port on the worker's host that reaches it, when the runtime publishes one.
    pub host_port: Option<u16>,
    /// The port it listens on.
    pub port: u16,
}

/// A replica as the runtime lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaInfo {
    pub id: String,
    pub name: String,
    /// The release it belongs to, from its labels; `None` if they are unreadable.
    pub release: Option<Uuid>,
    pub process: Option<String>,
    /// Running, or about to run again (the runtime restarts it by itself).
    pub alive: bool,
}

/// A replica's process, as the runtime sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    pub running: bool,
    /// Between a death and the runtime's own restart of it.
    pub restarting: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// The runtime's error starting the process, if any.
    pub error: Option<String>,
    /// How often the runtime restarted it in place.
    pub restart_count: i64,
}

impl ReplicaState {
    /// Running, or about to be restarted by the runtime itself.
    pub fn alive(&self) -> bool {
        self.running || self.restarting
    }
}

/// The outcome of waiting for a web replica's health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Passed the required number of consecutive checks; the last status seen.
    Serving { status: u16 },
    /// The process exited: its exit code and the runtime's error, if any.
    Exited {
        exit_code: Option<i64>,
        error: Option<String>,
        oom_killed: bool,
    },
    /// The time ran out; the last response or connection error.
    TimedOut { last_error: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicaEventKind {
    /// The process ended (exited, was killed, or the replica was removed while running).
    Died {
        exit_code: Option<i64>,
    },
    /// The kernel killed it for going over its memory limit.
    OutOfMemory,
    Started,
}

/// Something that happened to a replica of this installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaEvent {
    pub replica: String,
    /// The runtime's id of the replica (a replica recreated under the same name gets
    /// a new one).
    pub replica_id: String,
    pub release: Option<Uuid>,
    pub process: Option<String>,
    pub kind: ReplicaEventKind,
    /// When it happened, by the runtime's clock: the same event seen by two workers
    /// carries the same time.
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeErrorKind {
    /// The replica, network or namespace asked about does not exist.
    NotFound,
    /// The runtime did not answer (Docker Engine down, cluster unreachable).
    Unreachable,
    /// No room left for the environment (Docker: the subnet pool is exhausted).
    Exhausted,
    /// Anything else the runtime refused.
    Refused,
}

/// A runtime failure, its message worded for the deployment log (it names what was
/// being done and carries the runtime's own words).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct RuntimeError {
    pub kind: RuntimeErrorKind,
    pub message: String,
}

impl RuntimeError {
    pub fn new(kind: RuntimeErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == RuntimeErrorKind::NotFound
    }

    /// For metrics: one label per kind.
    pub fn label(&self) -> &'static str {
        match self.kind {
            RuntimeErrorKind::NotFound => "not_found",
            RuntimeErrorKind::Unreachable => "unreachable",
            RuntimeErrorKind::Exhausted => "exhausted",
            RuntimeErrorKind::Refused => "refused",
        }
    }
}
