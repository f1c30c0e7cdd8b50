//! Webhook secrets, remembered forge deliveries, and recorded pull request events.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::StoreError;

/// An app's webhook secret as stored: sealed with SLIPWAY_SECRET_KEY, or not.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub bytes: Vec<u8>,
    pub sealed: bool,
}

pub async fn secret<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    app_id: Uuid,
) -> Result<Option<StoredSecret>, StoreError> {
    let row: Option<(Option<Vec<u8>>, bool)> =
        sqlx::query_as("SELECT webhook_secret, webhook_secret_sealed FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(conn)
            .await?;
    let (bytes, sealed) = row.ok_or(StoreError::NotFound)?;
    Ok(bytes.map(|bytes| StoredSecret { bytes, sealed }))
}

/// Sets the secret unless the app has one already, and returns the one it has: two
/// requests that both found none agree on the first one written.
pub async fn init_secret(
    pool: &PgPool,
    app_id: Uuid,
    new: &StoredSecret,
) -> Result<StoredSecret, StoreError> {
    write_secret(pool, app_id, new, false).await?;
    secret(pool, app_id).await?.ok_or(StoreError::NotFound)
}

/// Replaces the secret: deliveries signed with the old one are refused from now on.
pub async fn rotate_secret(
    pool: &PgPool,
    app_id: Uuid,
    new: &StoredSecret,
) -> Result<(), StoreError> {
    if write_secret(pool, app_id, new, true).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Rows changed: 0 when the app is gone, or (`replace` false) already has a secret.
async fn write_secret(
    pool: &PgPool,
    app_id: Uuid,
    new: &StoredSecret,
    replace: bool,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE apps SET webhook_secret = $2, webhook_secret_sealed = $3
         WHERE id = $1 AND deleted_at IS NULL AND ($4 OR webhook_secret IS NULL)",
    )
    .bind(app_id)
    .bind(&new.bytes)
    .bind(new.sealed)
    .bind(replace)
    .execute(pool)
    .await?
    .rows_affected())
}

/// What happened to a delivery id.
#[derive(Debug)]
pub enum Delivery {
    /// First seen: the caller acts on it in this transaction and records its answer
    /// with [`answered`]. Rolling back forgets it.
    New,
    /// Seen within 24 hours: the status and body it was answered with.
    Seen { status: i16, body: String },
}

/// Claims a delivery id inside the caller's transaction. A concurrent request with the
/// same id waits on the row until this transaction ends, then sees it as `Seen`.
pub async fn claim_delivery(
    conn: &mut PgConnection,
    app_id: Uuid,
    provider: &str,
    delivery_id: &str,
) -> Result<Delivery, StoreError> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < now() - interval '24 hours'")
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (app_id, provider, delivery_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(app_id)
    .bind(provider)
    .bind(delivery_id)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Delivery::New);
    }
    let (status, body): (Option<i16>, Option<String>) = sqlx::query_as(
        "SELECT status, body FROM webhook_deliveries
         WHERE app_id = $1 AND provider = $2 AND delivery_id = $3",
    )
    .bind(app_id)
    .bind(provider)
    .bind(delivery_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Delivery::Seen {
        status: status.unwrap_or(200),
        body: body.unwrap_or_default(),
    })
}

/// Records the answer a claimed delivery got, for its repeats.
pub async fn answered(
    conn: &mut PgConnection,
    app_id: Uuid,
    provider: &str,
    delivery_id: &str,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $4, body = $5
         WHERE app_id = $1 AND provider = $2 AND delivery_id = $3",
    )
    .bind(app_id)
    .bind(provider)
    .bind(delivery_id)
    .bind(i16::try_from(status).unwrap_or(200))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// A pull (merge) request event, with its action normalised across forges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub number: i64,
    pub action: String,
    pub head_sha: String,
    pub head_ref: Option<String>,
    pub head_repo: Option<String>,
    pub base_ref: Option<String>,
    pub base_repo: Option<String>,
    pub merged: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PullRequestRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub provider: String,
    pub delivery_id: String,
    pub number: i64,
    pub action: String,
    pub head_sha: String,
    pub head_ref: Option<String>,
    pub head_repo: Option<String>,
    pub base_ref: Option<String>,
    pub base_repo: Option<String>,
    pub merged: bool,
    pub received_at: DateTime<Utc>,
}

pub async fn record_pull_request(
    conn: &mut PgConnection,
    app_id: Uuid,
    provider: &str,
    delivery_id: &str,
    event: &PullRequestEvent,
) -> Result<PullRequestRow, StoreError> {
    Ok(sqlx::query_as(
        "INSERT INTO pull_request_events (id, app_id, provider, delivery_id, number, action,
             head_sha, head_ref, head_repo, base_ref, base_repo, merged)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id, app_id, provider, delivery_id, number, action, head_sha, head_ref,
                   head_repo, base_ref, base_repo, merged, received_at",
    )
    .bind(Uuid::now_v7())
    .bind(app_id)
    .bind(provider)
    .bind(delivery_id)
    .bind(event.number)
    .bind(&event.action)
    .bind(&event.head_sha)
    .bind(&event.head_ref)
    .bind(&event.head_repo)
    .bind(&event.base_ref)
    .bind(&event.base_repo)
    .bind(event.merged)
    .fetch_one(conn)
    .await?)
}

/// The app's recorded pull request events, oldest first.
pub async fn pull_requests(pool: &PgPool, app_id: Uuid) -> Result<Vec<PullRequestRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, app_id, provider, delivery_id, number, action, head_sha, head_ref,
                head_repo, base_ref, base_repo, merged, received_at
         FROM pull_request_events WHERE app_id = $1 ORDER BY received_at, id",
    )
    .bind(app_id)
    .fetch_all(pool)
    .await?)
}
