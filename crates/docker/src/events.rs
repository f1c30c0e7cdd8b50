//! Container lifecycle events (die, oom, start, …) from the daemon's event stream.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptionsBuilder;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use crate::client::label_filters;
use crate::{DockerClient, DockerError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    pub id: String,
    pub name: String,
    /// Docker's action: `die`, `oom`, `start`, `kill`, `stop`, `destroy`, …
    pub action: String,
    /// Set on `die`.
    pub exit_code: Option<i64>,
    /// The container's labels (Docker sends them among the actor's attributes).
    pub labels: HashMap<String, String>,
    pub at: Option<DateTime<Utc>>,
}

/// Actor attributes that are Docker's own, not container labels.
const NOT_LABELS: [&str; 4] = ["name", "image", "exitCode", "signal"];

impl DockerClient {
    /// Events of containers carrying all the given labels, from now on. The stream ends
    /// or errors when the daemon goes away; callers resubscribe.
    pub fn container_events(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static + use<> {
        let mut filters = label_filters(labels);
        filters.insert("type".to_owned(), vec!["container".to_owned()]);
        let options = EventsOptionsBuilder::new().filters(&filters).build();
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
