//! A deployment's event history: one row per status change, plus notes that change no
//! status (a replica restarted, a scale change).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use slipway_core::DeploymentStatus;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub status: DeploymentStatus,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

/// Records a status change, in the transaction that made it.
pub(crate) async fn record(
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

/// Adds a line to a deployment's event history without changing its status (a replica
/// that died and was restarted, a scale change). Every worker watches Docker's events,
/// so the same observation arrives once per worker: an identical line recorded in the
/// last minute is not repeated (the deployment row lock makes that check race-free).
pub async fn note(pool: &PgPool, id: Uuid, message: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM deployments WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO deployment_events (deployment_id, status, message)
         SELECT d.id, d.status, $2 FROM deployments d
         WHERE d.id = $1 AND NOT EXISTS (
             SELECT 1 FROM deployment_events e
             WHERE e.deployment_id = $1 AND e.message = $2
               AND e.at > clock_timestamp() - interval '1 minute')",
    )
    .bind(id)
    .bind(message)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One deployment's events, oldest first.
pub async fn of_deployment(pool: &PgPool, id: Uuid) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT status, message, at FROM deployment_events WHERE deployment_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// The events of several deployments in one query, each deployment's oldest first.
pub async fn of_deployments(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<EventRow>>, StoreError> {
    let rows: Vec<(Uuid, DeploymentStatus, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT deployment_id, status, message, at FROM deployment_events
         WHERE deployment_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut by_deployment: BTreeMap<Uuid, Vec<EventRow>> = BTreeMap::new();
    for (id, status, message, at) in rows {
        by_deployment.entry(id).or_default().push(EventRow {
            status,
            message,
            at,
        });
    }
    Ok(by_deployment)
}
