//! Watches Docker's container events for the replicas of running releases: a replica
//! that dies is recorded in its deployment's history, and when Docker's restart policy
//! gives up on it (or it was killed from outside) the release becomes `crashed`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use slipway_core::DeploymentStatus;
use slipway_core::labels::{LABEL_DEPLOYMENT_ID, LABEL_MANAGED, LABEL_PROCESS};
use slipway_docker::ContainerEvent;
use slipway_store::{containers, deployments, events};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Context;

/// Docker decides whether to restart a dead container just after the `die` event; give
/// it this long before reading its verdict from the container's state.
const RESTART_DECISION: Duration = Duration::from_millis(500);

pub async fn watch(ctx: Arc<Context>, shutdown: CancellationToken) {
    // Where to resume after the stream breaks: Docker replays recent events from `since`
    // (inclusive), so the last one handled comes again and is skipped.
    let mut since = chrono::Utc::now();
    let mut last_handled: Option<(String, String, Option<chrono::DateTime<chrono::Utc>>)> = None;
    loop {
        let mut events = Box::pin(
            ctx.docker
                .container_events_since(&[(LABEL_MANAGED, "true")], since),
        );
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                event = events.next() => event,
            };
            match event {
                Some(Ok(event)) => {
                    let key = (event.id.clone(), event.action.clone(), event.at);
                    if last_handled.as_ref() == Some(&key) {
                        continue;
                    }
                    last_handled = Some(key);
                    if let Some(at) = event.at {
                        since = at;
                    }
                    let ctx = ctx.clone();
                    // Each death is judged on its own: waiting for one verdict must not
                    // delay the next event.
                    tokio::spawn(async move { on_event(&ctx, event).await });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Docker event stream failed; resubscribing");
                    break;
                }
                None => break,
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn on_event(ctx: &Context, event: ContainerEvent) {
    let Some(deployment_id) = event
        .labels
        .get(LABEL_DEPLOYMENT_ID)
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return;
    };
    match event.action.as_str() {
        "oom" if is_serving(ctx, deployment_id, &event.name).await => {
            let message = format!(
                "container {} ran out of memory and was killed; raise [resources] memory in slipway.toml or SLIPWAY_DEFAULT_MEMORY",
                event.name
            );
            let _ = events::note(&ctx.pool, deployment_id, &message).await;
        }
        "die" => on_death(ctx, deployment_id, &event).await,
        _ => {}
    }
}

/// Whether the container belongs to a release that serves and Slipway still counts it
/// (retired and scaled-away containers are forgotten before they are stopped).
async fn is_serving(ctx: &Context, deployment_id: Uuid, name: &str) -> bool {
    matches!(
        deployments::status(&ctx.pool, deployment_id).await,
        Ok(DeploymentStatus::Running)
    ) && containers::has(&ctx.pool, deployment_id, name)
        .await
        .unwrap_or(false)
}

async fn on_death(ctx: &Context, deployment_id: Uuid, event: &ContainerEvent) {
    if !is_serving(ctx, deployment_id, &event.name).await {
        return;
    }
    let code = event
        .exit_code
        .map_or_else(|| "an unknown code".to_owned(), |c| c.to_string());
    let process = event.labels.get(LABEL_PROCESS).map_or("?", String::as_str);
    tokio::time::sleep(RESTART_DECISION).await;
    let state = match ctx.docker.container_state(&event.id).await {
        Ok(state) => state,
        // Removed meanwhile: by Slipway (then it was forgotten first) or by hand.
        Err(e) if e.is_not_found() => {
            let reason = format!(
                "container {} ({process}) exited with {code} and was removed outside Slipway",
                event.name
            );
            crash(ctx, deployment_id, &reason).await;
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, container = %event.name, "could not inspect a dead container");
            return;
        }
    };
    let oom = if state.oom_killed {
        " (out of memory)"
    } else {
        ""
    };
    if state.running || state.status == "restarting" {
        let message = format!(
            "container {} ({process}) exited with {code}{oom}; Docker restarted it (restart {} of {})",
            event.name, state.restart_count, ctx.config.restart_max_retries
        );
        let _ = events::note(&ctx.pool, deployment_id, &message).await;
        return;
    }
    let why = if state.restart_count >= ctx.config.restart_max_retries {
        format!(
            "Docker gave up after {} restarts (SLIPWAY_RESTART_RETRIES)",
            state.restart_count
        )
    } else {
        "Docker did not restart it (stopped or killed outside Slipway, or exited cleanly)"
            .to_owned()
    };
    let reason = format!(
        "container {} ({process}) exited with {code}{oom}; {why}",
        event.name
    );
    crash(ctx, deployment_id, &reason).await;
}

async fn crash(ctx: &Context, deployment_id: Uuid, reason: &str) {
    match deployments::mark_crashed(&ctx.pool, deployment_id, reason).await {
        Ok(true) => tracing::warn!(%deployment_id, %reason, "release crashed"),
        Ok(false) => {}
        Err(e) => tracing::warn!(%deployment_id, error = %e, "could not record a crash"),
    }
}
