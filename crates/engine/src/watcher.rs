//! Watches the runtime's events for the replicas of running releases. A death is
//! recorded (once, however many workers see it) in its deployment's history; a replica
//! the runtime does not restart by itself is recreated by the reconciler after a
//! back-off; a replica that keeps dying turns the release `crashed`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use slipway_core::DeploymentStatus;
use slipway_store::{containers, deaths, deployments, events};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Context;
use crate::reconcile::{CRASH_LIMIT, CRASH_WINDOW, recent_deaths};
use crate::runtime::{ReplicaEvent, ReplicaEventKind};

/// The runtime decides whether to restart a dead replica just after its death; give it
/// this long before reading its verdict.
const RESTART_DECISION: Duration = Duration::from_millis(500);

pub async fn watch(ctx: Arc<Context>, shutdown: CancellationToken) {
    let mut events = ctx.runtime.events();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = events.next() => event,
        };
        let Some(event) = event else { return };
        let ctx = ctx.clone();
        // Each death is judged on its own: waiting for one verdict must not delay the
        // next event.
        tokio::spawn(async move { on_event(&ctx, event).await });
    }
}

async fn on_event(ctx: &Context, event: ReplicaEvent) {
    let Some(deployment_id) = event.release else {
        return;
    };
    match event.kind {
        ReplicaEventKind::OutOfMemory if is_serving(ctx, deployment_id, &event.replica).await => {
            let message = format!(
                "container {} ran out of memory and was killed; raise [resources] memory in slipway.toml or SLIPWAY_DEFAULT_MEMORY",
                event.replica
            );
            let _ = events::note(&ctx.pool, deployment_id, &message).await;
        }
        ReplicaEventKind::Died { exit_code } => {
            if let Err(e) = on_death(ctx, deployment_id, &event, exit_code).await {
                tracing::warn!(%deployment_id, replica = %event.replica, error = %e, "could not handle a replica's death");
            }
        }
        _ => {}
    }
}

/// Whether the replica belongs to a release that serves and Slipway still counts it
/// (retired and scaled-away replicas are forgotten before they are stopped).
async fn is_serving(ctx: &Context, deployment_id: Uuid, name: &str) -> bool {
    matches!(
        deployments::status(&ctx.pool, deployment_id).await,
        Ok(DeploymentStatus::Running)
    ) && containers::has(&ctx.pool, deployment_id, name)
        .await
        .unwrap_or(false)
}

async fn on_death(
    ctx: &Context,
    deployment_id: Uuid,
    event: &ReplicaEvent,
    exit_code: Option<i64>,
) -> Result<(), crate::error::EngineError> {
    if !is_serving(ctx, deployment_id, &event.replica).await {
        return Ok(());
    }
    let death = deaths::Death {
        deployment_id,
        replica: &event.replica,
        replica_id: &event.replica_id,
        died_at: event.at,
        exit_code,
    };
    if !deaths::record(&ctx.pool, &death).await? {
        // Another worker watching the same runtime saw it first and handles it.
        return Ok(());
    }
    let code = exit_code.map_or_else(|| "an unknown code".to_owned(), |c| c.to_string());
    let process = event.process.as_deref().unwrap_or("?");
    tokio::time::sleep(RESTART_DECISION).await;
    let state = ctx.runtime.state(&event.replica_id).await?;
    let oom = if state.as_ref().is_some_and(|s| s.oom_killed) {
        " (out of memory)"
    } else {
        ""
    };
    let recent = recent_deaths(&ctx.pool, deployment_id, &event.replica, event.at).await?;
    let died = format!(
        "container {} ({process}) exited with {code}{oom}",
        event.replica
    );
    if recent.count >= CRASH_LIMIT {
        let window = CRASH_WINDOW.as_secs() / 60;
        let reason = format!(
            "{died}; it died {} times within {window} minutes, so it is no longer restarted: \
             fix the app and deploy again, or roll back (its last output: `slipway logs`)",
            recent.count
        );
        if deployments::mark_crashed(&ctx.pool, deployment_id, &reason).await? {
            tracing::warn!(%deployment_id, %reason, "release crashed");
        }
        return Ok(());
    }
    let message = match &state {
        Some(s) if s.alive() => format!(
            "{died}; restarted in place (restart {} of {})",
            s.restart_count, ctx.config.restart_max_retries
        ),
        Some(_) => format!(
            "{died} and was not restarted (stopped or killed outside Slipway, out of restarts, or exited cleanly); recreating it"
        ),
        None => format!("{died} and was removed outside Slipway; recreating it"),
    };
    events::note(&ctx.pool, deployment_id, &message).await?;
    if !state.as_ref().is_some_and(|s| s.alive()) {
        let app_id = deployments::get(&ctx.pool, deployment_id).await?.app_id;
        ctx.reconcile.enqueue(app_id);
    }
    Ok(())
}
