//! Config vars, stored sealed (the API seals, the worker opens; Postgres only ever sees
//! ciphertext), and the release a change sets off.

use sqlx::PgPool;
use uuid::Uuid;

use slipway_core::{DeploymentStatus, Kind};

use crate::StoreError;
use crate::deployments::{self, DeploymentRow};

/// A change to an app's config vars: `replace` drops every var not in `set` first (PUT),
/// otherwise `set` and `unset` are merged into what is there (PATCH).
#[derive(Debug, Default)]
pub struct Change {
    pub replace: bool,
    pub set: Vec<(String, Vec<u8>)>,
    pub unset: Vec<String>,
}

/// What a change set off.
#[derive(Debug)]
pub enum Applied {
    /// A release of the current image with the new config vars was queued.
    Release(Box<DeploymentRow>),
    /// A deployment that has not reached its release yet will run with them.
    Pending(Uuid),
    /// Nothing is deployed yet: the first release will run with them.
    NothingRunning,
}

pub async fn list(pool: &PgPool, app_id: Uuid) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT name, sealed FROM config_vars WHERE app_id = $1 ORDER BY name")
            .bind(app_id)
            .fetch_all(pool)
            .await?,
    )
}

/// The names alone, for views that mask the values: no ciphertext leaves the database.
pub async fn names(pool: &PgPool, app_id: Uuid) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT name FROM config_vars WHERE app_id = $1 ORDER BY name")
            .bind(app_id)
            .fetch_all(pool)
            .await?,
    )
}

/// Applies the change and decides, under the app's lock, which release carries it:
/// a deployment still before its release snapshots the vars when it gets there, so it
/// needs nothing; one already releasing has its snapshot, so a config release follows
/// it with its image; otherwise the current release's image is released again.
/// Returns `Err(TooMany)` (and changes nothing) when the app would exceed `max_vars`.
pub async fn change(
    pool: &PgPool,
    app_id: Uuid,
    change: &Change,
    max_vars: usize,
) -> Result<Result<Applied, TooMany>, StoreError> {
    let mut tx = pool.begin().await?;
    deployments::lock_app(&mut tx, app_id).await?;
    if change.replace {
        sqlx::query("DELETE FROM config_vars WHERE app_id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
    }
    for name in &change.unset {
        sqlx::query("DELETE FROM config_vars WHERE app_id = $1 AND name = $2")
            .bind(app_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    for (name, sealed) in &change.set {
        sqlx::query(
            "INSERT INTO config_vars (app_id, name, sealed) VALUES ($1, $2, $3)
             ON CONFLICT (app_id, name) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()",
        )
        .bind(app_id)
        .bind(name)
        .bind(sealed)
        .execute(&mut *tx)
        .await?;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM config_vars WHERE app_id = $1")
        .bind(app_id)
        .fetch_one(&mut *tx)
        .await?;
    if usize::try_from(count).unwrap_or(usize::MAX) > max_vars {
        return Ok(Err(TooMany { count, max_vars }));
    }
    let unfinished: Option<(Uuid, DeploymentStatus)> = sqlx::query_as(
        "SELECT id, status FROM deployments
         WHERE app_id = $1 AND status = ANY($2) AND kind <> $3
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(app_id)
    .bind(&DeploymentStatus::UNFINISHED[..])
    .bind(Kind::Test)
    .fetch_optional(&mut *tx)
    .await?;
    let applied = match unfinished {
        Some((id, DeploymentStatus::Releasing)) => Applied::Release(Box::new(
            deployments::insert_release(&mut tx, Kind::Config, id).await?,
        )),
        Some((id, _)) => Applied::Pending(id),
        None => match deployments::current_release(&mut *tx, app_id).await? {
            Some(current) => Applied::Release(Box::new(
                deployments::insert_release(&mut tx, Kind::Config, current.id).await?,
            )),
            None => Applied::NothingRunning,
        },
    };
    tx.commit().await?;
    Ok(Ok(applied))
}

#[derive(Debug, Clone, Copy)]
pub struct TooMany {
    pub count: i64,
    pub max_vars: usize,
}

/// One sealed value, if any app has one: start-up opens it to prove SLIPWAY_SECRET_KEY
/// is the key the values were sealed with.
pub async fn any_sealed(pool: &PgPool) -> Result<Option<(Uuid, String, Vec<u8>)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT app_id, name, sealed FROM config_vars LIMIT 1")
            .fetch_optional(pool)
            .await?,
    )
}
