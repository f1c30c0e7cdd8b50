//! The work queue: claiming deployments, holding and renewing leases, moving through the
//! pipeline, and reclaiming work whose worker died. Every transition is guarded by the
//! status and worker it expects, so a deployment that was cancelled or superseded under a
//! worker can never be moved back into a live state by it.

use std::time::Duration;

use slipway_core::{DeploymentStatus, Phase};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;
use crate::apps::AppRow;
use crate::apps::app_columns;
use crate::deployments::{DeploymentRow, deployment_columns, record_event};

/// A claimed deployment together with the app it belongs to.
#[derive(Debug, Clone)]
pub struct Job {
    pub deployment: DeploymentRow,
    pub app: AppRow,
}

#[derive(Debug)]
pub enum Claim {
    Claimed(Box<Job>),
    EmptyQueue,
}

fn lease_interval(lease: Duration) -> sqlx::postgres::types::PgInterval {
    sqlx::postgres::types::PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(lease.as_micros()).unwrap_or(i64::MAX),
    }
}

/// Claims the oldest pending deployment with `FOR UPDATE SKIP LOCKED`, so concurrent
/// workers never take the same one, and supersedes older unfinished deployments of the
/// same app: their workers see it at the next lease renewal and stop.
pub async fn claim(pool: &PgPool, worker_id: &str, lease: Duration) -> Result<Claim, StoreError> {
    let mut tx = pool.begin().await?;
    let claimed: Option<(Uuid, Uuid, chrono::DateTime<chrono::Utc>, DeploymentStatus)> =
        sqlx::query_as(
            "UPDATE deployments d SET worker_id = $1,
                status = CASE WHEN d.kind = 'build' THEN 'cloning'::deployment_status
                              ELSE 'releasing'::deployment_status END,
                lease_expires_at = now() + $2, attempts = d.attempts + 1,
                started_at = coalesce(d.started_at, now())
         WHERE d.id = (
             SELECT q.id FROM deployments q JOIN apps a ON a.id = q.app_id
             WHERE q.status = 'pending' AND a.deleted_at IS NULL
             ORDER BY q.created_at, q.id
             LIMIT 1 FOR UPDATE OF q SKIP LOCKED
         )
         RETURNING d.id, d.app_id, d.created_at, d.status",
        )
        .bind(worker_id)
        .bind(lease_interval(lease))
        .fetch_optional(&mut *tx)
        .await?;
    let Some((id, app_id, created_at, status)) = claimed else {
        return Ok(Claim::EmptyQueue);
    };
    record_event(
        &mut tx,
        id,
        status,
        Some(&format!("claimed by {worker_id}")),
    )
    .await?;
    sqlx::query(
        "WITH older AS (
             UPDATE deployments SET status = 'superseded', finished_at = now(),
                    reason = 'superseded by deployment ' || $2::text || ' before it finished'
             WHERE app_id = $1 AND id <> $2 AND created_at <= $3
               AND status IN ('pending','cloning','building','testing','releasing')
             RETURNING id
         )
         INSERT INTO deployment_events (deployment_id, status, message)
         SELECT id, 'superseded', 'superseded by deployment ' || $2::text FROM older",
    )
    .bind(app_id)
    .bind(id)
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    let deployment: DeploymentRow = sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let app: AppRow = sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM apps WHERE id = $1"
    ))
    .bind(app_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Claim::Claimed(Box::new(Job { deployment, app })))
}

/// Extends the lease. `None` means the deployment is no longer this worker's (cancelled,
/// superseded or reclaimed) and the worker must stop working on it.
pub async fn renew(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    lease: Duration,
) -> Result<Option<DeploymentStatus>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE deployments SET lease_expires_at = now() + $3
         WHERE id = $1 AND worker_id = $2
           AND status IN ('cloning','building','testing','releasing')
         RETURNING status",
    )
    .bind(id)
    .bind(worker_id)
    .bind(lease_interval(lease))
    .fetch_optional(pool)
    .await?)
}

/// Current status, for a worker that lost its lease and wants to say why.
pub async fn status(pool: &PgPool, id: Uuid) -> Result<DeploymentStatus, StoreError> {
    sqlx::query_scalar("SELECT status FROM deployments WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Moves an in-flight deployment to its next phase. Returns false when the deployment
/// is no longer in `from` under this worker.
pub async fn advance(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    from: DeploymentStatus,
    to: DeploymentStatus,
) -> Result<bool, StoreError> {
    debug_assert!(from.can_become(to));
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE deployments SET status = $3 WHERE id = $1 AND worker_id = $2 AND status = $4",
    )
    .bind(id)
    .bind(worker_id)
    .bind(to)
    .bind(from)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if moved {
        record_event(&mut tx, id, to, None).await?;
        tx.commit().await?;
    }
    Ok(moved)
}

pub async fn set_commit(
    pool: &PgPool,
    id: Uuid,
    sha: &str,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE deployments SET commit_sha = $2, commit_message = $3 WHERE id = $1")
        .bind(id)
        .bind(sha)
        .bind(message)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_image(pool: &PgPool, id: Uuid, image: &str, port: u16) -> Result<(), StoreError> {
    sqlx::query("UPDATE deployments SET image = $2, port = $3 WHERE id = $1")
        .bind(id)
        .bind(image)
        .bind(i32::from(port))
        .execute(pool)
        .await?;
    Ok(())
}

pub struct NewContainer<'a> {
    pub name: &'a str,
    pub container_id: &'a str,
    pub process: &'a str,
    pub replica: u32,
    pub ip: Option<&'a str>,
    pub port: u16,
    pub host_port: Option<u16>,
}

pub async fn record_container(
    pool: &PgPool,
    id: Uuid,
    c: &NewContainer<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deployment_containers (deployment_id, name, container_id, process, ip, port, host_port, replica)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (deployment_id, name) DO UPDATE SET container_id = EXCLUDED.container_id,
             ip = EXCLUDED.ip, port = EXCLUDED.port, host_port = EXCLUDED.host_port",
    )
    .bind(id)
    .bind(c.name)
    .bind(c.container_id)
    .bind(c.process)
    .bind(c.ip)
    .bind(i32::from(c.port))
    .bind(c.host_port.map(i32::from))
    .bind(i32::try_from(c.replica).unwrap_or(i32::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn forget_containers(pool: &PgPool, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM deployment_containers WHERE deployment_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks the release running and, in the same transaction, the app's previous running
/// releases superseded. Returns those previous deployments so the worker can stop their
/// containers, which it does only after this commit: the app is never without a release.
pub async fn promote(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
) -> Result<Option<Vec<Uuid>>, StoreError> {
    let mut tx = pool.begin().await?;
    let app_id: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE deployments SET status = 'running', finished_at = now(), lease_expires_at = NULL,
                released_at = now()
         WHERE id = $1 AND worker_id = $2 AND status = 'releasing' RETURNING app_id, kind",
    )
    .bind(id)
    .bind(worker_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((app_id, kind)) = app_id else {
        return Ok(None);
    };
    record_event(&mut tx, id, DeploymentStatus::Running, None).await?;
    // A rollback's predecessor was rolled back; any other release's was superseded.
    let (replaced, verb) = if kind == "rollback" {
        (DeploymentStatus::RolledBack, "rolled back to")
    } else {
        (DeploymentStatus::Superseded, "replaced by")
    };
    let previous: Vec<Uuid> = sqlx::query_scalar(
        "WITH prev AS (
             UPDATE deployments SET status = $3,
                    reason = $4 || ' deployment ' || $2::text
             WHERE app_id = $1 AND id <> $2 AND status IN ('running', 'crashed') RETURNING id
         ), ev AS (
             INSERT INTO deployment_events (deployment_id, status, message)
             SELECT id, $3, $4 || ' deployment ' || $2::text FROM prev
         )
         SELECT id FROM prev",
    )
    .bind(app_id)
    .bind(id)
    .bind(replaced)
    .bind(verb)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(previous))
}

/// Ends an in-flight deployment as failed or cancelled, keeping the phase and the reason.
/// Returns false when it had already left this worker's hands.
pub async fn finish(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    status: DeploymentStatus,
    phase: Option<Phase>,
    reason: &str,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE deployments SET status = $3, failed_phase = $4, reason = $5, finished_at = now(),
                lease_expires_at = NULL
         WHERE id = $1 AND worker_id = $2 AND status IN ('cloning','building','testing','releasing')",
    )
    .bind(id)
    .bind(worker_id)
    .bind(status)
    .bind(phase.map(Phase::as_str))
    .bind(reason)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        record_event(&mut tx, id, status, Some(reason)).await?;
        tx.commit().await?;
    }
    Ok(done)
}

/// What happened to one deployment whose worker stopped renewing its lease.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Reclaimed {
    pub id: Uuid,
    pub lost_in: DeploymentStatus,
    pub now: DeploymentStatus,
    pub worker_id: Option<String>,
}

/// Reclaims deployments whose lease expired: requeued while attempts remain, otherwise
/// failed with "worker lost" in the phase it was in. Nothing stays in flight forever.
pub async fn reclaim_expired(
    pool: &PgPool,
    max_attempts: i32,
) -> Result<Vec<Reclaimed>, StoreError> {
    let mut tx = pool.begin().await?;
    let reclaimed: Vec<Reclaimed> = sqlx::query_as(
        "WITH expired AS (
             SELECT id, status AS lost_in, worker_id FROM deployments
             WHERE status IN ('cloning','building','testing','releasing') AND lease_expires_at < now()
             FOR UPDATE SKIP LOCKED
         )
         UPDATE deployments d SET
             status = CASE WHEN d.attempts < $1 THEN 'pending'::deployment_status
                           ELSE 'failed'::deployment_status END,
             failed_phase = CASE WHEN d.attempts < $1 THEN NULL ELSE
                 CASE e.lost_in WHEN 'cloning' THEN 'clone' WHEN 'building' THEN 'build'
                                WHEN 'testing' THEN 'test' ELSE 'release' END END,
             reason = CASE WHEN d.attempts < $1 THEN NULL ELSE
                 'worker lost: ' || coalesce(e.worker_id, 'its worker') ||
                 ' stopped renewing its lease while ' || e.lost_in::text ||
                 ' (tried ' || d.attempts || ' times)' END,
             finished_at = CASE WHEN d.attempts < $1 THEN NULL ELSE now() END,
             worker_id = NULL, lease_expires_at = NULL
         FROM expired e WHERE d.id = e.id
         RETURNING d.id, e.lost_in, d.status AS now, e.worker_id",
    )
    .bind(max_attempts)
    .fetch_all(&mut *tx)
    .await?;
    for r in &reclaimed {
        let who = r.worker_id.as_deref().unwrap_or("its worker");
        let message = if r.now == DeploymentStatus::Pending {
            format!(
                "worker lost: {who} stopped renewing its lease while {}; queued again",
                r.lost_in
            )
        } else {
            format!(
                "worker lost: {who} stopped renewing its lease while {}; giving up",
                r.lost_in
            )
        };
        record_event(&mut tx, r.id, r.now, Some(&message)).await?;
    }
    tx.commit().await?;
    Ok(reclaimed)
}

/// A worker shutting down gives a deployment back: queued again at once for another
/// worker, without using up an attempt (nothing went wrong with it). `false` if it was
/// no longer this worker's.
pub async fn hand_back(pool: &PgPool, id: Uuid, worker_id: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let lost_in: Option<DeploymentStatus> = sqlx::query_scalar(
        "UPDATE deployments d SET status = 'pending', worker_id = NULL, lease_expires_at = NULL,
                attempts = greatest(d.attempts - 1, 0)
         FROM deployments before
         WHERE d.id = $1 AND before.id = d.id AND d.worker_id = $2
           AND d.status IN ('cloning','building','testing','releasing')
         RETURNING before.status",
    )
    .bind(id)
    .bind(worker_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(lost_in) = lost_in else {
        return Ok(false);
    };
    let message = format!("handed back: {worker_id} shut down while {lost_in}; queued again");
    record_event(&mut tx, id, DeploymentStatus::Pending, Some(&message)).await?;
    tx.commit().await?;
    Ok(true)
}

/// Pending deployments, for a queue-depth view.
pub async fn depth(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM deployments WHERE status = 'pending'")
            .fetch_one(pool)
            .await?,
    )
}

/// Snapshots the app's sealed config vars into the deployment, which must already be
/// `releasing` (committed). The app lock orders this against config changes: a change
/// either lands before the snapshot or sees the deployment releasing and queues a
/// release of its own, so no change is ever lost between the two.
pub async fn snapshot_config(pool: &PgPool, id: Uuid) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT 1 FROM apps WHERE id = (SELECT app_id FROM deployments WHERE id = $1) FOR SHARE",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE deployments d SET config_snapshot = (
             SELECT coalesce(jsonb_object_agg(c.name, replace(encode(c.sealed, 'base64'), E'\n', '')), '{}'::jsonb)
             FROM config_vars c WHERE c.app_id = d.app_id)
         WHERE d.id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The spec the release runs with, as JSON.
pub async fn set_spec(pool: &PgPool, id: Uuid, spec: &serde_json::Value) -> Result<(), StoreError> {
    sqlx::query("UPDATE deployments SET spec = $2 WHERE id = $1")
        .bind(id)
        .bind(sqlx::types::Json(spec))
        .execute(pool)
        .await?;
    Ok(())
}

/// The config snapshot as it is now (it is taken after the deployment was claimed).
pub async fn config_snapshot(
    pool: &PgPool,
    id: Uuid,
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    let snapshot: Option<sqlx::types::Json<std::collections::BTreeMap<String, String>>> =
        sqlx::query_scalar("SELECT config_snapshot FROM deployments WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .flatten();
    Ok(snapshot.map(|s| s.0).unwrap_or_default())
}

/// Images of the app that must stay: those of unfinished deployments (a queued rollback
/// or config release will need them) and of the `keep` releases that served last.
pub async fn images_to_keep(
    pool: &PgPool,
    app_id: Uuid,
    keep: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT image FROM deployments
         WHERE app_id = $1 AND image IS NOT NULL
           AND status IN ('pending','cloning','building','testing','releasing','running','crashed')
         UNION
         SELECT image FROM (
             SELECT image, max(released_at) AS last FROM deployments
             WHERE app_id = $1 AND image IS NOT NULL AND released_at IS NOT NULL
             GROUP BY image ORDER BY last DESC LIMIT $2
         ) recent",
    )
    .bind(app_id)
    .bind(keep)
    .fetch_all(pool)
    .await?)
}

/// Whether a deployment other than `except` still needs `image`: one that is unfinished
/// or that once served (a rollback target).
pub async fn image_needed_elsewhere(
    pool: &PgPool,
    image: &str,
    except: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deployments WHERE image = $1 AND id <> $2
             AND (released_at IS NOT NULL
                  OR status IN ('pending','cloning','building','testing','releasing')))",
    )
    .bind(image)
    .bind(except)
    .fetch_one(pool)
    .await?)
}

/// Forgets one container of a deployment (scaled down, or found gone).
pub async fn forget_container(pool: &PgPool, id: Uuid, name: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM deployment_containers WHERE deployment_id = $1 AND name = $2")
        .bind(id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

/// Containers Slipway counts for running (or crashed) releases, for the metrics gauge.
pub async fn running_containers(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM deployment_containers c JOIN deployments d ON d.id = c.deployment_id
         WHERE d.status IN ('running', 'crashed')",
    )
    .fetch_one(pool)
    .await?)
}

/// Sets the database-backed gauges (queue depth, running containers) before a scrape.
/// A database that does not answer leaves them as they were.
pub async fn refresh_gauges(pool: &PgPool, set: impl FnOnce(i64, i64)) {
    if let (Ok(depth), Ok(running)) = (depth(pool).await, running_containers(pool).await) {
        set(depth, running);
    }
}
