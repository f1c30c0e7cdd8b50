//! Test runs: a commit's `[test] command` run in a container of its image. Each is
//! carried by one deployment (the release it gates, or a hidden deployment of kind
//! `test` for a standalone run), whose lease, log and cancellation it shares.
//!
//! A run reaches a final status only through [`finish`], whoever ends it (the worker,
//! a cancel, a newer deployment, a lost worker): the one place to hang what must happen
//! when a run ends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::{DeploymentStatus, Kind, TestRunStatus};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::deployments::{self, CancelOutcome};
use crate::owner::{self, Owner};
use crate::page::{Cursor, Page, PageRequest, keyset};
use crate::{StoreError, events};

/// One failed (or errored) test case of a JUnit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFailure {
    pub suite: String,
    pub name: String,
    pub message: String,
}

/// The counts of a JUnit report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TestCounts {
    pub total: i32,
    pub passed: i32,
    pub failed: i32,
    pub skipped: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TestRunRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub deployment_id: Uuid,
    /// `test` for a standalone run; otherwise the deployment it gates.
    pub deployment_kind: Kind,
    pub status: TestRunStatus,
    pub git_ref: Option<String>,
    pub commit_sha: Option<String>,
    pub command: Option<String>,
    pub command_override: Option<Json<Vec<String>>>,
    pub exit_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub tests_total: Option<i32>,
    pub tests_passed: Option<i32>,
    pub tests_failed: Option<i32>,
    pub tests_skipped: Option<i32>,
    pub failures: Option<Json<Vec<TestFailure>>>,
    pub note: Option<String>,
    pub created_by: Option<Uuid>,
}

impl TestRunRow {
    /// The deployment that ran it, when it gates a release (a standalone run's carrier
    /// is an implementation detail).
    pub fn gated_deployment(&self) -> Option<Uuid> {
        (self.deployment_kind != Kind::Test).then_some(self.deployment_id)
    }

    pub fn counts(&self) -> Option<TestCounts> {
        Some(TestCounts {
            total: self.tests_total?,
            passed: self.tests_passed?,
            failed: self.tests_failed?,
            skipped: self.tests_skipped?,
        })
    }
}

macro_rules! test_run_columns {
    () => {
        "t.id, t.app_id, a.name AS app_name, t.deployment_id, d.kind AS deployment_kind, \
         t.status, t.git_ref, t.commit_sha, t.command, t.command_override, t.exit_code, \
         t.created_at, t.started_at, t.finished_at, t.duration_ms, t.tests_total, \
         t.tests_passed, t.tests_failed, t.tests_skipped, t.failures, t.note, t.created_by \
         FROM test_runs t JOIN apps a ON a.id = t.app_id JOIN deployments d ON d.id = t.deployment_id"
    };
}

/// What a standalone run is asked to do.
#[derive(Debug, Clone, Default)]
pub struct NewTestRun<'a> {
    /// A branch, tag or commit sha; `None`: the app's branch.
    pub git_ref: Option<&'a str>,
    /// As the user wrote it, and split into words.
    pub command: Option<(&'a str, Vec<String>)>,
    pub created_by: Option<Uuid>,
}

/// Queues a standalone run: a hidden `test` deployment carries it through the queue. It
/// supersedes nothing and nothing supersedes it.
pub async fn create(
    pool: &PgPool,
    app_id: Uuid,
    new: &NewTestRun<'_>,
) -> Result<TestRunRow, StoreError> {
    let mut tx = pool.begin().await?;
    let deployment_id = Uuid::now_v7();
    sqlx::query("INSERT INTO deployments (id, app_id, git_ref, kind) VALUES ($1, $2, $3, $4)")
        .bind(deployment_id)
        .bind(app_id)
        .bind(new.git_ref)
        .bind(Kind::Test)
        .execute(&mut *tx)
        .await?;
    events::record(
        &mut tx,
        deployment_id,
        DeploymentStatus::Pending,
        Some("test run"),
    )
    .await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO test_runs (id, app_id, deployment_id, git_ref, command, command_override,
                                created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(app_id)
    .bind(deployment_id)
    .bind(new.git_ref)
    .bind(new.command.as_ref().map(|(written, _)| *written))
    .bind(new.command.as_ref().map(|(_, words)| Json(words)))
    .bind(new.created_by)
    .execute(&mut *tx)
    .await?;
    let row = fetch(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The run a deployment carries, if any.
pub async fn of_deployment(
    pool: &PgPool,
    deployment_id: Uuid,
) -> Result<Option<TestRunRow>, StoreError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        test_run_columns!(),
        " WHERE t.deployment_id = $1"
    ))
    .bind(deployment_id)
    .fetch_optional(pool)
    .await?)
}

/// Moves the deployment's run to `building` or `running` (creating it for a deployment
/// that gates its release on tests), with what is known of it so far. A run that has
/// already ended is left alone; `None` then.
pub async fn progress(
    pool: &PgPool,
    deployment_id: Uuid,
    status: TestRunStatus,
    commit_sha: Option<&str>,
    command: Option<&str>,
) -> Result<Option<Uuid>, StoreError> {
    debug_assert!(!status.is_finished());
    Ok(sqlx::query_scalar(
        "INSERT INTO test_runs (id, app_id, deployment_id, git_ref, status, commit_sha, command,
                                started_at)
         SELECT $1, d.app_id, d.id, d.git_ref, $3, $4, $5,
                CASE WHEN $3 = 'running' THEN now() END
         FROM deployments d WHERE d.id = $2
         ON CONFLICT (deployment_id) DO UPDATE SET status = EXCLUDED.status,
             commit_sha = coalesce(EXCLUDED.commit_sha, test_runs.commit_sha),
             command = coalesce(EXCLUDED.command, test_runs.command),
             started_at = coalesce(EXCLUDED.started_at, test_runs.started_at)
         WHERE test_runs.status = ANY($6)
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(deployment_id)
    .bind(status)
    .bind(commit_sha)
    .bind(command)
    .bind(unfinished())
    .fetch_optional(pool)
    .await?)
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    pub status: Option<TestRunStatus>,
    pub exit_code: Option<i32>,
    pub counts: Option<TestCounts>,
    pub failures: Vec<TestFailure>,
    pub note: Option<String>,
}

impl Ending {
    pub fn new(status: TestRunStatus, note: Option<String>) -> Self {
        Self {
            status: Some(status),
            note,
            ..Self::default()
        }
    }
}

/// Ends the unfinished runs of these deployments; returns the runs it ended (none when
/// they had already ended). The only way a run becomes final.
pub async fn finish(
    conn: &mut PgConnection,
    deployment_ids: &[Uuid],
    ending: &Ending,
) -> Result<Vec<TestRunRow>, StoreError> {
    let status = ending.status.unwrap_or(TestRunStatus::Error);
    debug_assert!(status.is_finished());
    let counts = ending.counts;
    let ended: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE test_runs SET status = $2, exit_code = $3, finished_at = now(),
             duration_ms = CASE WHEN started_at IS NULL THEN NULL
                 ELSE (extract(epoch FROM now() - started_at) * 1000)::bigint END,
             tests_total = $4, tests_passed = $5, tests_failed = $6, tests_skipped = $7,
             failures = $8, note = coalesce($9, note)
         WHERE deployment_id = ANY($1) AND status = ANY($10)
         RETURNING id",
    )
    .bind(deployment_ids)
    .bind(status)
    .bind(ending.exit_code)
    .bind(counts.map(|c| c.total))
    .bind(counts.map(|c| c.passed))
    .bind(counts.map(|c| c.failed))
    .bind(counts.map(|c| c.skipped))
    .bind(counts.map(|_| Json(&ending.failures)))
    .bind(ending.note.as_deref())
    .bind(unfinished())
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = Vec::with_capacity(ended.len());
    for id in ended {
        rows.push(fetch(&mut *conn, id).await?);
    }
    Ok(rows)
}

/// The carrying deployment went back to the queue (its worker was lost or shut down):
/// its run waits again, to start over with the next attempt.
pub(crate) async fn requeued(
    conn: &mut PgConnection,
    deployment_id: Uuid,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE test_runs SET status = 'queued', started_at = NULL
         WHERE deployment_id = $1 AND status = ANY($2)",
    )
    .bind(deployment_id)
    .bind(unfinished())
    .execute(conn)
    .await?;
    Ok(())
}

/// Bound as text: the column is text, not a Postgres enum.
fn unfinished() -> Vec<&'static str> {
    TestRunStatus::UNFINISHED
        .map(TestRunStatus::as_str)
        .to_vec()
}

async fn fetch<'e>(conn: impl sqlx::PgExecutor<'e>, id: Uuid) -> Result<TestRunRow, StoreError> {
    sqlx::query_as(concat!("SELECT ", test_run_columns!(), " WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A run of an app `owner` may see; another owner's is `NotFound`.
pub async fn get_visible(pool: &PgPool, owner: Owner, id: Uuid) -> Result<TestRunRow, StoreError> {
    let row = fetch(pool, id).await?;
    owner::check_visible(pool, owner, row.app_id).await?;
    Ok(row)
}

/// A page of the app's runs, newest first.
pub async fn list_for_app(
    pool: &PgPool,
    app_id: Uuid,
    page: &PageRequest,
) -> Result<Page<TestRunRow>, StoreError> {
    let (after_at, after_id) = page.after_key();
    let rows = sqlx::query_as(concat!(
        "SELECT ",
        test_run_columns!(),
        " WHERE t.app_id = $1",
        keyset!("t.", "$2", "$3", "$4")
    ))
    .bind(app_id)
    .bind(after_at)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(rows, page, |t: &TestRunRow| Cursor {
        created_at: t.created_at,
        id: t.id,
    }))
}

/// Stops a run by cancelling the deployment that carries it (a gated release cannot go
/// on without its tests). Its worker is told at once and removes the test container.
pub async fn cancel(pool: &PgPool, run: &TestRunRow) -> Result<CancelOutcome, StoreError> {
    deployments::cancel(pool, run.deployment_id).await
}
