//! The work queue: claiming deployments and reclaiming work whose worker died. What a
//! worker may do with a deployment it claimed goes through its [`Lease`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use slipway_core::{DeploymentStatus, Kind, Phase, TestRunStatus};
use sqlx::PgPool;
use uuid::Uuid;

use crate::apps::{self, AppRow};
use crate::deployments::{self, DeploymentRow, Older};
use crate::lease::Lease;
use crate::test_runs::{self, Ending};
use crate::{StoreError, events};

/// A claimed deployment, the app it belongs to, and the lease its worker holds it by.
#[derive(Debug, Clone)]
pub struct Job {
    pub deployment: DeploymentRow,
    pub app: AppRow,
    pub lease: Lease,
}

#[derive(Debug)]
pub enum Claim {
    Claimed(Box<Job>),
    EmptyQueue,
}

pub(crate) fn lease_interval(lease: Duration) -> sqlx::postgres::types::PgInterval {
    sqlx::postgres::types::PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(lease.as_micros()).unwrap_or(i64::MAX),
    }
}

/// Claims the oldest pending deployment with `FOR UPDATE SKIP LOCKED`, so concurrent
/// workers never take the same one, and supersedes older unfinished deployments of the
/// same app: their workers see it at the next lease renewal and stop.
pub async fn claim(pool: &PgPool, worker_id: &str, lease: Duration) -> Result<Claim, StoreError> {
    let mut tx = pool.begin().await?;
    let next: Option<(Uuid, Uuid, DateTime<Utc>, Kind)> = sqlx::query_as(
        "SELECT q.id, q.app_id, q.created_at, q.kind FROM deployments q JOIN apps a ON a.id = q.app_id
         WHERE q.status = $1 AND a.deleted_at IS NULL
         ORDER BY q.created_at, q.id
         LIMIT 1 FOR UPDATE OF q SKIP LOCKED",
    )
    .bind(DeploymentStatus::Pending)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, app_id, created_at, kind)) = next else {
        return Ok(Claim::EmptyQueue);
    };
    let status = kind.first_status();
    sqlx::query(
        "UPDATE deployments SET worker_id = $2, status = $3, lease_expires_at = now() + $4,
                attempts = attempts + 1, started_at = coalesce(started_at, now())
         WHERE id = $1",
    )
    .bind(id)
    .bind(worker_id)
    .bind(status)
    .bind(lease_interval(lease))
    .execute(&mut *tx)
    .await?;
    let claimed_by = format!("claimed by {worker_id}");
    events::record(&mut tx, id, status, Some(&claimed_by)).await?;
    if kind != Kind::Test {
        deployments::supersede(&mut tx, app_id, id, Older::Unfinished(created_at)).await?;
    }
    let deployment = deployments::fetch(&mut *tx, id).await?;
    let app = apps::find_by_id(&mut *tx, app_id).await?;
    tx.commit().await?;
    let lease = Lease::new(pool.clone(), id, worker_id.to_owned());
    Ok(Claim::Claimed(Box::new(Job {
        deployment,
        app,
        lease,
    })))
}

/// What happened to one deployment whose worker stopped renewing its lease.
#[derive(Debug, Clone)]
pub struct Reclaimed {
    pub id: Uuid,
    pub lost_in: DeploymentStatus,
    pub now: DeploymentStatus,
    pub worker_id: Option<String>,
}

/// Reclaims deployments whose lease expired: requeued while attempts remain, otherwise
/// failed with "worker lost" in the phase it was in. Nothing stays in flight forever.
pub async fn reclaim_expired(
    pool: &PgPool,
    max_attempts: i32,
) -> Result<Vec<Reclaimed>, StoreError> {
    let mut tx = pool.begin().await?;
    let expired: Vec<(Uuid, DeploymentStatus, Option<String>, i32)> = sqlx::query_as(
        "SELECT id, status, worker_id, attempts FROM deployments
         WHERE status = ANY($1) AND lease_expires_at < now()
         FOR UPDATE SKIP LOCKED",
    )
    .bind(&DeploymentStatus::IN_FLIGHT[..])
    .fetch_all(&mut *tx)
    .await?;
    let mut reclaimed = Vec::with_capacity(expired.len());
    for (id, lost_in, worker_id, attempts) in expired {
        let who = worker_id.as_deref().unwrap_or("its worker");
        let retry = attempts < max_attempts;
        let (now, phase, reason) = if retry {
            (DeploymentStatus::Pending, None, None)
        } else {
            let reason = format!(
                "worker lost: {who} stopped renewing its lease while {lost_in} (tried {attempts} times)"
            );
            let phase = lost_in.phase().unwrap_or(Phase::Release);
            (DeploymentStatus::Failed, Some(phase), Some(reason))
        };
        sqlx::query(
            "UPDATE deployments SET status = $2, failed_phase = $3, reason = $4,
                    finished_at = CASE WHEN $5 THEN NULL ELSE now() END,
                    worker_id = NULL, lease_expires_at = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(phase)
        .bind(reason)
        .bind(retry)
        .execute(&mut *tx)
        .await?;
        if retry {
            test_runs::requeued(&mut tx, id).await?;
        } else {
            let note = format!("worker lost: {who} stopped renewing its lease while {lost_in}");
            let ending = Ending::new(TestRunStatus::Error, Some(note));
            test_runs::finish(&mut tx, &[id], &ending).await?;
        }
        let outcome = if retry { "queued again" } else { "giving up" };
        let message =
            format!("worker lost: {who} stopped renewing its lease while {lost_in}; {outcome}");
        events::record(&mut tx, id, now, Some(&message)).await?;
        reclaimed.push(Reclaimed {
            id,
            lost_in,
            now,
            worker_id,
        });
    }
    tx.commit().await?;
    Ok(reclaimed)
}

/// Pending deployments, for a queue-depth view.
pub async fn depth(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM deployments WHERE status = $1")
            .bind(DeploymentStatus::Pending)
            .fetch_one(pool)
            .await?,
    )
}
