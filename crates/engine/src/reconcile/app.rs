//! One app: its current release gets exactly the replicas it should have.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_core::DeploymentStatus;
use slipway_store::{apps, containers, deployments, events};
use uuid::Uuid;

use super::{CRASH_LIMIT, recent_deaths, recreate_backoff};
use crate::Context;
use crate::error::EngineError;
use crate::replicas::Release;
use crate::runtime::STOP_GRACE;

/// What a reconciliation changed, and when it wants to look again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub started: Vec<String>,
    pub removed: Vec<String>,
    /// A dead replica waits out its back-off: reconcile again after this long.
    pub again_in: Option<Duration>,
}

/// Reconciles one app. Concurrent calls for the same app (two workers woken by the same
/// NOTIFY) queue on a database lock rather than both starting the same replica.
pub async fn reconcile_app(ctx: &Context, app_id: Uuid) -> Result<Reconciled, EngineError> {
    let lock = apps::lock_for_reconcile(&ctx.pool, app_id).await?;
    let result = reconcile_locked(ctx, app_id).await;
    // Committing only ends the lock; a failure there ends it too (the connection goes).
    let _ = lock.release().await;
    let done = result?;
    if !done.started.is_empty() || !done.removed.is_empty() {
        tracing::info!(%app_id, started = ?done.started, removed = ?done.removed, "reconciled app");
    }
    Ok(done)
}

async fn reconcile_locked(ctx: &Context, app_id: Uuid) -> Result<Reconciled, EngineError> {
    let mut done = Reconciled::default();
    let app = match apps::find_by_id(&ctx.pool, app_id).await {
        Ok(app) => app,
        Err(slipway_store::StoreError::NotFound) => return Ok(done),
        Err(e) => return Err(e.into()),
    };
    let Some(current) = deployments::current_release(&ctx.pool, app_id).await? else {
        return Ok(done);
    };
    let snapshot = current
        .config_snapshot
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let release = Release::from_row(ctx.cipher.as_ref(), &app, &current, &snapshot)?;
    let desired = release.desired(&app.scale.0);
    let wanted: BTreeMap<String, (String, u32)> = desired
        .iter()
        .flat_map(|(process, count)| {
            (1..=*count).map(|n| (release.container_name(process, n), (process.clone(), n)))
        })
        .collect();
    let present = ctx.runtime.replicas_of(current.id).await?;

    for r in present.iter().filter(|r| !wanted.contains_key(&r.name)) {
        // Forgotten before it stops, so the watcher does not count a death.
        containers::forget(&ctx.pool, current.id, &r.name).await?;
        ctx.runtime.stop(&r.id, STOP_GRACE).await?;
        done.removed.push(r.name.clone());
    }
    // A crashed release keeps what still runs, but nothing is recreated for it: its
    // replicas kept dying, and only a new deployment or a rollback can help.
    let crashed = current.status == DeploymentStatus::Crashed;
    let missing: Vec<(&String, &(String, u32))> = wanted
        .iter()
        .filter(|(name, _)| !present.iter().any(|r| &r.name == *name && r.alive))
        .collect();
    if !crashed && !missing.is_empty() {
        ctx.runtime.prepare(&release.environment()).await?;
    }
    let now = chrono::Utc::now();
    for (name, (process, n)) in missing.into_iter().filter(|_| !crashed) {
        let recent = recent_deaths(&ctx.pool, current.id, name, now).await?;
        if recent.count >= CRASH_LIMIT {
            // The watcher gives the verdict with its reason; nothing to start.
            continue;
        }
        if let Some(last) = recent.last {
            let due = last
                + chrono::Duration::from_std(recreate_backoff(recent.count)).unwrap_or_default();
            if due > now {
                let wait = (due - now).to_std().unwrap_or_default();
                done.again_in = Some(done.again_in.map_or(wait, |w| w.min(wait)));
                continue;
            }
        }
        release.start(ctx, process, *n).await?;
        done.started.push(name.clone());
    }
    // Rows of containers that are gone (removed by hand, say) would mislead the API.
    for row in containers::list(&ctx.pool, current.id).await? {
        if !wanted.contains_key(&row.name) {
            containers::forget(&ctx.pool, current.id, &row.name).await?;
        }
    }
    if !done.started.is_empty() || !done.removed.is_empty() {
        let counts: Vec<String> = desired.iter().map(|(p, n)| format!("{p}={n}")).collect();
        let message = format!(
            "reconciled to {}: started {}, removed {}",
            counts.join(" "),
            list_or_none(&done.started),
            list_or_none(&done.removed)
        );
        let _ = events::note(&ctx.pool, current.id, &message).await;
    }
    // Promoted away while we worked: what we started belongs to a retired release.
    if !done.started.is_empty()
        && !matches!(
            deployments::status(&ctx.pool, current.id).await,
            Ok(DeploymentStatus::Running | DeploymentStatus::Crashed)
        )
    {
        for name in &done.started {
            let _ = ctx.runtime.stop(name, Duration::ZERO).await;
        }
        let _ = containers::forget_all(&ctx.pool, current.id).await;
    }
    Ok(done)
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
