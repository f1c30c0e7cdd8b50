//! Containers: run, inspect, logs, stop, list.

use std::collections::HashMap;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings,
    HostConfig, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use crate::client::label_filters;
use crate::error::ok_if_not_found;
use crate::{DockerClient, DockerError};

/// A container to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// The only network the container joins.
    pub network: String,
    /// The TCP port the app listens on.
    pub port: u16,
    /// Also publish `port` on 127.0.0.1 at a random host port.
    pub publish_port: bool,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// Replaces the image's `CMD` when set.
    pub command: Option<Vec<String>>,
    /// Memory limit in bytes; swap is limited to the same total, so there is no
    /// swapping past it. Going over it gets the process OOM-killed: Docker then shows
    /// `OOMKilled` true and exit code 137 and sends an `oom` event besides `die`.
    pub memory: Option<i64>,
    /// CPU limit in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `Some(n)`: restart policy `on-failure:n`. A process exiting non-zero (OOM kills
    /// included) is restarted up to n times with back-off, then left `exited` with
    /// `RestartCount` n and its last exit code, and no event says it gave up.
    /// `Some(0)` (or less) never restarts: it is policy `no`, because Docker reads
    /// `on-failure:0` as unlimited retries. `None`: `unless-stopped`, which restarts
    /// forever.
    ///
    /// Under neither policy does Docker restart a container stopped or killed through
    /// the API (`docker kill` gives exit code 137 and `RestartCount` 0); a process
    /// killed from inside the container or by the kernel does count as a failure.
    pub restart_max_retries: Option<i64>,
    /// Most processes and threads the container may have at once (fork bombs stop there).
    pub pids_limit: Option<i64>,
}

/// The capabilities an app keeps of Docker's defaults: binding ports below 1024, and what
/// a server needs to drop from root to its own user at start-up (nginx, Apache, most
/// official images). Everything else (raw sockets, mknod, chroot, ...) is dropped.
pub const APP_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETGID",
    "SETUID",
    "NET_BIND_SERVICE",
];

/// A started container and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartedContainer {
    pub id: String,
    pub name: String,
    /// Its address on `spec.network`; `None` if it already stopped.
    pub ip: Option<String>,
    /// The port published on 127.0.0.1, when asked for.
    pub host_port: Option<u16>,
}

/// What Docker says about a container's process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    /// Docker's status is `running`: not exited, not paused, not between restarts.
    pub running: bool,
    /// Docker's status: created, running, paused, restarting, removing, exited, dead.
    pub status: String,
    /// The last exit code, once the process has exited at least once.
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// Docker's error starting the process, if any.
    pub error: Option<String>,
    pub restart_count: i64,
}

/// One container as listed by the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    /// Docker's state: created, running, paused, restarting, removing, exited, dead.
    pub state: String,
}

/// Extra time the stop request gets beyond the grace period before the client gives up.
const STOP_REQUEST_SLACK: Duration = Duration::from_secs(30);

impl DockerClient {
    /// Creates and starts a container, replacing any container with the same name
    /// (so a retried release is idempotent). It joins only `spec.network`, restarts as
    /// `spec.restart_max_retries` says, and exposes `spec.port`/tcp.
    #[tracing::instrument(level = "debug", skip_all, fields(name = %spec.name, image = %spec.image))]
    pub async fn run_container(
        &self,
        spec: &ContainerSpec,
    ) -> Result<StartedContainer, DockerError> {
        self.force_remove(&spec.name).await?;
        let port_key = format!("{}/tcp", spec.port);
        let port_bindings = spec.publish_port.then(|| {
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(String::new()),
            };
            HashMap::from([(port_key.clone(), Some(vec![binding]))])
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            cmd: spec.command.clone(),
            exposed_ports: Some(vec![port_key.clone()]),
            host_config: Some(HostConfig {
                network_mode: Some(spec.network.clone()),
                port_bindings,
                // A tiny init as PID 1 forwards SIGTERM: most app processes ignore it as
                // PID 1, which would turn every graceful stop into a full grace-period wait.
                init: Some(true),
                restart_policy: Some(match spec.restart_max_retries {
                    // Docker reads `on-failure:0` as "retry forever".
                    Some(n) if n <= 0 => RestartPolicy {
                        name: Some(RestartPolicyNameEnum::NO),
                        maximum_retry_count: None,
                    },
                    Some(n) => RestartPolicy {
                        name: Some(RestartPolicyNameEnum::ON_FAILURE),
                        maximum_retry_count: Some(n),
                    },
                    None => RestartPolicy {
                        name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                        maximum_retry_count: None,
                    },
                }),
                memory: spec.memory,
                memory_swap: spec.memory,
                nano_cpus: spec.nano_cpus,
                pids_limit: spec.pids_limit,
                // setuid binaries cannot regain what was dropped.
                security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
                cap_drop: Some(vec!["ALL".to_owned()]),
                cap_add: Some(APP_CAPABILITIES.iter().map(|c| (*c).to_owned()).collect()),
                privileged: Some(false),
                // No binds, no mounts, no Docker socket: an app sees only its image.
                binds: None,
                mounts: None,
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    spec.network.clone(),
                    EndpointSettings::default(),
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let created = self.docker.create_container(Some(options), body).await?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            // Leave nothing half-made behind; the start error is the one that matters.
            if let Err(cleanup) = self.force_remove(&created.id).await {
                tracing::warn!(error = %cleanup, "could not remove the container that failed to start");
            }
            return Err(e.into());
        }
        let inspected = self.docker.inspect_container(&created.id, None).await?;
        let settings = inspected.network_settings.as_ref();
        let ip = settings
            .and_then(|s| s.networks.as_ref())
            .and_then(|n| n.get(&spec.network))
            .and_then(|e| e.ip_address.clone())
            .filter(|ip| !ip.is_empty());
        let host_port = settings
            .and_then(|s| s.ports.as_ref())
            .and_then(|p| p.get(&port_key))
            .and_then(|bindings| bindings.as_deref())
            .and_then(|bindings| {
                bindings
                    .iter()
                    .find_map(|b| b.host_port.as_deref()?.parse().ok())
            });
        Ok(StartedContainer {
            id: inspected.id.unwrap_or(created.id),
            name: spec.name.clone(),
            ip,
            host_port,
        })
    }

    /// The state of a container's process.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn container_state(&self, id_or_name: &str) -> Result<ContainerState, DockerError> {
        let inspected = self.docker.inspect_container(id_or_name, None).await?;
        Ok(state_of(inspected))
    }

    /// The last `lines` lines the container wrote to stdout and stderr, in order,
    /// without timestamps.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn logs_tail(
        &self,
        id_or_name: &str,
        lines: usize,
    ) -> Result<Vec<String>, DockerError> {
        if lines == 0 {
            return Ok(Vec::new());
        }
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(false)
            .follow(false)
            .tail(&lines.to_string())
            .build();
        let chunks: Vec<LogOutput> = self
            .docker
            .logs(id_or_name, Some(options))
            .try_collect()
            .await?;
        let mut text = Vec::new();
        for chunk in &chunks {
            text.extend_from_slice(chunk.as_ref());
        }
        Ok(last_lines(&String::from_utf8_lossy(&text), lines))
    }

    /// Stops the container (SIGTERM, then SIGKILL after `grace`) and removes it with
    /// its anonymous volumes. A container that is already gone is fine.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn stop_and_remove(
        &self,
        id_or_name: &str,
        grace: Duration,
    ) -> Result<(), DockerError> {
        if !self.stop(id_or_name, grace).await? {
            return Ok(());
        }
        self.force_remove(id_or_name).await
    }

    /// Stops the container (SIGTERM, then SIGKILL after `grace`) and keeps it, so
    /// files can still be copied out. False if it does not exist.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn stop(&self, id_or_name: &str, grace: Duration) -> Result<bool, DockerError> {
        let seconds = i32::try_from(grace.as_secs() + u64::from(grace.subsec_nanos() > 0))
            .unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(seconds).build();
        // The daemon answers only once the container stopped: give the request the
        // grace period on top of the usual timeout.
        let docker = self
            .docker
            .clone()
            .with_timeout(grace.saturating_add(STOP_REQUEST_SLACK));
        Ok(ok_if_not_found(docker.stop_container(id_or_name, Some(options)).await)?.is_some())
    }

    /// All containers (running or not) carrying all the given labels.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn list_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        self.containers_matching(label_filters(labels)).await
    }

    /// Like `list_containers`, limited to containers attached to `network`: one Slipway
    /// installation's containers when several share a daemon (tests do).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn list_containers_on_network(
        &self,
        network: &str,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let mut filters = label_filters(labels);
        filters.insert("network".to_owned(), vec![network.to_owned()]);
        self.containers_matching(filters).await
    }

    async fn containers_matching(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self.docker.list_containers(Some(options)).await?;
        Ok(containers
            .into_iter()
            .map(|c| ContainerSummary {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|names| names.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            })
            .collect())
    }

    /// Kills and removes a container with its anonymous volumes; gone is fine, and so
    /// is a removal already under way.
    async fn force_remove(&self, id_or_name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match ok_if_not_found(
            self.docker
                .remove_container(id_or_name, Some(options))
                .await,
        ) {
            Err(e) if e.is_conflict() && e.to_string().contains("already in progress") => Ok(()),
            other => other.map(drop),
        }
    }
}

fn state_of(inspected: ContainerInspectResponse) -> ContainerState {
    let state = inspected.state.unwrap_or_default();
    let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
    let has_exited = matches!(
        status,
        ContainerStateStatusEnum::EXITED
            | ContainerStateStatusEnum::DEAD
            | ContainerStateStatusEnum::RESTARTING
    ) || (inspected.restart_count.unwrap_or(0) > 0);
    ContainerState {
        running: status == ContainerStateStatusEnum::RUNNING,
        status: status.to_string(),
        exit_code: if has_exited { state.exit_code } else { None },
        oom_killed: state.oom_killed.unwrap_or(false),
        error: state.error.filter(|e| !e.trim().is_empty()),
        restart_count: inspected.restart_count.unwrap_or(0),
    }
}

/// The last `n` lines of `text`, `\r` trimmed, without the empty remainder after a
/// final newline.
fn last_lines(text: &str, n: usize) -> Vec<String> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Vec::new();
    }
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use bollard::models::ContainerState as DockerState;

    use super::*;

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines("a\nb\r\nc\n", 2), vec!["b", "c"]);
        assert_eq!(last_lines("a\n\nb", 5), vec!["a", "", "b"]);
        assert!(last_lines("", 3).is_empty());
    }

    #[test]
    fn exit_code_only_after_an_exit() {
        let inspected = |status, exit_code| ContainerInspectResponse {
            state: Some(DockerState {
                status: Some(status),
                exit_code: Some(exit_code),
                ..Default::default()
            }),
            ..Default::default()
        };
        let running = state_of(inspected(ContainerStateStatusEnum::RUNNING, 0));
        assert!(running.running);
        assert_eq!(running.exit_code, None);
        let exited = state_of(inspected(ContainerStateStatusEnum::EXITED, 3));
        assert!(!exited.running);
        assert_eq!(
            (exited.status.as_str(), exited.exit_code),
            ("exited", Some(3))
        );
        let restarting = state_of(inspected(ContainerStateStatusEnum::RESTARTING, 3));
        assert!(!restarting.running);
        assert_eq!(restarting.exit_code, Some(3));
    }
}
