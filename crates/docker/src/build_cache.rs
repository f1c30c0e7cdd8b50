//! Bounding BuildKit's cache: layers and `RUN --mount=type=cache` directories pile up
//! on the daemon's disk with every build until something prunes them.

use bollard::query_parameters::PruneBuildOptions;

use crate::{DockerClient, DockerError};

impl DockerClient {
    /// Prunes BuildKit's cache down to `keep` bytes, least recently used first; records
    /// in use by a running build stay. Returns the bytes reclaimed.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn prune_build_cache(&self, keep: u64) -> Result<u64, DockerError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let options = PruneBuildOptions {
            // Every kind of record, cache mounts included: otherwise they are never
            // counted against the bound.
            all: Some(true),
            reserved_space: Some(keep),
            max_used_space: Some(keep),
            ..Default::default()
        };
        // API versions before 1.48 (Docker 20.10 among them) only know `keep-storage`,
        // which bollard does not send; newer ones read `reserved-space` and
        // `max-used-space`. Every version ignores the parameters it does not know.
        let docker = self
            .docker
            .clone()
            .with_request_modifier(move |mut request| {
                let uri = request.uri();
                if uri.path().ends_with("/build/prune") {
                    let query = match uri.query() {
                        Some(q) if !q.is_empty() => format!("{q}&keep-storage={keep}"),
                        _ => format!("keep-storage={keep}"),
                    };
                    let mut parts = uri.clone().into_parts();
                    if let Ok(pq) = format!("{}?{query}", uri.path()).parse() {
                        parts.path_and_query = Some(pq);
                        if let Ok(rewritten) = http::Uri::from_parts(parts) {
                            *request.uri_mut() = rewritten;
                        }
                    }
                }
                request
            });
        let pruned = docker.prune_build(Some(options)).await?;
        Ok(pruned
            .space_reclaimed
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0))
    }
}
