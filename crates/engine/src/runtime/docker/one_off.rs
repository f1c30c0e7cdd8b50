//! One-off containers (test runs): started on the app's network without Traefik labels
//! or restarts, followed until they exit or run out of time, then removed.

use std::time::Duration;

use futures_util::StreamExt;
use slipway_core::labels;
use slipway_docker::ContainerSpec;

use super::{DockerRuntime, docker_err};
use crate::runtime::{Completed, LogLine, LogsQuery, OneOffSpec, RuntimeError};

/// Time a timed-out run gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

pub(super) async fn run(
    rt: &DockerRuntime,
    spec: &OneOffSpec,
    output: &(dyn Fn(LogLine) + Send + Sync),
) -> Result<Completed, RuntimeError> {
    let config = &rt.config;
    let container = ContainerSpec {
        name: spec.name.clone(),
        image: spec.image.clone(),
        network: labels::app_network(&config.network, &spec.env.app),
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
    let outcome = follow_until_exit(rt, &started.id, spec, output).await;
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
) -> Result<Completed, RuntimeError> {
    let query = LogsQuery {
        tail: None,
        since: None,
        follow: true,
    };
    // The log stream ends when the process exits (Docker closes it then).
    let mut lines = Box::pin(rt.docker.logs(id, &query));
    let followed = tokio::time::timeout(spec.timeout, async {
        while let Some(line) = lines.next().await {
            output(line.map_err(|e| docker_err(&format!("could not read {}", spec.name), e))?);
        }
        Ok::<(), RuntimeError>(())
    })
    .await;
    match followed {
        Err(_) => Ok(Completed {
            exit_code: None,
            timed_out: true,
            oom_killed: false,
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
                        oom_killed: state.oom_killed,
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
