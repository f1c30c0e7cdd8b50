//! One-off containers (test runs): started on a network of their own (no Traefik, no
//! replica of the app, no other app) without Traefik labels or restarts, followed until
//! they exit, run out of time or are stopped; then their report is copied out and the
//! container and network removed.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use slipway_core::labels::{self, LABEL_APP};
use slipway_docker::{ContainerSpec, CopiedFile};
use tokio_util::sync::CancellationToken;

use super::{DockerRuntime, docker_err, networks};
use crate::runtime::{Collected, Completed, LogLine, LogsQuery, OneOffSpec, RuntimeError};

/// Time a timed-out or stopped run gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// On one-off networks: the installation's shared network. Not `slipway.network`, which
/// would have Traefik and the workers attached to them.
const LABEL_ONE_OFF_NETWORK: &str = "slipway.one-off-network";
/// The largest file copied out of a run.
pub const MAX_COLLECTED_BYTES: u64 = 16 * 1024 * 1024;

fn network_name(shared: &str, run: &str) -> String {
    format!("{shared}-one-off-{run}")
}

pub(super) async fn run(
    rt: &DockerRuntime,
    spec: &OneOffSpec,
    output: &(dyn Fn(LogLine) + Send + Sync),
    stop: &CancellationToken,
) -> Result<Completed, RuntimeError> {
    let config = &rt.config;
    let network = network_name(&config.network, &spec.name);
    let network_labels = HashMap::from([
        (LABEL_ONE_OFF_NETWORK.to_owned(), config.network.clone()),
        (LABEL_APP.to_owned(), spec.env.app.clone()),
    ]);
    networks::create_labelled(rt, &network, network_labels).await?;
    let outcome = run_on(rt, spec, &network, output, stop).await;
    let removed = rt
        .docker
        .remove_network(&network)
        .await
        .map_err(|e| docker_err(&format!("could not remove network {network}"), e));
    let completed = outcome?;
    removed?;
    Ok(completed)
}

/// Removes the one-off networks of an app (a run whose worker died leaves its own).
pub(super) async fn remove_networks(
    rt: &DockerRuntime,
    app: &str,
) -> Result<(), slipway_docker::DockerError> {
    rt.docker
        .remove_networks_labelled(&[
            (LABEL_ONE_OFF_NETWORK, &rt.config.network),
            (LABEL_APP, app),
        ])
        .await
}

async fn run_on(
    rt: &DockerRuntime,
    spec: &OneOffSpec,
    network: &str,
    output: &(dyn Fn(LogLine) + Send + Sync),
    stop: &CancellationToken,
) -> Result<Completed, RuntimeError> {
    let config = &rt.config;
    let container = ContainerSpec {
        name: spec.name.clone(),
        image: spec.image.clone(),
        network: network.to_owned(),
        port: spec.port,
        publish_port: false,
        env: spec.vars.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        labels: labels::ownership_labels(
            &config.network,
            &spec.env.app,
            &spec.env.app_id.to_string(),
            &spec.release.to_string(),
            &spec.purpose,
        ),
        command: spec.command.clone(),
        memory: spec.memory.and_then(|m| i64::try_from(m).ok()),
        nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
        // A run that fails must report its failure, not be retried behind our back.
        restart_max_retries: Some(0),
        pids_limit: Some(config.pids_limit),
    };
    let started = rt
        .docker
        .run_container(&container)
        .await
        .map_err(|e| docker_err(&format!("could not start {}", spec.name), e))?;
    let mut outcome = follow_until_exit(rt, &started.id, spec, output, stop).await;
    if let (Ok(completed), Some(path)) = (&mut outcome, &spec.collect) {
        // Stopped first, so the file is complete and the copy races no writer.
        if let Err(e) = rt.docker.stop(&started.id, STOP_GRACE).await {
            tracing::warn!(container = %spec.name, error = %e, "could not stop before copying");
        }
        completed.collected = Some(
            match rt
                .docker
                .copy_file_out(&started.id, path, MAX_COLLECTED_BYTES)
                .await
            {
                Ok(CopiedFile::Copied(bytes)) => Collected::File(bytes),
                Ok(CopiedFile::Missing) => Collected::Missing,
                Ok(CopiedFile::Refused(why)) => Collected::Unreadable(why),
                Err(e) => Collected::Unreadable(format!("Docker could not copy it: {e}")),
            },
        );
    }
    // Removed whatever happened: a finished run has nothing left to give.
    let removed = rt
        .docker
        .stop_and_remove(&started.id, STOP_GRACE)
        .await
        .map_err(|e| docker_err(&format!("could not remove {}", spec.name), e));
    let completed = outcome?;
    removed?;
    Ok(completed)
}

async fn follow_until_exit(
    rt: &DockerRuntime,
    id: &str,
    spec: &OneOffSpec,
    output: &(dyn Fn(LogLine) + Send + Sync),
    stop: &CancellationToken,
) -> Result<Completed, RuntimeError> {
    let query = LogsQuery {
        tail: None,
        since: None,
        follow: true,
    };
    // The log stream ends when the process exits (Docker closes it then).
    let mut lines = Box::pin(rt.docker.logs(id, &query));
    let follow = async {
        while let Some(line) = lines.next().await {
            output(line.map_err(|e| docker_err(&format!("could not read {}", spec.name), e))?);
        }
        Ok::<(), RuntimeError>(())
    };
    let followed = tokio::select! {
        followed = tokio::time::timeout(spec.timeout, follow) => followed,
        _ = stop.cancelled() => return Ok(Completed {
            exit_code: None,
            timed_out: false,
            stopped: true,
            oom_killed: false,
            collected: None,
        }),
    };
    match followed {
        Err(_) => Ok(Completed {
            exit_code: None,
            timed_out: true,
            stopped: false,
            oom_killed: false,
            collected: None,
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => {
            // The stream can close a moment before Docker records the exit.
            for _ in 0..50 {
                let state = rt
                    .docker
                    .container_state(id)
                    .await
                    .map_err(|e| docker_err(&format!("could not inspect {}", spec.name), e))?;
                if !state.running && state.status != "restarting" {
                    return Ok(Completed {
                        exit_code: state.exit_code,
                        timed_out: false,
                        stopped: false,
                        oom_killed: state.oom_killed,
                        collected: None,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(RuntimeError::new(
                crate::runtime::RuntimeErrorKind::Refused,
                format!(
                    "{}: its output ended but Docker still reports it running",
                    spec.name
                ),
            ))
        }
    }
}
