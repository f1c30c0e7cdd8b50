//! Deployments as users see them: creation, history, events and containers.

use chrono::{DateTime, Utc};
use slipway_core::DeploymentStatus;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeploymentRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub git_ref: Option<String>,
    pub status: DeploymentStatus,
    pub failed_phase: Option<String>,
    pub reason: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_message: Option<String>,
    pub image: Option<String>,
    pub port: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: i32,
}

/// Column list shared by every deployment query (aliases `d` and `a` for the app).
macro_rules! deployment_columns {
    () => {
        "d.id, d.app_id, a.name AS app_name, d.git_ref, d.status, d.failed_phase, d.reason, \
         d.commit_sha, d.commit_message, d.image, d.port, d.created_at, d.started_at, \
         d.finished_at, d.attempts"
    };
}
pub(crate) use deployment_columns;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContainerRow {
    pub name: String,
    pub container_id: String,
    pub process: String,
    pub ip: Option<String>,
    pub port: i32,
    pub host_port: Option<i32>,
}

/// Queues a deployment. Older deployments of the app that no worker has started yet are
/// superseded right away: only the newest request is worth building.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    app_id: Uuid,
    git_ref: Option<&str>,
) -> Result<DeploymentRow, StoreError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "WITH stale AS (
             UPDATE deployments SET status = 'superseded', finished_at = now(),
                    reason = 'superseded by deployment ' || $1::text || ' before a worker started it'
             WHERE app_id = $2 AND status = 'pending' RETURNING id
         )
         INSERT INTO deployment_events (deployment_id, status, message)
         SELECT id, 'superseded', 'superseded by deployment ' || $1::text FROM stale",
    )
    .bind(id)
    .bind(app_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO deployments (id, app_id, git_ref) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(app_id)
        .bind(git_ref)
        .execute(&mut *conn)
        .await?;
    record_event(conn, id, DeploymentStatus::Pending, None).await?;
    fetch(&mut *conn, id).await
}

pub async fn create(
    pool: &PgPool,
    app_id: Uuid,
    git_ref: Option<&str>,
) -> Result<DeploymentRow, StoreError> {
    let mut tx = pool.begin().await?;
    let row = insert(&mut tx, app_id, git_ref).await?;
    tx.commit().await?;
    Ok(row)
}

async fn fetch<'e>(conn: impl sqlx::PgExecutor<'e>, id: Uuid) -> Result<DeploymentRow, StoreError> {
    sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<DeploymentRow, StoreError> {
    fetch(pool, id).await
}

/// Newest first.
pub async fn list_for_app(
    pool: &PgPool,
    app_id: Uuid,
    limit: i64,
) -> Result<Vec<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.app_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
    ))
    .bind(app_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn events(pool: &PgPool, id: Uuid) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT status, message, at FROM deployment_events WHERE deployment_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

pub async fn containers(pool: &PgPool, id: Uuid) -> Result<Vec<ContainerRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, container_id, process, ip, port, host_port FROM deployment_containers
         WHERE deployment_id = $1 ORDER BY name",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn record_event(
    conn: &mut PgConnection,
    id: Uuid,
    status: DeploymentStatus,
    message: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deployment_events (deployment_id, status, message) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(status)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancels every queued or in-flight deployment of an app. Workers notice at their next
/// lease renewal and stop.
pub(crate) async fn cancel_unfinished(
    conn: &mut PgConnection,
    app_id: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH cancelled AS (
             UPDATE deployments SET status = 'cancelled', reason = $2, finished_at = now(),
                    lease_expires_at = NULL
             WHERE app_id = $1 AND status IN ('pending','cloning','building','testing','releasing')
             RETURNING id
         )
         INSERT INTO deployment_events (deployment_id, status, message)
         SELECT id, 'cancelled', $2 FROM cancelled",
    )
    .bind(app_id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}
