//! Docker's container events as the runtime's replica events: resubscribed after a
//! broken stream from the last event seen, so a Docker restart loses nothing it still
//! remembers.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use slipway_core::labels::{LABEL_DEPLOYMENT_ID, LABEL_MANAGED, LABEL_PROCESS};
use slipway_docker::{ContainerEvent, DockerClient};
use uuid::Uuid;

use crate::runtime::{ReplicaEvent, ReplicaEventKind};

/// Pause before resubscribing to a stream that broke (Docker restarting, say).
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

struct Cursor {
    docker: DockerClient,
    /// Where to resume: Docker replays from `since` inclusive, so the last event handled
    /// comes again and is skipped by `last`.
    since: chrono::DateTime<chrono::Utc>,
    last: Option<(String, String, Option<chrono::DateTime<chrono::Utc>>)>,
    events: Option<BoxStream<'static, Result<ContainerEvent, slipway_docker::DockerError>>>,
}

pub(super) fn replica_events(docker: DockerClient) -> BoxStream<'static, ReplicaEvent> {
    let cursor = Cursor {
        docker,
        since: chrono::Utc::now(),
        last: None,
        events: None,
    };
    futures_util::stream::unfold(cursor, |mut cursor| async move {
        loop {
            let events = match &mut cursor.events {
                Some(events) => events,
                None => cursor.events.insert(
                    cursor
                        .docker
                        .container_events_since(&[(LABEL_MANAGED, "true")], cursor.since)
                        .boxed(),
                ),
            };
            match events.next().await {
                Some(Ok(event)) => {
                    let key = (event.id.clone(), event.action.clone(), event.at);
                    if cursor.last.as_ref() == Some(&key) {
                        continue;
                    }
                    cursor.last = Some(key);
                    if let Some(at) = event.at {
                        cursor.since = at;
                    }
                    if let Some(replica_event) = translate(event) {
                        return Some((replica_event, cursor));
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Docker event stream failed; resubscribing");
                    cursor.events = None;
                    tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                }
                None => {
                    cursor.events = None;
                    tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                }
            }
        }
    })
    .boxed()
}

fn translate(event: ContainerEvent) -> Option<ReplicaEvent> {
    let kind = match event.action.as_str() {
        "die" => ReplicaEventKind::Died {
            exit_code: event.exit_code,
        },
        "oom" => ReplicaEventKind::OutOfMemory,
        "start" => ReplicaEventKind::Started,
        _ => return None,
    };
    Some(ReplicaEvent {
        release: event
            .labels
            .get(LABEL_DEPLOYMENT_ID)
            .and_then(|id| Uuid::parse_str(id).ok()),
        process: event.labels.get(LABEL_PROCESS).cloned(),
        replica: event.name,
        replica_id: event.id,
        kind,
        at: event.at.unwrap_or_else(chrono::Utc::now),
    })
}
