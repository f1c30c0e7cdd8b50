//! Deployments as users see them: creation, history, cancellation and rollback.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use slipway_core::{DeploymentStatus, Kind, Phase, TestRunStatus};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::owner::{self, Owner};
use crate::page::{Cursor, Page, PageRequest, keyset};
use crate::test_runs::{self, Ending};
use crate::{StoreError, events};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeploymentRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub git_ref: Option<String>,
    pub status: DeploymentStatus,
    pub failed_phase: Option<Phase>,
    pub reason: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_message: Option<String>,
    pub image: Option<String>,
    pub port: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub kind: Kind,
    pub source_deployment_id: Option<Uuid>,
    /// The parsed app spec the release runs with, once the config phase has read it.
    pub spec: Option<Json<serde_json::Value>>,
    /// Sealed config vars (name → base64) the release runs with.
    pub config_snapshot: Option<Json<BTreeMap<String, String>>>,
    pub released_at: Option<DateTime<Utc>>,
}

/// Column list shared by every deployment query (aliases `d` and `a` for the app).
macro_rules! deployment_columns {
    () => {
        "d.id, d.app_id, a.name AS app_name, d.git_ref, d.status, d.failed_phase, d.reason, \
         d.commit_sha, d.commit_message, d.image, d.port, d.created_at, d.started_at, \
         d.finished_at, d.attempts, d.kind, d.source_deployment_id, d.spec, \
         d.config_snapshot, d.released_at"
    };
}

/// Which of an app's older deployments a newer one supersedes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Older {
    /// Those no worker has started yet: only the newest request is worth working on.
    Queued,
    /// Every unfinished one created up to this instant: a claimed deployment takes over
    /// from them, and their workers see it at their next lease renewal and stop.
    Unfinished(DateTime<Utc>),
}

/// Supersedes `older` deployments of the app in favour of `by`.
pub(crate) async fn supersede(
    conn: &mut PgConnection,
    app_id: Uuid,
    by: Uuid,
    older: Older,
) -> Result<(), StoreError> {
    let (statuses, created_up_to, when): (&[DeploymentStatus], _, _) = match older {
        Older::Queued => (
            &[DeploymentStatus::Pending],
            None,
            "before a worker started it",
        ),
        Older::Unfinished(at) => (
            &DeploymentStatus::UNFINISHED,
            Some(at),
            "before it finished",
        ),
    };
    // A standalone test run supersedes nothing and is superseded by nothing: it
    // releases nothing, so it never competes with a release.
    let stale: Vec<Uuid> = sqlx::query_scalar(
        "WITH stale AS (
             UPDATE deployments SET status = $3, finished_at = now(),
                    reason = 'superseded by deployment ' || $2::text || ' ' || $6
             WHERE app_id = $1 AND id <> $2 AND status = ANY($4) AND kind <> $7
               AND ($5::timestamptz IS NULL OR created_at <= $5)
             RETURNING id
         ), ev AS (
             INSERT INTO deployment_events (deployment_id, status, message)
             SELECT id, $3, 'superseded by deployment ' || $2::text FROM stale
         )
         SELECT id FROM stale",
    )
    .bind(app_id)
    .bind(by)
    .bind(DeploymentStatus::Superseded)
    .bind(statuses)
    .bind(created_up_to)
    .bind(when)
    .bind(Kind::Test)
    .fetch_all(&mut *conn)
    .await?;
    if !stale.is_empty() {
        let note = format!("its deployment was superseded by deployment {by}");
        test_runs::finish(
            conn,
            &stale,
            &Ending::new(TestRunStatus::Cancelled, Some(note)),
        )
        .await?;
    }
    Ok(())
}

/// Queues a deployment, superseding the app's queued ones, in the caller's transaction.
pub async fn insert(
    conn: &mut PgConnection,
    app_id: Uuid,
    git_ref: Option<&str>,
) -> Result<DeploymentRow, StoreError> {
    let id = Uuid::now_v7();
    supersede(conn, app_id, id, Older::Queued).await?;
    sqlx::query("INSERT INTO deployments (id, app_id, git_ref) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(app_id)
        .bind(git_ref)
        .execute(&mut *conn)
        .await?;
    events::record(conn, id, DeploymentStatus::Pending, None).await?;
    fetch(&mut *conn, id).await
}

pub async fn create(
    pool: &PgPool,
    app_id: Uuid,
    git_ref: Option<&str>,
) -> Result<DeploymentRow, StoreError> {
    let mut tx = pool.begin().await?;
    let row = insert(&mut tx, app_id, git_ref).await?;
    tx.commit().await?;
    Ok(row)
}

pub(crate) async fn fetch<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<DeploymentRow, StoreError> {
    sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<DeploymentRow, StoreError> {
    fetch(pool, id).await
}

/// A deployment of an app `owner` may see; another owner's is `NotFound`, as if it did
/// not exist.
pub async fn get_visible(
    pool: &PgPool,
    owner: Owner,
    id: Uuid,
) -> Result<DeploymentRow, StoreError> {
    let row = fetch(pool, id).await?;
    owner::check_visible(pool, owner, row.app_id).await?;
    Ok(row)
}

/// Current status, for a worker that lost its lease and wants to say why.
pub async fn status(pool: &PgPool, id: Uuid) -> Result<DeploymentStatus, StoreError> {
    sqlx::query_scalar("SELECT status FROM deployments WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A page of the app's deployments, newest first.
pub async fn list_for_app(
    pool: &PgPool,
    app_id: Uuid,
    page: &PageRequest,
) -> Result<Page<DeploymentRow>, StoreError> {
    let (after_at, after_id) = page.after_key();
    let rows = sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.app_id = $1 AND d.kind <> $5",
        keyset!("d.", "$2", "$3", "$4")
    ))
    .bind(app_id)
    .bind(after_at)
    .bind(after_id)
    .bind(page.fetch_limit())
    .bind(Kind::Test)
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(rows, page, |d: &DeploymentRow| Cursor {
        created_at: d.created_at,
        id: d.id,
    }))
}

/// Cancels every queued or in-flight deployment of an app. Workers notice at their next
/// lease renewal and stop.
pub(crate) async fn cancel_unfinished(
    conn: &mut PgConnection,
    app_id: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    let cancelled: Vec<Uuid> = sqlx::query_scalar(
        "WITH cancelled AS (
             UPDATE deployments SET status = $3, reason = $2, finished_at = now(),
                    lease_expires_at = NULL
             WHERE app_id = $1 AND status = ANY($4)
             RETURNING id
         ), ev AS (
             INSERT INTO deployment_events (deployment_id, status, message)
             SELECT id, $3, $2 FROM cancelled
         )
         SELECT id FROM cancelled",
    )
    .bind(app_id)
    .bind(reason)
    .bind(DeploymentStatus::Cancelled)
    .bind(&DeploymentStatus::UNFINISHED[..])
    .fetch_all(&mut *conn)
    .await?;
    let ending = Ending::new(TestRunStatus::Cancelled, Some(reason.to_owned()));
    test_runs::finish(conn, &cancelled, &ending).await?;
    Ok(())
}

/// Queues a release of an existing image: `source`'s image, port, commit and spec, with
/// the config vars of the moment (`Config`) or `source`'s own (`Rollback`).
pub(crate) async fn insert_release(
    conn: &mut PgConnection,
    kind: Kind,
    source: Uuid,
) -> Result<DeploymentRow, StoreError> {
    let id = Uuid::now_v7();
    let app_id: Uuid = sqlx::query_scalar("SELECT app_id FROM deployments WHERE id = $1")
        .bind(source)
        .fetch_one(&mut *conn)
        .await?;
    // Queued builds are superseded as for any newer deployment: a rollback means "serve
    // that again", not "after the build you queued a moment ago".
    supersede(conn, app_id, id, Older::Queued).await?;
    sqlx::query(
        "INSERT INTO deployments (id, app_id, git_ref, kind, source_deployment_id, commit_sha,
                                  commit_message, image, port, spec, config_snapshot)
         SELECT $1, app_id, git_ref, $2, id, commit_sha, commit_message, image, port, spec,
                CASE WHEN $4 THEN config_snapshot END
         FROM deployments WHERE id = $3",
    )
    .bind(id)
    .bind(kind)
    .bind(source)
    .bind(kind == Kind::Rollback)
    .execute(&mut *conn)
    .await?;
    let message = format!("{} of deployment {source}", kind.as_str());
    events::record(conn, id, DeploymentStatus::Pending, Some(&message)).await?;
    fetch(&mut *conn, id).await
}

/// The release serving the app now: the newest that ever served and is still running
/// (or crashed, which still owns whatever containers survived).
pub async fn current_release<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    app_id: Uuid,
) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.app_id = $1 AND d.status = ANY($2)
         ORDER BY d.released_at DESC NULLS LAST, d.created_at DESC LIMIT 1"
    ))
    .bind(app_id)
    .bind(&DeploymentStatus::SERVING[..])
    .fetch_optional(conn)
    .await?)
}

/// App, released_at, image and status of a would-be rollback target.
type ReleaseFacts = (
    Uuid,
    Option<DateTime<Utc>>,
    Option<String>,
    DeploymentStatus,
);

#[derive(Debug)]
pub enum RollbackError {
    /// The app has never had a release other than the current one.
    NothingToRollBackTo,
    /// The requested deployment is not a release of this app that once served.
    NotARelease(String),
    Store(StoreError),
}

impl From<StoreError> for RollbackError {
    fn from(e: StoreError) -> Self {
        RollbackError::Store(e)
    }
}

impl From<sqlx::Error> for RollbackError {
    fn from(e: sqlx::Error) -> Self {
        RollbackError::Store(e.into())
    }
}

/// Queues a rollback to `target`, or by default to the release that served before the
/// current one.
pub async fn rollback(
    pool: &PgPool,
    app_id: Uuid,
    target: Option<Uuid>,
) -> Result<DeploymentRow, RollbackError> {
    let mut tx = pool.begin().await?;
    lock_app(&mut tx, app_id).await?;
    let current = current_release(&mut *tx, app_id).await?;
    let target = match target {
        Some(id) => {
            let row: Option<ReleaseFacts> = sqlx::query_as(
                "SELECT app_id, released_at, image, status FROM deployments WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some((owner, Some(_), Some(_), _)) if owner == app_id => id,
                Some((owner, _, _, status)) if owner == app_id => {
                    return Err(RollbackError::NotARelease(format!(
                        "deployment {id} never served (it is {status}); only releases that ran can be rolled back to"
                    )));
                }
                _ => {
                    return Err(RollbackError::NotARelease(format!(
                        "deployment {id} is not a deployment of this app"
                    )));
                }
            }
        }
        None => sqlx::query_scalar(
            "SELECT id FROM deployments
             WHERE app_id = $1 AND released_at IS NOT NULL AND image IS NOT NULL
               AND id IS DISTINCT FROM $2
             ORDER BY released_at DESC LIMIT 1",
        )
        .bind(app_id)
        .bind(current.as_ref().map(|c| c.id))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(RollbackError::NothingToRollBackTo)?,
    };
    let row = insert_release(&mut tx, Kind::Rollback, target).await?;
    tx.commit().await?;
    Ok(row)
}

/// Serialises config changes with a deployment's move into `releasing`, which snapshots
/// the config vars: each sees the other's change entirely or not at all.
pub(crate) async fn lock_app(conn: &mut PgConnection, app_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE")
        .bind(app_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug)]
pub enum CancelOutcome {
    Cancelled(Box<DeploymentRow>),
    /// It had already finished, with this status.
    AlreadyFinished(DeploymentStatus),
}

/// Cancels one queued or in-flight deployment. Its worker is told at once (NOTIFY
/// `stop:<id>`), stops, and removes what it had created.
pub async fn cancel(pool: &PgPool, id: Uuid) -> Result<CancelOutcome, StoreError> {
    let mut tx = pool.begin().await?;
    let status: DeploymentStatus =
        sqlx::query_scalar("SELECT status FROM deployments WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    if !status.is_unfinished() {
        return Ok(CancelOutcome::AlreadyFinished(status));
    }
    let reason = "cancelled on request";
    sqlx::query(
        "UPDATE deployments SET status = $3, reason = $2, finished_at = now(),
                lease_expires_at = NULL, failed_phase = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(DeploymentStatus::Cancelled)
    .bind(status.phase())
    .execute(&mut *tx)
    .await?;
    events::record(&mut tx, id, DeploymentStatus::Cancelled, Some(reason)).await?;
    let ending = Ending::new(TestRunStatus::Cancelled, Some(reason.to_owned()));
    test_runs::finish(&mut tx, &[id], &ending).await?;
    let row = fetch(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(CancelOutcome::Cancelled(Box::new(row)))
}

/// Marks a running release crashed. False if it was not running (already replaced).
pub async fn mark_crashed(pool: &PgPool, id: Uuid, reason: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE deployments SET status = $3, reason = $2 WHERE id = $1 AND status = $4",
    )
    .bind(id)
    .bind(reason)
    .bind(DeploymentStatus::Crashed)
    .bind(DeploymentStatus::Running)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        events::record(&mut tx, id, DeploymentStatus::Crashed, Some(reason)).await?;
        tx.commit().await?;
    }
    Ok(done)
}

/// Statuses of the given deployments (missing ones are absent), for the orphan sweep.
pub async fn statuses(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, DeploymentStatus)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, status FROM deployments WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(pool)
            .await?,
    )
}

/// The newest build of `commit_sha` for this app (by a deployment or a test run) that
/// got as far as an image and a spec: a redeploy of the same commit can reuse both
/// without cloning.
pub async fn built_before(
    pool: &PgPool,
    app_id: Uuid,
    commit_sha: &str,
) -> Result<Option<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.app_id = $1 AND d.commit_sha = $2 AND d.kind = ANY($3)
           AND d.image IS NOT NULL AND d.spec IS NOT NULL AND d.port IS NOT NULL
         ORDER BY d.created_at DESC LIMIT 1"
    ))
    .bind(app_id)
    .bind(commit_sha)
    .bind(&[Kind::Build.as_str(), Kind::Test.as_str()][..])
    .fetch_optional(pool)
    .await?)
}

/// The newest deployment of each of these apps, whatever its status: what an overview
/// shows. The caller has already chosen the apps its user may see.
pub async fn latest_of_apps(
    pool: &PgPool,
    app_ids: &[Uuid],
) -> Result<Vec<DeploymentRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT DISTINCT ON (d.app_id) ",
        deployment_columns!(),
        " FROM deployments d JOIN apps a ON a.id = d.app_id
         WHERE d.app_id = ANY($1) AND d.kind <> $2
         ORDER BY d.app_id, d.created_at DESC, d.id DESC"
    ))
    .bind(app_ids)
    .bind(Kind::Test)
    .fetch_all(pool)
    .await?)
}
