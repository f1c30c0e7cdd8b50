//! Database-backed metrics gauges, read just before a scrape.

use sqlx::PgPool;

use crate::{containers, queue};

/// Sets the gauges (queue depth, containers of serving releases) before a scrape.
/// A database that does not answer leaves them as they were.
pub async fn refresh(pool: &PgPool, set: impl FnOnce(i64, i64)) {
    if let (Ok(depth), Ok(running)) = (
        queue::depth(pool).await,
        containers::serving_count(pool).await,
    ) {
        set(depth, running);
    }
}
