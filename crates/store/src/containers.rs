//! The containers Slipway counts as a deployment's replicas. A container is recorded
//! when it starts and forgotten before it is stopped, so what is recorded is what the
//! reconciler and the watcher treat as wanted.

use slipway_core::DeploymentStatus;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContainerRow {
    pub name: String,
    pub container_id: String,
    pub process: String,
    pub replica: i32,
    pub ip: Option<String>,
    pub port: i32,
    pub host_port: Option<i32>,
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

/// Records (or, for a replica started again under its name, updates) a container.
pub async fn record(
    pool: &PgPool,
    deployment_id: Uuid,
    c: &NewContainer<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deployment_containers (deployment_id, name, container_id, process, ip, port, host_port, replica)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (deployment_id, name) DO UPDATE SET container_id = EXCLUDED.container_id,
             ip = EXCLUDED.ip, port = EXCLUDED.port, host_port = EXCLUDED.host_port",
    )
    .bind(deployment_id)
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

/// A deployment's containers, by process and replica.
pub async fn list(pool: &PgPool, deployment_id: Uuid) -> Result<Vec<ContainerRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, container_id, process, replica, ip, port, host_port FROM deployment_containers
         WHERE deployment_id = $1 ORDER BY process, replica, name",
    )
    .bind(deployment_id)
    .fetch_all(pool)
    .await?)
}

/// Whether Slipway still counts `name` as one of the deployment's containers: the ones
/// it retires or scales away are forgotten before they are stopped.
pub async fn has(pool: &PgPool, deployment_id: Uuid, name: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deployment_containers WHERE deployment_id = $1 AND name = $2)",
    )
    .bind(deployment_id)
    .bind(name)
    .fetch_one(pool)
    .await?)
}

/// Forgets one container of a deployment (scaled down, or found gone).
pub async fn forget(pool: &PgPool, deployment_id: Uuid, name: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM deployment_containers WHERE deployment_id = $1 AND name = $2")
        .bind(deployment_id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets every container of a deployment (retired, failed or torn down).
pub async fn forget_all(pool: &PgPool, deployment_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM deployment_containers WHERE deployment_id = $1")
        .bind(deployment_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Containers Slipway counts for serving (running or crashed) releases, for the metrics gauge.
pub async fn serving_count(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM deployment_containers c JOIN deployments d ON d.id = c.deployment_id
         WHERE d.status = ANY($1)",
    )
    .bind(&DeploymentStatus::SERVING[..])
    .fetch_one(pool)
    .await?)
}
