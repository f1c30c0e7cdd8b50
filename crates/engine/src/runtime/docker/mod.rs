//! The Docker Engine as a runtime: an environment is a bridge network of its own, a
//! replica is a container labelled for Traefik and for Slipway's bookkeeping, health
//! checks go from the worker to the container's address.

mod events;
mod health;
mod networks;
mod one_off;

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use slipway_core::Config;
use slipway_core::labels::{
    self, LABEL_APP_ID, LABEL_DEPLOYMENT_ID, LABEL_MANAGED, LABEL_NETWORK, LABEL_PROCESS,
};
use slipway_core::spec::HealthCheck;
use slipway_docker::{ContainerSpec, ContainerSummary, DockerClient, DockerError};
use uuid::Uuid;

use super::{
    Completed, Environment, Health, LogLine, LogsQuery, OneOffSpec, Replica, ReplicaEvent,
    ReplicaInfo, ReplicaSpec, ReplicaState, Runtime, RuntimeError, RuntimeErrorKind,
};

pub struct DockerRuntime {
    docker: DockerClient,
    config: Config,
    /// Probes health checks; no redirects, short timeouts.
    http: reqwest::Client,
}

impl DockerRuntime {
    pub fn new(docker: DockerClient, config: Config, http: reqwest::Client) -> Self {
        Self {
            docker,
            config,
            http,
        }
    }

    fn container_spec(&self, spec: &ReplicaSpec) -> ContainerSpec {
        let config = &self.config;
        let network = labels::app_network(&config.network, &spec.env.app);
        let mut container_labels = labels::ownership_labels(
            &config.network,
            &spec.env.app,
            &spec.env.app_id.to_string(),
            &spec.release.to_string(),
            &spec.process,
        );
        let is_web = spec.is_web();
        if is_web {
            container_labels.extend(labels::traefik_labels(&labels::Route {
                app: &spec.env.app,
                subdomain: &spec.env.app,
                base_domain: &config.base_domain,
                network: &network,
                port: spec.port,
                tls: config.acme_email.is_some(),
            }));
        }
        ContainerSpec {
            name: spec.name.clone(),
            image: spec.image.clone(),
            network,
            port: spec.port,
            // Only web replicas are health-checked through a published port.
            publish_port: config.publish_ports && is_web,
            env: spec.vars.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            labels: container_labels,
            command: spec.command.clone(),
            memory: spec.memory.and_then(|m| i64::try_from(m).ok()),
            nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
            restart_max_retries: Some(config.restart_max_retries),
            pids_limit: Some(config.pids_limit),
        }
    }
}

/// A Docker error worded for the deployment log: what was being done, then Docker's
/// own words.
pub(crate) fn docker_err(context: &str, e: DockerError) -> RuntimeError {
    let kind = if e.is_not_found() {
        RuntimeErrorKind::NotFound
    } else if e.is_unreachable() {
        RuntimeErrorKind::Unreachable
    } else {
        RuntimeErrorKind::Refused
    };
    RuntimeError::new(kind, format!("{context}: {e}"))
}

fn info_of(c: ContainerSummary) -> ReplicaInfo {
    ReplicaInfo {
        release: c
            .labels
            .get(LABEL_DEPLOYMENT_ID)
            .and_then(|id| Uuid::parse_str(id).ok()),
        process: c.labels.get(LABEL_PROCESS).cloned(),
        alive: matches!(c.state.as_str(), "running" | "restarting" | "created"),
        id: c.id,
        name: c.name,
    }
}

#[async_trait::async_trait]
impl Runtime for DockerRuntime {
    async fn ping(&self) -> Result<String, RuntimeError> {
        self.docker
            .version()
            .await
            .map_err(|e| docker_err("the Docker Engine does not answer", e))
    }

    async fn start_up(&self) -> Result<(), RuntimeError> {
        self.docker
            .ensure_network(&self.config.network)
            .await
            .map_err(|e| {
                docker_err(
                    &format!(
                        "could not create the shared network {}",
                        self.config.network
                    ),
                    e,
                )
            })?;
        networks::attach_all(self).await;
        Ok(())
    }

    async fn maintain(&self, shutdown: tokio_util::sync::CancellationToken) {
        networks::watch_joiners(self, shutdown).await;
    }

    async fn prepare(&self, env: &Environment) -> Result<(), RuntimeError> {
        networks::prepare(self, &env.app).await.map(drop)
    }

    async fn start(&self, spec: &ReplicaSpec) -> Result<Replica, RuntimeError> {
        let container = self.container_spec(spec);
        let started = self
            .docker
            .run_container(&container)
            .await
            .map_err(|e| docker_err(&format!("could not start container {}", spec.name), e))?;
        Ok(Replica {
            id: started.id,
            name: started.name,
            ip: started.ip,
            host_port: started.host_port,
            port: spec.port,
        })
    }

    async fn wait_healthy(
        &self,
        replica: &Replica,
        check: &HealthCheck,
        limit: Duration,
    ) -> Health {
        let port = replica.port;
        let url = match (replica.host_port, replica.ip.as_deref()) {
            (Some(host_port), _) => format!("http://127.0.0.1:{host_port}"),
            (None, Some(ip)) => format!("http://{ip}:{port}"),
            // A container that died at once has no address: report why it died.
            (None, None) => {
                return match self.docker.container_state(&replica.id).await {
                    Ok(state) if !state.running => Health::Exited {
                        exit_code: state.exit_code,
                        error: state.error,
                        oom_killed: state.oom_killed,
                    },
                    _ => Health::TimedOut {
                        last_error: "the container got no address on its app network".to_owned(),
                    },
                };
            }
        };
        health::wait_until_healthy(&self.docker, &self.http, &replica.id, &url, check, limit).await
    }

    async fn state(&self, replica: &str) -> Result<Option<ReplicaState>, RuntimeError> {
        match self.docker.container_state(replica).await {
            Ok(s) => Ok(Some(ReplicaState {
                running: s.running,
                restarting: s.status == "restarting",
                exit_code: s.exit_code,
                oom_killed: s.oom_killed,
                error: s.error,
                restart_count: s.restart_count,
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(docker_err(
                &format!("could not inspect container {replica}"),
                e,
            )),
        }
    }

    async fn output_tail(&self, replica: &str, lines: usize) -> Result<Vec<String>, RuntimeError> {
        self.docker
            .logs_tail(replica, lines)
            .await
            .map_err(|e| docker_err(&format!("could not read the output of {replica}"), e))
    }

    async fn stop(&self, replica: &str, grace: Duration) -> Result<(), RuntimeError> {
        self.docker
            .stop_and_remove(replica, grace)
            .await
            .map_err(|e| docker_err(&format!("could not stop container {replica}"), e))
    }

    async fn replicas_of(&self, release: Uuid) -> Result<Vec<ReplicaInfo>, RuntimeError> {
        let id = release.to_string();
        let found = self
            .docker
            .list_containers(&[(LABEL_DEPLOYMENT_ID, id.as_str())])
            .await
            .map_err(|e| docker_err("could not list the release's containers", e))?;
        Ok(found.into_iter().map(info_of).collect())
    }

    async fn all_replicas(&self) -> Result<Vec<ReplicaInfo>, RuntimeError> {
        let shared = self.config.network.as_str();
        let listing = |e| docker_err("could not list Slipway's containers", e);
        let mut managed = self
            .docker
            .list_containers(&[(LABEL_MANAGED, "true"), (LABEL_NETWORK, shared)])
            .await
            .map_err(listing)?;
        // Releases made before apps had networks of their own sit on the shared network
        // and carry no network label.
        let legacy = self
            .docker
            .list_containers_on_network(shared, &[(LABEL_MANAGED, "true")])
            .await
            .map_err(listing)?;
        for c in legacy {
            if !managed.iter().any(|m| m.id == c.id) {
                managed.push(c);
            }
        }
        Ok(managed.into_iter().map(info_of).collect())
    }

    async fn retire(&self, release: Uuid, grace: Duration) -> Result<Vec<String>, RuntimeError> {
        let replicas = self.replicas_of(release).await?;
        let stops = replicas.iter().map(|r| self.stop(&r.id, grace));
        let results = futures_util::future::join_all(stops).await;
        let mut removed = Vec::new();
        for (replica, result) in replicas.into_iter().zip(results) {
            result?;
            removed.push(replica.name);
        }
        Ok(removed)
    }

    fn logs(
        &self,
        replica: &str,
        query: &LogsQuery,
    ) -> BoxStream<'static, Result<LogLine, RuntimeError>> {
        let name = replica.to_owned();
        self.docker
            .logs(replica, query)
            .map(move |line| {
                line.map_err(|e| docker_err(&format!("could not read the logs of {name}"), e))
            })
            .boxed()
    }

    fn events(&self) -> BoxStream<'static, ReplicaEvent> {
        events::replica_events(self.docker.clone())
    }

    async fn run_to_completion(
        &self,
        spec: &OneOffSpec,
        output: &(dyn Fn(LogLine) + Send + Sync),
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<Completed, RuntimeError> {
        one_off::run(self, spec, output, stop).await
    }

    async fn destroy(&self, env: &Environment) -> Result<(), RuntimeError> {
        let app_id = env.app_id.to_string();
        let containers = self
            .docker
            .list_containers(&[(LABEL_APP_ID, app_id.as_str())])
            .await
            .map_err(|e| docker_err("could not list the app's containers", e))?;
        for c in containers {
            self.stop(&c.id, Duration::from_secs(10)).await?;
            tracing::info!(container = %c.name, "removed container");
        }
        networks::remove(self, &env.app)
            .await
            .map_err(|e| docker_err("could not remove the app's network", e))?;
        one_off::remove_networks(self, &env.app)
            .await
            .map_err(|e| docker_err("could not remove the app's test networks", e))
    }
}
