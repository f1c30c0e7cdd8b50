//! Secrets shared by every process of one installation through the database (the
//! internal token the API shows workers, when none is configured).

use sqlx::PgPool;

use crate::StoreError;

/// The secret called `name`; the first caller's `generated` value becomes everyone's.
pub async fn get_or_create(
    pool: &PgPool,
    name: &str,
    generated: &str,
) -> Result<String, StoreError> {
    sqlx::query("INSERT INTO installation_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(generated)
        .execute(pool)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM installation_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await?,
    )
}
