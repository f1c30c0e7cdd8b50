//! Container lifecycle events (die, oom, start, …) from the daemon's event stream.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptionsBuilder;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::client::label_filters;
use crate::{DockerClient, DockerError};

/// One container event, as Engine 20.10 sends them (seen on cgroup v1):
///
/// - A process that exits, or is killed from inside the container or by the kernel:
///   `die` (with `exit_code`); then `start` if the restart policy reruns it. There is
///   no `restart` event for a policy restart (`restart` follows only an API/CLI
///   restart), and no event at all when an `on-failure:n` policy gives up.
/// - OOM kill: `oom` (sometimes twice) and `die` with 137, usually in that order but
///   not always: judge a `die` by the container's `OOMKilled`, not by a prior `oom`.
/// - `docker kill`: `kill` (its `signal` attribute, not kept), then `die` with 137.
/// - `docker stop`: `kill` (signal 15), `die` (143 if the process obeyed), `stop`.
/// - Execs: `exec_create: <cmd>`, `exec_start: <cmd>`, `exec_die` with the exec's own
///   `exit_code`: only `die` is the container's process.
/// - Removal: `destroy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    pub id: String,
    pub name: String,
    /// Docker's action: `die`, `oom`, `start`, `kill`, `stop`, `destroy`, …
    pub action: String,
    /// Set on `die` (and on `exec_die`, for the exec).
    pub exit_code: Option<i64>,
    /// The container's labels (Docker sends them among the actor's attributes).
    pub labels: HashMap<String, String>,
    pub at: Option<DateTime<Utc>>,
}

/// Actor attributes that are Docker's own, not container labels. Docker copies the
/// labels over its attributes, so a label with one of these keys would replace them.
const NOT_LABELS: [&str; 5] = ["name", "image", "exitCode", "signal", "execID"];

impl DockerClient {
    /// Events of containers carrying all the given labels (AND), from the moment of
    /// this call on, even though the request only goes out when the stream is first
    /// polled: Docker replays what happened in between from its buffer.
    /// The stream ends or errors when the daemon goes away; callers resubscribe with
    /// [`DockerClient::container_events_since`].
    pub fn container_events(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static + use<> {
        self.container_events_since(labels, Utc::now())
    }

    /// Like [`DockerClient::container_events`], starting at `since` (inclusive): pass
    /// the last event's `at` to resume after a broken stream without a gap, or with
    /// one repeated event. Docker replays past events only from an in-memory buffer
    /// of its last 256 events (of all kinds, all containers), and compares `since`
    /// with its own clock.
    pub fn container_events_since(
        &self,
        labels: &[(&str, &str)],
        since: DateTime<Utc>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static + use<> {
        let mut filters = label_filters(labels);
        filters.insert("type".to_owned(), vec!["container".to_owned()]);
        let since = format!(
            "{}.{:09}",
            since.timestamp(),
            since.timestamp_subsec_nanos()
        );
        let options = EventsOptionsBuilder::new()
            .since(&since)
            .filters(&filters)
            .build();
        // The stream is open-ended: no request timeout for it.
        let docker = self
            .docker
            .clone()
            .with_timeout(std::time::Duration::from_secs(u64::from(u32::MAX)));
        docker.events(Some(options)).map(|event| {
            let event = event?;
            let actor = event.actor.unwrap_or_default();
            let attributes = actor.attributes.unwrap_or_default();
            Ok(ContainerEvent {
                id: actor.id.unwrap_or_default(),
                name: attributes.get("name").cloned().unwrap_or_default(),
                action: event.action.unwrap_or_default(),
                exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
                at: event
                    .time_nano
                    .map(DateTime::from_timestamp_nanos)
                    .or_else(|| event.time.and_then(|t| DateTime::from_timestamp(t, 0))),
                labels: attributes
                    .into_iter()
                    .filter(|(k, _)| !NOT_LABELS.contains(&k.as_str()))
                    .collect(),
            })
        })
    }
}
