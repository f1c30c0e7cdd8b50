//! The database's live events, fanned out to this API instance's WebSocket clients.
//!
//! One `LISTEN slipway_events` connection per instance, opened by the first client: the
//! triggers in the `live_events` migration notify on every deployment status change and
//! every batch of log lines, whichever process made it, so any instance serves any client.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use slipway_core::{DeploymentStatus, TestRunStatus};
use slipway_store::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{OnceCell, broadcast};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const CHANNEL: &str = "slipway_events";

/// Events buffered for the slowest client before it is told it fell behind: a deploy's
/// status changes plus log batches fit many times over; a client that is minutes behind
/// does not.
const BUFFER: usize = 1024;

/// What a notification says: ids and positions, not content (NOTIFY payloads are small).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Status {
        deployment: Uuid,
        app: Uuid,
        /// The deployment's kind: `test` carries a standalone test run.
        kind: String,
        status: DeploymentStatus,
    },
    Log {
        deployment: Uuid,
        app: Uuid,
        first_seq: i64,
        last_seq: i64,
    },
    /// A test run was queued or changed status; `deployment` carries it (and its log).
    TestRun {
        test_run: Uuid,
        deployment: Uuid,
        app: Uuid,
        status: TestRunStatus,
    },
}

impl Event {
    pub fn app(&self) -> Uuid {
        match self {
            Event::Status { app, .. } | Event::Log { app, .. } | Event::TestRun { app, .. } => *app,
        }
    }

    pub fn deployment(&self) -> Uuid {
        match self {
            Event::Status { deployment, .. }
            | Event::Log { deployment, .. }
            | Event::TestRun { deployment, .. } => *deployment,
        }
    }
}

#[derive(Default)]
pub struct Feed {
    sender: OnceCell<broadcast::Sender<Arc<Event>>>,
}

impl Feed {
    /// A receiver of every event from now on. The first call starts listening and returns
    /// only once LISTEN is in place, so a client's first action is never missed.
    pub async fn subscribe(
        &self,
        pool: &PgPool,
        shutdown: &CancellationToken,
    ) -> Result<broadcast::Receiver<Arc<Event>>, sqlx::Error> {
        let sender = self
            .sender
            .get_or_try_init(|| async {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                let (sender, _) = broadcast::channel(BUFFER);
                tokio::spawn(forward(listener, sender.clone(), shutdown.clone()));
                Ok::<_, sqlx::Error>(sender)
            })
            .await?;
        Ok(sender.subscribe())
    }
}

async fn forward(
    mut listener: PgListener,
    sender: broadcast::Sender<Arc<Event>>,
    shutdown: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = listener.recv() => received,
        };
        match received {
            Ok(notification) => match serde_json::from_str::<Event>(notification.payload()) {
                // No receivers is fine: clients come and go.
                Ok(event) => drop(sender.send(Arc::new(event))),
                Err(e) => tracing::warn!(error = %e, "live events: unreadable notification"),
            },
            Err(e) => {
                // PgListener reconnects on the next recv; events in the gap are lost, which
                // clients learn about from the next status (they carry the whole state).
                tracing::warn!(error = %e, "live events: listener lost its connection");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
