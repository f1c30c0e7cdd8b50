//! Brings the runtime in line with the database: the current release of an app has the
//! replicas its scale asks for (after a scale change, or a replica that went missing),
//! and at start-up containers that no deployment accounts for are removed.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use slipway_core::DeploymentStatus;
use slipway_core::labels::{LABEL_DEPLOYMENT_ID, LABEL_MANAGED, LABEL_NETWORK};
use slipway_store::{apps, containers, deployments, events};
use uuid::Uuid;

use crate::Context;
use crate::pipeline::STOP_GRACE;
use crate::replicas::Release;

/// What a reconciliation changed, for the logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub started: Vec<String>,
    pub removed: Vec<String>,
}

/// Reconciles one app. Concurrent calls for the same app (two workers woken by the same
/// NOTIFY) queue on an advisory lock rather than both starting the same replica.
pub async fn reconcile_app(ctx: &Context, app_id: Uuid) -> Reconciled {
    match try_reconcile(ctx, app_id).await {
        Ok(done) => {
            if done != Reconciled::default() {
                tracing::info!(%app_id, started = ?done.started, removed = ?done.removed, "reconciled app");
            }
            done
        }
        Err(e) => {
            tracing::warn!(%app_id, error = %e, "could not reconcile app");
            Reconciled::default()
        }
    }
}

async fn try_reconcile(ctx: &Context, app_id: Uuid) -> Result<Reconciled, String> {
    let lock = apps::lock_for_reconcile(&ctx.pool, app_id)
        .await
        .map_err(|e| e.to_string())?;
    let result = reconcile_locked(ctx, app_id).await;
    let _ = lock.release().await;
    result
}

async fn reconcile_locked(ctx: &Context, app_id: Uuid) -> Result<Reconciled, String> {
    let mut done = Reconciled::default();
    let app = match apps::find_by_id(&ctx.pool, app_id).await {
        Ok(app) => app,
        Err(slipway_store::StoreError::NotFound) => return Ok(done),
        Err(e) => return Err(e.to_string()),
    };
    let Some(current) = deployments::current_release(&ctx.pool, app_id)
        .await
        .map_err(|e| e.to_string())?
    else {
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
    let id = current.id.to_string();
    let present = ctx
        .docker
        .list_containers(&[(LABEL_DEPLOYMENT_ID, id.as_str())])
        .await
        .map_err(|e| e.to_string())?;
    let present_names: HashSet<&str> = present.iter().map(|c| c.name.as_str()).collect();

    for c in present.iter().filter(|c| !wanted.contains_key(&c.name)) {
        // Forgotten before it stops, so the watcher does not report a crash.
        containers::forget(&ctx.pool, current.id, &c.name)
            .await
            .map_err(|e| e.to_string())?;
        ctx.docker
            .stop_and_remove(&c.id, STOP_GRACE)
            .await
            .map_err(|e| e.to_string())?;
        done.removed.push(c.name.clone());
    }
    let missing = wanted
        .keys()
        .any(|name| !present_names.contains(name.as_str()));
    if missing {
        crate::networks::prepare(ctx, &app.name).await?;
    }
    for (name, (process, n)) in &wanted {
        if present_names.contains(name.as_str()) {
            continue;
        }
        release.start(ctx, process, *n).await?;
        done.started.push(name.clone());
    }
    // Rows of containers that are gone (removed by hand, say) would mislead the API.
    let known = containers::list(&ctx.pool, current.id)
        .await
        .map_err(|e| e.to_string())?;
    for row in known {
        if !wanted.contains_key(&row.name) {
            containers::forget(&ctx.pool, current.id, &row.name)
                .await
                .map_err(|e| e.to_string())?;
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
            let _ = ctx.docker.stop_and_remove(name, Duration::ZERO).await;
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

/// Start-up: removes this installation's app containers that no live deployment
/// accounts for, attaches Traefik and the workers to every app network, then reconciles
/// every app.
pub async fn reconcile_all(ctx: &Context) -> Result<Reconciled, String> {
    let mut done = Reconciled::default();
    let shared = ctx.config.network.as_str();
    let mut managed = ctx
        .docker
        .list_containers(&[(LABEL_MANAGED, "true"), (LABEL_NETWORK, shared)])
        .await
        .map_err(|e| e.to_string())?;
    // Releases made before apps had networks of their own sit on the shared network and
    // carry no network label.
    let legacy = ctx
        .docker
        .list_containers_on_network(shared, &[(LABEL_MANAGED, "true")])
        .await
        .map_err(|e| e.to_string())?;
    for c in legacy {
        if !managed.iter().any(|m| m.id == c.id) {
            managed.push(c);
        }
    }
    let ids: Vec<Uuid> = managed
        .iter()
        .filter_map(|c| c.labels.get(LABEL_DEPLOYMENT_ID))
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    let statuses: BTreeMap<Uuid, DeploymentStatus> = deployments::statuses(&ctx.pool, &ids)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    for c in &managed {
        let status = c
            .labels
            .get(LABEL_DEPLOYMENT_ID)
            .and_then(|id| Uuid::parse_str(id).ok())
            .and_then(|id| statuses.get(&id).copied());
        let accounted = status.is_some_and(|s| {
            s.is_unfinished() || matches!(s, DeploymentStatus::Running | DeploymentStatus::Crashed)
        });
        if !accounted {
            tracing::info!(container = %c.name, status = ?status, "removing orphaned container");
            ctx.docker
                .stop_and_remove(&c.id, Duration::ZERO)
                .await
                .map_err(|e| e.to_string())?;
            done.removed.push(c.name.clone());
        }
    }
    crate::networks::attach_all(ctx).await;
    let apps = apps::list_live_ids(&ctx.pool)
        .await
        .map_err(|e| e.to_string())?;
    for app in apps {
        let one = reconcile_app(ctx, app).await;
        done.started.extend(one.started);
        done.removed.extend(one.removed);
    }
    tracing::info!(
        started = done.started.len(),
        removed = done.removed.len(),
        "start-up reconciliation done"
    );
    Ok(done)
}
