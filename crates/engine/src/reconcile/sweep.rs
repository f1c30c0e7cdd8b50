//! Start-up: replicas no live deployment accounts for are removed, then every app is
//! reconciled.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_core::DeploymentStatus;
use slipway_store::{apps, deployments};
use uuid::Uuid;

use super::Reconciled;
use crate::Context;
use crate::error::EngineError;

/// Removes this installation's replicas that no live deployment accounts for, then
/// reconciles every app; an app that cannot be reconciled now is handed to the
/// controller, which retries it with back-off.
pub async fn reconcile_all(ctx: &Context) -> Result<Reconciled, EngineError> {
    let mut done = Reconciled::default();
    let replicas = ctx.runtime.all_replicas().await?;
    let ids: Vec<Uuid> = replicas.iter().filter_map(|r| r.release).collect();
    let statuses: BTreeMap<Uuid, DeploymentStatus> = deployments::statuses(&ctx.pool, &ids)
        .await?
        .into_iter()
        .collect();
    for r in &replicas {
        let status = r.release.and_then(|id| statuses.get(&id).copied());
        let accounted = status.is_some_and(|s| {
            s.is_unfinished() || matches!(s, DeploymentStatus::Running | DeploymentStatus::Crashed)
        });
        if !accounted {
            tracing::info!(replica = %r.name, status = ?status, "removing orphaned replica");
            ctx.runtime.stop(&r.id, Duration::ZERO).await?;
            done.removed.push(r.name.clone());
        }
    }
    for app in apps::list_live_ids(&ctx.pool).await? {
        match super::reconcile_app(ctx, app).await {
            Ok(one) => {
                done.started.extend(one.started);
                done.removed.extend(one.removed);
                if let Some(wait) = one.again_in {
                    ctx.reconcile.enqueue_after(app, wait);
                }
            }
            Err(e) => {
                tracing::warn!(app_id = %app, error = %e, "could not reconcile app; retrying");
                ctx.reconcile
                    .enqueue_after(app, super::controller::FIRST_RETRY);
            }
        }
    }
    tracing::info!(
        started = done.started.len(),
        removed = done.removed.len(),
        "start-up reconciliation done"
    );
    Ok(done)
}
