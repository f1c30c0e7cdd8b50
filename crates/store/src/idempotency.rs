//! Remembered answers to POSTs sent with an idempotency key, per user, for 24 hours.

use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// The first answer, as it was sent.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum Begin {
    /// The key is new (or its record expired): answer the request, then `finish` it.
    Fresh,
    /// Answered before, for the same request.
    Replay(Stored),
    /// Used before for a different request.
    Mismatch,
    /// The first request with this key is still being answered.
    InProgress,
}

/// Claims `key` for this request (`request` identifies it: a digest of method, path and
/// body), or says what became of the key's earlier use.
pub async fn begin(
    pool: &PgPool,
    user_id: Uuid,
    key: &str,
    request: &[u8],
) -> Result<Begin, StoreError> {
    let mut tx = pool.begin().await?;
    // Expired keys are forgotten here rather than by a sweeper: a key's record only
    // matters when the key comes back.
    sqlx::query(
        "DELETE FROM idempotency_keys
         WHERE user_id = $1 AND created_at < now() - interval '24 hours'",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(request)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        tx.commit().await?;
        return Ok(Begin::Fresh);
    }
    let (stored_request, status, location, body): (
        Vec<u8>,
        Option<i16>,
        Option<String>,
        Option<Vec<u8>>,
    ) = sqlx::query_as(
        "SELECT request, status, location, response FROM idempotency_keys
             WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if stored_request != request {
        return Ok(Begin::Mismatch);
    }
    Ok(match status {
        None => Begin::InProgress,
        Some(status) => Begin::Replay(Stored {
            status: u16::try_from(status).unwrap_or(500),
            location,
            body: body.unwrap_or_default(),
        }),
    })
}

/// Records the answer to replay.
pub async fn finish(
    pool: &PgPool,
    user_id: Uuid,
    key: &str,
    answer: &Stored,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, location = $4, response = $5
         WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(i16::try_from(answer.status).unwrap_or(500))
    .bind(&answer.location)
    .bind(&answer.body)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets the key, so that a retry is answered afresh (after a server error).
pub async fn release(pool: &PgPool, user_id: Uuid, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
