//! Callback deliveries: events (a finished deployment, a finished test run) POSTed to an
//! app's callback_url by the API's delivery loop, retried with back-off, each attempt
//! recorded. Several API instances may run the loop: a delivery is claimed with
//! `FOR UPDATE SKIP LOCKED` and held until its attempt is recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::StoreError;
use crate::page::{Cursor, Page, PageRequest, keyset};

/// The NOTIFY channel that announces a queued callback.
pub const CHANNEL: &str = "slipway_callbacks";

/// Sent when a deployment leaves the queue for good (running, failed, cancelled,
/// superseded); queued by a trigger on `deployments`, whichever process moved it.
pub const DEPLOYMENT_FINISHED: &str = "deployment.finished";

/// Sent when a test run ends (passed, failed, error, cancelled), standalone or gating a
/// deployment; queued by a trigger on `test_runs`.
pub const TEST_RUN_FINISHED: &str = "test_run.finished";

/// Queues `event` about `subject_id` for the app's callback_url, in the caller's
/// transaction; `None` when the app has no callback_url. `payload` is the exact JSON
/// to send; without one the API renders the subject's view at the first attempt (see
/// the delivery loop's renderers), which is how events finished outside the API are
/// sent with the same JSON as its GET.
pub async fn enqueue(
    conn: &mut PgConnection,
    app_id: Uuid,
    event: &str,
    subject_id: Uuid,
    payload: Option<&str>,
) -> Result<Option<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT slipway_enqueue_callback($1, $2, $3, $4)")
            .bind(app_id)
            .bind(event)
            .bind(subject_id)
            .bind(payload)
            .fetch_one(conn)
            .await?,
    )
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub event: String,
    pub subject_id: Uuid,
    pub payload: Option<String>,
    /// `pending`, `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.app_id, d.event, d.subject_id, d.payload, d.status, d.attempts, \
         d.next_attempt_at, d.last_error, d.created_at, d.finished_at"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: Uuid,
    pub at: DateTime<Utc>,
    pub http_status: Option<i16>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// A due delivery held by this process until [`Claimed::record`] commits (or the
/// claim is dropped, which lets another instance take it).
pub struct Claimed {
    pub delivery: DeliveryRow,
    /// The app's callback_url now; `None` when it was removed (or the app deleted)
    /// after the event was queued.
    pub url: Option<String>,
    tx: Transaction<'static, Postgres>,
}

/// The oldest due delivery no other instance holds.
pub async fn claim_due(pool: &PgPool) -> Result<Option<Claimed>, StoreError> {
    let mut tx = pool.begin().await?;
    let delivery: Option<DeliveryRow> = sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM callback_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    ))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(delivery) = delivery else {
        return Ok(None);
    };
    let url: Option<String> =
        sqlx::query_scalar("SELECT callback_url FROM apps WHERE id = $1 AND deleted_at IS NULL")
            .bind(delivery.app_id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    Ok(Some(Claimed { delivery, url, tx }))
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What becomes of the delivery after an attempt.
#[derive(Debug, Clone, Copy)]
pub enum After {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

impl Claimed {
    /// Keeps the body rendered for the first attempt, so that retries send the same.
    pub async fn set_payload(&mut self, payload: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE callback_deliveries SET payload = $2 WHERE id = $1")
            .bind(self.delivery.id)
            .bind(payload)
            .execute(&mut *self.tx)
            .await?;
        self.delivery.payload = Some(payload.to_owned());
        Ok(())
    }

    /// Records the attempt (`None`: none was made, the delivery is given up for
    /// `last_error`) and what follows it, and lets the delivery go.
    pub async fn record(
        mut self,
        attempt: Option<&Attempt>,
        last_error: Option<&str>,
        after: After,
    ) -> Result<(), StoreError> {
        if let Some(attempt) = attempt {
            sqlx::query(
                "INSERT INTO callback_attempts (delivery_id, http_status, error, duration_ms)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(self.delivery.id)
            .bind(attempt.http_status.and_then(|s| i16::try_from(s).ok()))
            .bind(&attempt.error)
            .bind(i32::try_from(attempt.duration_ms).unwrap_or(i32::MAX))
            .execute(&mut *self.tx)
            .await?;
        }
        let (status, next) = match after {
            After::Delivered => ("delivered", None),
            After::RetryAt(at) => ("pending", Some(at)),
            After::GiveUp => ("failed", None),
        };
        sqlx::query(
            "UPDATE callback_deliveries
             SET status = $2, attempts = attempts + $3, last_error = $4,
                 next_attempt_at = COALESCE($5, next_attempt_at),
                 finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
             WHERE id = $1",
        )
        .bind(self.delivery.id)
        .bind(status)
        .bind(i32::from(attempt.is_some()))
        .bind(last_error)
        .bind(next)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// When the next pending delivery that no other instance is trying falls due.
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT next_attempt_at FROM callback_deliveries WHERE status = 'pending'
         ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(pool)
    .await?)
}

/// A page of the app's deliveries, newest first.
pub async fn list_for_app(
    pool: &PgPool,
    app_id: Uuid,
    page: &PageRequest,
) -> Result<Page<DeliveryRow>, StoreError> {
    let (after_at, after_id) = page.after_key();
    let rows = sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM callback_deliveries d WHERE d.app_id = $1",
        keyset!("d.", "$2", "$3", "$4")
    ))
    .bind(app_id)
    .bind(after_at)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(rows, page, |d: &DeliveryRow| Cursor {
        created_at: d.created_at,
        id: d.id,
    }))
}

/// The attempts of several deliveries, each delivery's oldest first.
pub async fn attempts_of(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<AttemptRow>>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT delivery_id, at, http_status, error, duration_ms FROM callback_attempts
         WHERE delivery_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut by_delivery: BTreeMap<Uuid, Vec<AttemptRow>> = BTreeMap::new();
    for row in rows {
        by_delivery.entry(row.delivery_id).or_default().push(row);
    }
    Ok(by_delivery)
}
