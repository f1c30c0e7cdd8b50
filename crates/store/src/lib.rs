//! Postgres persistence: apps, deployments (which double as the work queue), their
//! event history, log lines and containers. Knows nothing of Docker or HTTP.

pub mod apps;
pub mod callbacks;
pub mod config_vars;
pub mod containers;
pub mod deaths;
pub mod deployments;
pub mod error;
pub mod events;
pub mod gauges;
pub mod idempotency;
pub mod images;
pub mod lease;
pub mod logs;
pub mod owner;
pub mod page;
pub mod queue;
pub mod secrets;
pub mod test_runs;
pub mod users;
pub mod webhooks;
pub mod workers;

use std::time::Duration;

pub use error::StoreError;
pub use sqlx::PgPool;

/// Migrations embedded at compile time. sqlx takes a Postgres advisory lock while it
/// applies them, so the API and workers may all start at once.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The NOTIFY channel that announces queued deployments and app teardowns.
pub const QUEUE_CHANNEL: &str = "slipway_queue";

/// Connects, retrying for up to `patience` so that a database that starts a little after
/// Slipway (docker compose, a reboot) is waited for rather than treated as fatal.
pub async fn connect(
    url: &str,
    max_connections: u32,
    patience: Duration,
) -> Result<PgPool, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let attempt = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
