//! Deployment log lines: appended in batches by the worker, paged by `seq` for readers.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LogLine {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub stream: String,
    pub line: String,
}

#[derive(Debug, Clone)]
pub struct NewLine {
    pub at: DateTime<Utc>,
    pub stream: &'static str,
    pub line: String,
}

/// One round trip for a whole batch; lines keep the time they were produced, not the
/// time they were flushed.
pub async fn append(
    pool: &PgPool,
    deployment_id: Uuid,
    lines: &[NewLine],
) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    let ats: Vec<DateTime<Utc>> = lines.iter().map(|l| l.at).collect();
    let streams: Vec<&str> = lines.iter().map(|l| l.stream).collect();
    // Postgres text cannot hold NUL bytes; a build that prints one must not lose the batch.
    let texts: Vec<String> = lines
        .iter()
        .map(|l| l.line.replace('\0', "\u{FFFD}"))
        .collect();
    sqlx::query(
        "INSERT INTO deployment_logs (deployment_id, at, stream, line)
         SELECT $1, at, stream, line FROM UNNEST($2::timestamptz[], $3::text[], $4::text[])
             WITH ORDINALITY AS t(at, stream, line, n) ORDER BY n",
    )
    .bind(deployment_id)
    .bind(&ats)
    .bind(&streams)
    .bind(&texts)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn page(
    pool: &PgPool,
    deployment_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<LogLine>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT seq, at, stream, line FROM deployment_logs
         WHERE deployment_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(deployment_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
