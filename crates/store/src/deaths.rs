//! Replica deaths: how often each replica of a release died lately, for the
//! reconciler's back-off and crash-loop verdict.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

pub struct Death<'a> {
    pub deployment_id: Uuid,
    pub replica: &'a str,
    pub replica_id: &'a str,
    pub died_at: DateTime<Utc>,
    pub exit_code: Option<i64>,
}

/// Records a death; `false` when another worker already recorded the same one.
pub async fn record(pool: &PgPool, death: &Death<'_>) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO replica_deaths (deployment_id, replica, replica_id, died_at, exit_code)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(death.deployment_id)
    .bind(death.replica)
    .bind(death.replica_id)
    .bind(death.died_at)
    .bind(death.exit_code)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A replica's deaths since `since`: how many, and the newest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recent {
    pub count: i64,
    pub last: Option<DateTime<Utc>>,
}

pub async fn recent(
    pool: &PgPool,
    deployment_id: Uuid,
    replica: &str,
    since: DateTime<Utc>,
) -> Result<Recent, StoreError> {
    let (count, last): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), max(died_at) FROM replica_deaths
         WHERE deployment_id = $1 AND replica = $2 AND died_at >= $3",
    )
    .bind(deployment_id)
    .bind(replica)
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(Recent { count, last })
}

/// Forgets deaths older than `before`: only recent ones count.
pub async fn prune(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM replica_deaths WHERE died_at < $1")
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}
