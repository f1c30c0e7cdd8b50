//! Apps. Every query takes an `Owner` so that per-user scoping, when authentication
//! lands, is a value passed in rather than a rewrite of each query.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::StoreError;
use crate::deployments::{self, DeploymentRow};
pub use crate::owner::Owner;
use crate::page::{Cursor, Page, PageRequest, keyset};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub name: String,
    /// `None` for a push app: its code is in Slipway's own repository storage.
    pub repo_url: Option<String>,
    pub branch: Option<String>,
    pub dockerfile: String,
    pub port: Option<i32>,
    pub spec_path: String,
    /// Replica counts set through the API, by process; they override the spec's.
    pub scale: Json<BTreeMap<String, u32>>,
    /// Where finished deployments are POSTed, signed with the webhook secret.
    pub callback_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    /// `None` for a push app (see [`create_push`]).
    pub repo_url: Option<String>,
    pub branch: Option<String>,
    pub dockerfile: String,
    pub port: Option<u16>,
    pub spec_path: String,
    pub callback_url: Option<String>,
}

/// A change to an app's settings: `None` leaves a setting as it is; for the nullable
/// ones, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct AppPatch {
    pub branch: Option<Option<String>>,
    pub port: Option<Option<u16>>,
    pub dockerfile: Option<String>,
    pub spec_path: Option<String>,
    pub callback_url: Option<Option<String>>,
}

/// Column list shared by every app query; a macro so that queries stay `&'static str`.
macro_rules! app_columns {
    () => {
        "id, owner_id, name, repo_url, branch, dockerfile, port, spec_path, scale, callback_url, \
         created_at"
    };
}

/// Creates the app and queues its first deployment in one transaction, so an app never
/// exists without the deployment the user expects to see.
pub async fn create(
    pool: &PgPool,
    owner: Owner,
    app: &NewApp,
) -> Result<(AppRow, DeploymentRow), StoreError> {
    let mut tx = pool.begin().await?;
    let row = insert(&mut *tx, owner, app).await?;
    let deployment = deployments::insert(&mut tx, row.id, row.branch.as_deref()).await?;
    tx.commit().await?;
    Ok((row, deployment))
}

/// Creates a push app: nothing to deploy until code is pushed to it, so no deployment
/// is queued.
pub async fn create_push(pool: &PgPool, owner: Owner, app: &NewApp) -> Result<AppRow, StoreError> {
    insert(pool, owner, app).await
}

async fn insert<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    owner: Owner,
    app: &NewApp,
) -> Result<AppRow, StoreError> {
    sqlx::query_as(concat!(
        "INSERT INTO apps (id, owner_id, name, repo_url, branch, dockerfile, port, spec_path,
                           callback_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
        app_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(owner.id())
    .bind(&app.name)
    .bind(&app.repo_url)
    .bind(&app.branch)
    .bind(&app.dockerfile)
    .bind(app.port.map(i32::from))
    .bind(&app.spec_path)
    .bind(&app.callback_url)
    .fetch_one(conn)
    .await
    .map_err(|e| StoreError::from_unique(e, "apps_name_live", "name"))
}

/// A page of the live apps `owner` may see, newest first.
pub async fn list(
    pool: &PgPool,
    owner: Owner,
    page: &PageRequest,
) -> Result<Page<AppRow>, StoreError> {
    let (after_at, after_id) = page.after_key();
    let rows = sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM apps
         WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR owner_id = $1)",
        keyset!("", "$2", "$3", "$4")
    ))
    .bind(owner.id())
    .bind(after_at)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(rows, page, |a: &AppRow| Cursor {
        created_at: a.created_at,
        id: a.id,
    }))
}

/// Looks an app up by id or by name, as the API's `{app}` path segment allows both.
pub async fn find(pool: &PgPool, owner: Owner, id_or_name: &str) -> Result<AppRow, StoreError> {
    let id = Uuid::parse_str(id_or_name).ok();
    sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM apps
         WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR owner_id = $1)
           AND (id = $2 OR name = $3)"
    ))
    .bind(owner.id())
    .bind(id)
    .bind(id_or_name)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)
}

/// The app with this id, deleted or not, whoever owns it: for the worker.
pub async fn find_by_id<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<AppRow, StoreError> {
    sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM apps WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Marks the app deleted and cancels its unfinished deployments. The name is free again
/// at once; the worker removes containers and images, then the row.
pub async fn mark_deleted(
    pool: &PgPool,
    owner: Owner,
    id_or_name: &str,
) -> Result<AppRow, StoreError> {
    let app = find(pool, owner, id_or_name).await?;
    let mut tx = pool.begin().await?;
    let updated =
        sqlx::query("UPDATE apps SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL")
            .bind(app.id)
            .execute(&mut *tx)
            .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    deployments::cancel_unfinished(&mut tx, app.id, "the app was deleted").await?;
    tx.commit().await?;
    Ok(app)
}

/// An app whose teardown a worker holds: the row stays locked until `finish_teardown`
/// commits, so a second worker skips it and a crashed worker's teardown is retried.
pub struct Teardown {
    pub app: AppRow,
    pub tx: Transaction<'static, Postgres>,
}

pub async fn claim_teardown(pool: &PgPool) -> Result<Option<Teardown>, StoreError> {
    let mut tx = pool.begin().await?;
    let app: Option<AppRow> = sqlx::query_as(concat!(
        "SELECT ",
        app_columns!(),
        " FROM apps WHERE deleted_at IS NOT NULL
         ORDER BY deleted_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    ))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(app.map(|app| Teardown { app, tx }))
}

pub async fn finish_teardown(mut teardown: Teardown) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM apps WHERE id = $1")
        .bind(teardown.app.id)
        .execute(&mut *teardown.tx)
        .await?;
    teardown.tx.commit().await?;
    Ok(())
}

/// Applies a settings change; it takes effect from the next deployment.
pub async fn update(pool: &PgPool, app_id: Uuid, patch: &AppPatch) -> Result<AppRow, StoreError> {
    sqlx::query_as(concat!(
        "UPDATE apps SET
             branch = CASE WHEN $2 THEN $3 ELSE branch END,
             port = CASE WHEN $4 THEN $5 ELSE port END,
             dockerfile = COALESCE($6, dockerfile),
             spec_path = COALESCE($7, spec_path),
             callback_url = CASE WHEN $8 THEN $9 ELSE callback_url END
         WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        app_columns!()
    ))
    .bind(app_id)
    .bind(patch.branch.is_some())
    .bind(patch.branch.clone().flatten())
    .bind(patch.port.is_some())
    .bind(patch.port.flatten().map(i32::from))
    .bind(&patch.dockerfile)
    .bind(&patch.spec_path)
    .bind(patch.callback_url.is_some())
    .bind(patch.callback_url.clone().flatten())
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Merges replica counts into the app's scale. The change NOTIFYs `reconcile:<app>`, and
/// the worker brings the running release's containers in line.
pub async fn set_scale(
    pool: &PgPool,
    app_id: Uuid,
    counts: &BTreeMap<String, u32>,
) -> Result<AppRow, StoreError> {
    sqlx::query_as(concat!(
        "UPDATE apps SET scale = scale || $2 WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        app_columns!()
    ))
    .bind(app_id)
    .bind(Json(counts))
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Live apps, for the worker's start-up reconciliation.
pub async fn list_live_ids(pool: &PgPool) -> Result<Vec<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM apps WHERE deleted_at IS NULL ORDER BY created_at")
            .fetch_all(pool)
            .await?,
    )
}

/// Held while one app is reconciled: concurrent reconciliations of the same app (two
/// workers woken by the same NOTIFY) queue on it rather than both starting the same
/// replica. A transaction-scoped advisory lock, so it is let go when the transaction
/// ends: at [`ReconcileLock::release`], or when the lock is dropped (rolled back), or
/// when the connection dies with its worker.
pub struct ReconcileLock {
    tx: Transaction<'static, Postgres>,
}

pub async fn lock_for_reconcile(pool: &PgPool, app_id: Uuid) -> Result<ReconcileLock, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(app_id)
        .execute(&mut *tx)
        .await?;
    Ok(ReconcileLock { tx })
}

impl ReconcileLock {
    pub async fn release(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
