//! A worker's hold on a claimed deployment. Every transition is guarded by the statuses
//! it expects and by the worker, so a deployment that was cancelled, superseded or
//! reclaimed under a worker can never be moved back into a live state by it.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_core::{DeploymentStatus, Kind, Phase};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::queue::lease_interval;
use crate::{StoreError, deployments, events};

/// Handed out with a claimed [`Job`](crate::queue::Job); cheap to clone.
#[derive(Debug, Clone)]
pub struct Lease {
    pool: PgPool,
    deployment_id: Uuid,
    worker_id: String,
}

/// What a transition does besides setting the new status.
#[derive(Debug, Clone, Copy)]
enum Change<'a> {
    /// Into the next phase: nothing else.
    Advance,
    /// Serving: finished and released now; the lease is no longer needed.
    Promote,
    /// Ended by its worker (failed or cancelled) in `phase`, for `reason`.
    End {
        phase: Option<Phase>,
        reason: &'a str,
    },
    /// Queued again: the worker lets go, and the attempt does not count.
    HandBack,
}

/// A transition made but not yet committed.
struct Moved {
    tx: Transaction<'static, Postgres>,
    app_id: Uuid,
    kind: Kind,
}

impl Lease {
    pub(crate) fn new(pool: PgPool, deployment_id: Uuid, worker_id: String) -> Self {
        Self {
            pool,
            deployment_id,
            worker_id,
        }
    }

    pub fn deployment_id(&self) -> Uuid {
        self.deployment_id
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Extends the lease. `None` means the deployment is no longer this worker's
    /// (cancelled, superseded or reclaimed) and the worker must stop working on it.
    pub async fn renew(&self, lease: Duration) -> Result<Option<DeploymentStatus>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE deployments SET lease_expires_at = now() + $3
             WHERE id = $1 AND worker_id = $2 AND status = ANY($4)
             RETURNING status",
        )
        .bind(self.deployment_id)
        .bind(&self.worker_id)
        .bind(lease_interval(lease))
        .bind(&DeploymentStatus::IN_FLIGHT[..])
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Current status, for a worker that lost its lease and wants to say why.
    pub async fn status(&self) -> Result<DeploymentStatus, StoreError> {
        deployments::status(&self.pool, self.deployment_id).await
    }

    /// Moves the deployment to its next phase. False when it is no longer in `from`
    /// under this worker.
    pub async fn advance(
        &self,
        from: DeploymentStatus,
        to: DeploymentStatus,
    ) -> Result<bool, StoreError> {
        debug_assert!(from.can_become(to));
        let moved = self
            .transition(&[from], to, Change::Advance, |_| None)
            .await?;
        commit(moved).await
    }

    /// Marks the release running and, in the same transaction, the app's previous
    /// serving releases superseded (rolled back, for a rollback). Returns those previous
    /// deployments so the worker can stop their containers, which it does only after
    /// this commit: the app is never without a release. `None`: no longer this worker's.
    pub async fn promote(&self) -> Result<Option<Vec<Uuid>>, StoreError> {
        let Some(mut moved) = self
            .transition(
                &[DeploymentStatus::Releasing],
                DeploymentStatus::Running,
                Change::Promote,
                |_| None,
            )
            .await?
        else {
            return Ok(None);
        };
        let (replaced, verb) = if moved.kind == Kind::Rollback {
            (DeploymentStatus::RolledBack, "rolled back to")
        } else {
            (DeploymentStatus::Superseded, "replaced by")
        };
        let previous: Vec<Uuid> = sqlx::query_scalar(
            "WITH prev AS (
                 UPDATE deployments SET status = $3,
                        reason = $4 || ' deployment ' || $2::text
                 WHERE app_id = $1 AND id <> $2 AND status = ANY($5) RETURNING id
             ), ev AS (
                 INSERT INTO deployment_events (deployment_id, status, message)
                 SELECT id, $3, $4 || ' deployment ' || $2::text FROM prev
             )
             SELECT id FROM prev",
        )
        .bind(moved.app_id)
        .bind(self.deployment_id)
        .bind(replaced)
        .bind(verb)
        .bind(&DeploymentStatus::SERVING[..])
        .fetch_all(&mut *moved.tx)
        .await?;
        moved.tx.commit().await?;
        Ok(Some(previous))
    }

    /// Ends the deployment as failed or cancelled, keeping the phase and the reason.
    /// False when it had already left this worker's hands.
    pub async fn finish(
        &self,
        status: DeploymentStatus,
        phase: Option<Phase>,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let moved = self
            .transition(
                &DeploymentStatus::IN_FLIGHT,
                status,
                Change::End { phase, reason },
                |_| Some(reason.to_owned()),
            )
            .await?;
        commit(moved).await
    }

    /// A worker shutting down gives the deployment back: queued again at once for
    /// another worker, without using up an attempt (nothing went wrong with it). False
    /// if it was no longer this worker's.
    pub async fn hand_back(&self) -> Result<bool, StoreError> {
        let worker_id = &self.worker_id;
        let moved = self
            .transition(
                &DeploymentStatus::IN_FLIGHT,
                DeploymentStatus::Pending,
                Change::HandBack,
                |lost_in| {
                    Some(format!(
                        "handed back: {worker_id} shut down while {lost_in}; queued again"
                    ))
                },
            )
            .await?;
        let Some(mut moved) = moved else {
            return Ok(false);
        };
        crate::test_runs::requeued(&mut moved.tx, self.deployment_id).await?;
        commit(Some(moved)).await
    }

    /// The one guarded transition: moves the deployment from one of `from` to `to` if
    /// this worker still holds it, and records the event (`message` is given the status
    /// it left). `None`, with nothing changed, when the guard does not hold.
    async fn transition(
        &self,
        from: &[DeploymentStatus],
        to: DeploymentStatus,
        change: Change<'_>,
        message: impl FnOnce(DeploymentStatus) -> Option<String>,
    ) -> Result<Option<Moved>, StoreError> {
        let (ends, released, outcome, lets_go) = match change {
            Change::Advance => (false, false, None, false),
            Change::Promote => (true, true, None, false),
            Change::End { phase, reason } => (true, false, Some((phase, reason)), false),
            Change::HandBack => (false, false, None, true),
        };
        let mut tx = self.pool.begin().await?;
        let row: Option<(DeploymentStatus, Uuid, Kind)> = sqlx::query_as(
            "WITH before AS (
                 SELECT id, status FROM deployments
                 WHERE id = $1 AND worker_id = $2 AND status = ANY($3)
                 FOR UPDATE
             )
             UPDATE deployments d SET status = $4,
                 failed_phase = CASE WHEN $5 THEN $6 ELSE d.failed_phase END,
                 reason = CASE WHEN $5 THEN $7 ELSE d.reason END,
                 finished_at = CASE WHEN $8 THEN now() ELSE d.finished_at END,
                 released_at = CASE WHEN $9 THEN now() ELSE d.released_at END,
                 lease_expires_at = CASE WHEN $8 OR $10 THEN NULL ELSE d.lease_expires_at END,
                 worker_id = CASE WHEN $10 THEN NULL ELSE d.worker_id END,
                 attempts = CASE WHEN $10 THEN greatest(d.attempts - 1, 0) ELSE d.attempts END
             FROM before WHERE d.id = before.id
             RETURNING before.status, d.app_id, d.kind",
        )
        .bind(self.deployment_id)
        .bind(&self.worker_id)
        .bind(from)
        .bind(to)
        .bind(outcome.is_some())
        .bind(outcome.and_then(|(phase, _)| phase))
        .bind(outcome.map(|(_, reason)| reason))
        .bind(ends)
        .bind(released)
        .bind(lets_go)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((left, app_id, kind)) = row else {
            return Ok(None);
        };
        events::record(&mut tx, self.deployment_id, to, message(left).as_deref()).await?;
        Ok(Some(Moved { tx, app_id, kind }))
    }

    pub async fn set_commit(&self, sha: &str, message: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE deployments SET commit_sha = $2, commit_message = $3 WHERE id = $1")
            .bind(self.deployment_id)
            .bind(sha)
            .bind(message)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_image(&self, image: &str, port: u16) -> Result<(), StoreError> {
        sqlx::query("UPDATE deployments SET image = $2, port = $3 WHERE id = $1")
            .bind(self.deployment_id)
            .bind(image)
            .bind(i32::from(port))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The spec the release runs with, as JSON.
    pub async fn set_spec(&self, spec: &serde_json::Value) -> Result<(), StoreError> {
        sqlx::query("UPDATE deployments SET spec = $2 WHERE id = $1")
            .bind(self.deployment_id)
            .bind(sqlx::types::Json(spec))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Snapshots the app's sealed config vars into the deployment, which must already be
    /// `releasing` (committed). The app lock orders this against config changes: a change
    /// either lands before the snapshot or sees the deployment releasing and queues a
    /// release of its own, so no change is ever lost between the two.
    pub async fn snapshot_config(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "SELECT 1 FROM apps WHERE id = (SELECT app_id FROM deployments WHERE id = $1) FOR SHARE",
        )
        .bind(self.deployment_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deployments d SET config_snapshot = (
                 SELECT coalesce(jsonb_object_agg(c.name, replace(encode(c.sealed, 'base64'), E'\n', '')), '{}'::jsonb)
                 FROM config_vars c WHERE c.app_id = d.app_id)
             WHERE d.id = $1",
        )
        .bind(self.deployment_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The config snapshot as it is now (it is taken after the deployment was claimed).
    pub async fn config_snapshot(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let snapshot: Option<sqlx::types::Json<BTreeMap<String, String>>> =
            sqlx::query_scalar("SELECT config_snapshot FROM deployments WHERE id = $1")
                .bind(self.deployment_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        Ok(snapshot.map(|s| s.0).unwrap_or_default())
    }
}

async fn commit(moved: Option<Moved>) -> Result<bool, StoreError> {
    match moved {
        Some(moved) => {
            moved.tx.commit().await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
