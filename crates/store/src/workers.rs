//! Worker heartbeats: each worker upserts its row every few seconds and deletes it when
//! it stops cleanly. Times are the database's own (`now()`), so a reader's cutoff and a
//! writer's heartbeat use one clock even when they run on different hosts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::StoreError;

/// What a worker reports about itself at each heartbeat.
#[derive(Debug, Clone)]
pub struct Heartbeat<'a> {
    pub id: &'a str,
    pub host: &'a str,
    /// Its internal server's URL, for the API to fetch runtime logs; `None`: it runs none.
    pub url: Option<&'a str>,
    pub runtime_ok: bool,
    /// The runtime's version, or why it did not answer.
    pub runtime_status: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub url: Option<String>,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub runtime_ok: bool,
    pub runtime_status: String,
}

/// How often a worker records its heartbeat: three times per lease period
/// (SLIPWAY_LEASE_DURATION, which workers and the API share), at least once a second.
pub fn heartbeat_interval(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_secs(1))
}

/// How long a heartbeat counts as a sign of life: two lease periods, so a worker is
/// trusted through a few missed heartbeats (a slow database, a restart of it) but not
/// much longer than the queue trusts its leases.
pub fn liveness_window(lease: Duration) -> Duration {
    lease * 2
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Records that the worker is alive now.
pub async fn heartbeat(pool: &PgPool, beat: &Heartbeat<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO workers (id, host, url, runtime_ok, runtime_status)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET host = $2, url = $3, runtime_ok = $4,
             runtime_status = $5, seen_at = now()",
    )
    .bind(beat.id)
    .bind(beat.host)
    .bind(beat.url)
    .bind(beat.runtime_ok)
    .bind(beat.runtime_status)
    .execute(pool)
    .await?;
    Ok(())
}

/// Workers seen within `window`, the most recently seen first.
pub async fn seen_within(pool: &PgPool, window: Duration) -> Result<Vec<WorkerRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, host, url, started_at, seen_at, runtime_ok, runtime_status FROM workers
         WHERE seen_at > now() - make_interval(secs => $1)
         ORDER BY seen_at DESC, id",
    )
    .bind(seconds(window))
    .fetch_all(pool)
    .await?)
}

/// A worker that stops cleanly says so at once, rather than being trusted until its
/// heartbeat grows old.
pub async fn remove(pool: &PgPool, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM workers WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes rows of workers not seen for `older_than` (crashed ones never remove theirs);
/// returns how many.
pub async fn prune(pool: &PgPool, older_than: Duration) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM workers WHERE seen_at < now() - make_interval(secs => $1)")
        .bind(seconds(older_than))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
