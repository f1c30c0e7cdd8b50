//! Runtime logs of an app: its running release's containers' stdout and stderr, each
//! line tagged with its container and process. The API has no access to the runtime, so
//! it asks a worker, whose internal server calls these functions; they know nothing of
//! HTTP, so that the Kubernetes runtime can serve the same requests later.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use slipway_store::containers::{self, ContainerRow};
use slipway_store::{PgPool, StoreError, deployments};
use uuid::Uuid;

use crate::runtime::{LogLine, LogStream, LogsQuery, Runtime, RuntimeError};

/// What to read, already validated by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsRequest {
    /// The last this many lines, over all containers together.
    pub tail: usize,
    /// Only lines written at or after this Unix time (seconds).
    pub since: Option<i64>,
    /// Only this process type's containers.
    pub process: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

impl OutputStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeLine {
    pub container: String,
    pub process: String,
    pub stream: OutputStream,
    /// When the runtime received the line.
    pub at: Option<DateTime<Utc>>,
    pub line: String,
}

/// An item of a followed log: a line, or why one container's stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    Line(RuntimeLine),
    /// `container: what went wrong`, in the runtime's words.
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeLogsError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The runtime refused one container's logs; its own words, naming the container.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// The lines written so far, interleaved by time; `tail` applies to the merged result.
/// `deployment_id` is the running release they come from, if any.
pub struct Snapshot {
    pub deployment_id: Option<Uuid>,
    pub lines: Vec<RuntimeLine>,
}

/// The last `tail` lines, then new ones as they are written. It ends when every
/// container's stream has ended (containers removed); dropping it closes them.
pub struct Follow {
    pub deployment_id: Option<Uuid>,
    pub lines: BoxStream<'static, Followed>,
}

/// The running release's containers that `request` selects.
async fn containers(
    pool: &PgPool,
    app_id: Uuid,
    request: &LogsRequest,
) -> Result<(Option<Uuid>, Vec<ContainerRow>), StoreError> {
    let current = deployments::current_release(pool, app_id).await?;
    let containers = match &current {
        Some(d) => containers::list(pool, d.id).await?,
        None => Vec::new(),
    };
    let containers = containers
        .into_iter()
        .filter(|c| request.process.as_ref().is_none_or(|p| &c.process == p))
        .collect();
    Ok((current.map(|d| d.id), containers))
}

fn query(request: &LogsRequest, follow: bool) -> LogsQuery {
    LogsQuery {
        tail: Some(request.tail),
        since: request.since,
        follow,
    }
}

fn tagged(container: &str, process: &str, line: LogLine) -> RuntimeLine {
    RuntimeLine {
        container: container.to_owned(),
        process: process.to_owned(),
        stream: match line.stream {
            LogStream::Stdout => OutputStream::Stdout,
            LogStream::Stderr => OutputStream::Stderr,
        },
        at: line.at,
        line: line.text,
    }
}

#[tracing::instrument(skip_all, fields(app_id = %app_id))]
pub async fn snapshot(
    pool: &PgPool,
    runtime: &dyn Runtime,
    app_id: Uuid,
    request: &LogsRequest,
) -> Result<Snapshot, RuntimeLogsError> {
    let (deployment_id, containers) = containers(pool, app_id, request).await?;
    let query = query(request, false);
    let mut lines = Vec::new();
    for c in &containers {
        let mut stream = runtime.logs(&c.container_id, &query);
        while let Some(line) = stream.next().await {
            match line {
                Ok(line) => lines.push(tagged(&c.name, &c.process, line)),
                // Gone since it was listed (scaled away): its lines are gone with it.
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    lines.sort_by_key(|l| l.at);
    let skip = lines.len().saturating_sub(request.tail);
    lines.drain(..skip);
    Ok(Snapshot {
        deployment_id,
        lines,
    })
}

#[tracing::instrument(skip_all, fields(app_id = %app_id))]
pub async fn follow(
    pool: &PgPool,
    runtime: &dyn Runtime,
    app_id: Uuid,
    request: &LogsRequest,
) -> Result<Follow, RuntimeLogsError> {
    let (deployment_id, containers) = containers(pool, app_id, request).await?;
    let query = query(request, true);
    let streams = containers.into_iter().map(|c| {
        let (name, process) = (c.name, c.process);
        runtime
            .logs(&c.container_id, &query)
            .map(move |line| match line {
                Ok(line) => Followed::Line(tagged(&name, &process, line)),
                Err(e) => Followed::Error(e.to_string()),
            })
    });
    Ok(Follow {
        deployment_id,
        lines: futures_util::stream::select_all(streams).boxed(),
    })
}
