//! Connecting to the Docker Engine.

use std::collections::HashMap;

use bollard::Docker;

use crate::DockerError;
use crate::build_session::SessionHost;

/// A handle on one Docker Engine. Cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub struct DockerClient {
    pub(crate) docker: Docker,
    /// Where a build's BuildKit session connects: the daemon `docker` talks to.
    pub(crate) session_host: SessionHost,
}

impl DockerClient {
    /// Connects and negotiates the API version.
    ///
    /// `None` uses the local defaults: `DOCKER_HOST` if set, else the unix socket
    /// `/var/run/docker.sock`. `Some` takes `unix:///path` (or a bare `/path`),
    /// `tcp://host:port` or `http://host:port`.
    #[tracing::instrument(level = "debug")]
    pub async fn connect(docker_host: Option<&str>) -> Result<Self, DockerError> {
        // bollard's own defaults: DOCKER_HOST, else the local socket.
        let host = match docker_host.map(str::trim) {
            None | Some("") => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.trim().is_empty())
                .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned()),
            Some(path) if path.starts_with('/') => format!("unix://{path}"),
            Some(host) => host.to_owned(),
        };
        let docker = Docker::connect_with_host(&host)?;
        let docker = docker.negotiate_version().await?;
        Ok(Self {
            docker,
            session_host: SessionHost::parse(&host),
        })
    }

    /// Checks that the daemon answers.
    pub async fn ping(&self) -> Result<(), DockerError> {
        self.docker.ping().await?;
        Ok(())
    }

    /// The daemon's own description of itself, e.g. `Docker Engine 20.10.24 (API 1.41)`,
    /// for a worker's heartbeat.
    pub async fn version(&self) -> Result<String, DockerError> {
        let v = self.docker.version().await?;
        let unknown = || "unknown".to_owned();
        Ok(format!(
            "Docker Engine {} (API {})",
            v.version.unwrap_or_else(unknown),
            v.api_version.unwrap_or_else(unknown)
        ))
    }

    /// Whether the daemon builds with BuildKit through the Engine API without a session:
    /// a Linux daemon with API 1.39 (Docker 18.09) or later, where `version=2` builds
    /// appeared.
    pub async fn supports_buildkit(&self) -> Result<bool, DockerError> {
        let v = self.docker.version().await?;
        let linux =
            v.os.as_deref()
                .is_none_or(|os| os.eq_ignore_ascii_case("linux"));
        Ok(linux && v.api_version.as_deref().is_some_and(api_at_least_1_39))
    }
}

/// `1.41` → true, `1.38` → false.
fn api_at_least_1_39(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (1, 39)
}

/// The `filters` query parameter for a list call: `label=key=value` for each pair (AND).
pub(crate) fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut filters = HashMap::new();
    if !labels.is_empty() {
        let values = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        filters.insert("label".to_owned(), values);
    }
    filters
}

#[cfg(test)]
mod tests {
    #[test]
    fn buildkit_needs_api_1_39() {
        assert!(super::api_at_least_1_39("1.41"));
        assert!(super::api_at_least_1_39("1.39"));
        assert!(super::api_at_least_1_39("2.0"));
        assert!(!super::api_at_least_1_39("1.38"));
        assert!(!super::api_at_least_1_39("garbage"));
    }
}
