//! The worker loop: wakes on NOTIFY (or the poll interval), claims deployments up to
//! its concurrency, reclaims expired leases, and tears deleted apps down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use slipway_core::crypto::Cipher;
use slipway_core::{Config, DeploymentStatus};
use slipway_docker::DockerClient;
use slipway_store::queue::{self, Claim};
use slipway_store::{PgPool, QUEUE_CHANNEL, apps};
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::{networks, pipeline, reconcile, teardown, watcher, workdir};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("Docker Engine: {0}")]
    Docker(#[from] slipway_docker::DockerError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// What every pipeline run needs, shared by all of a worker's tasks.
pub struct Context {
    pub pool: PgPool,
    pub docker: DockerClient,
    pub config: Config,
    pub http: reqwest::Client,
    /// Opens config vars; `None` without SLIPWAY_SECRET_KEY (then only apps without
    /// config vars can be released).
    pub cipher: Option<Cipher>,
}

impl Context {
    pub fn new(pool: PgPool, docker: DockerClient, config: Config) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let cipher = config.secret_key.as_ref().map(|k| Cipher::new(k.bytes()));
        Self {
            pool,
            docker,
            config,
            http,
            cipher,
        }
    }
}

pub struct Worker {
    ctx: Arc<Context>,
    id: String,
    /// The deployments this worker is running, so a stop notification reaches them.
    running: Arc<Mutex<HashMap<Uuid, CancellationToken>>>,
}

impl Worker {
    pub fn new(ctx: Context, id: impl Into<String>) -> Self {
        Self {
            ctx: Arc::new(ctx),
            id: id.into(),
            running: Default::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` fires, then gives in-flight deployments
    /// `SLIPWAY_SHUTDOWN_GRACE` to finish; those still running are handed back to the
    /// queue for another worker, and their containers removed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let ctx = &self.ctx;
        ctx.docker.ensure_network(&ctx.config.network).await?;
        let mut listener = PgListener::connect_with(&ctx.pool).await?;
        listener.listen(QUEUE_CHANNEL).await?;
        let slots = Arc::new(Semaphore::new(ctx.config.worker_concurrency));
        let slot_freed = Arc::new(Notify::new());
        let tasks = TaskTracker::new();
        match reconcile::reconcile_all(ctx).await {
            Ok(done) => tracing::info!(
                started = ?done.started,
                removed = ?done.removed,
                "reconciled the runtime with the database"
            ),
            Err(e) => tracing::warn!(error = %e, "start-up reconciliation failed"),
        }
        let swept = workdir::sweep(ctx).await;
        if !swept.is_empty() {
            tracing::info!(removed = swept.len(), "removed leftover work directories");
        }
        tasks.spawn(watcher::watch(ctx.clone(), shutdown.clone()));
        tasks.spawn(networks::watch_joiners(ctx.clone(), shutdown.clone()));
        tasks.spawn(crate::heartbeat::run(
            ctx.clone(),
            self.id.clone(),
            shutdown.clone(),
        ));
        let mut reclaim = tokio::time::interval(ctx.config.lease_duration / 2);
        tracing::info!(worker = %self.id, concurrency = ctx.config.worker_concurrency, "worker started");
        loop {
            self.fill_slots(&slots, &slot_freed, &tasks).await;
            self.start_teardown(&tasks).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                notification = listener.recv() => match notification {
                    Ok(n) => self.on_notification(n.payload(), &tasks),
                    Err(e) => {
                        // PgListener reconnects on the next recv; the poll covers the gap.
                        tracing::warn!(error = %e, "lost the queue listener; reconnecting");
                        tokio::time::sleep(ctx.config.poll_interval).await;
                    }
                },
                _ = slot_freed.notified() => {}
                _ = tokio::time::sleep(ctx.config.poll_interval) => {}
                _ = reclaim.tick() => self.reclaim().await,
            }
        }
        let grace = ctx.config.shutdown_grace;
        tracing::info!(
            running = tasks.len(),
            grace_s = grace.as_secs(),
            "worker stopping; waiting for running deployments"
        );
        tasks.close();
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            self.hand_back_all().await;
            tasks.wait().await;
        }
        Ok(())
    }

    async fn fill_slots(
        &self,
        slots: &Arc<Semaphore>,
        slot_freed: &Arc<Notify>,
        tasks: &TaskTracker,
    ) {
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            match queue::claim(&self.ctx.pool, &self.id, self.ctx.config.lease_duration).await {
                Ok(Claim::Claimed(job)) => {
                    let (ctx, id, freed) = (self.ctx.clone(), self.id.clone(), slot_freed.clone());
                    let deployment_id = job.deployment.id;
                    let lost = CancellationToken::new();
                    self.tracked().insert(deployment_id, lost.clone());
                    let running = self.running.clone();
                    tasks.spawn(async move {
                        pipeline::run(&ctx, &id, *job, lost).await;
                        running
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&deployment_id);
                        drop(permit);
                        freed.notify_one();
                    });
                }
                Ok(Claim::EmptyQueue) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim work");
                    return;
                }
            }
        }
    }

    /// Queues every deployment still running here again, then stops its pipeline (which
    /// removes what it started: the deployment is no longer this worker's).
    async fn hand_back_all(&self) {
        let running: Vec<(Uuid, CancellationToken)> = self
            .tracked()
            .iter()
            .map(|(id, lost)| (*id, lost.clone()))
            .collect();
        for (id, lost) in running {
            match queue::hand_back(&self.ctx.pool, id, &self.id).await {
                Ok(true) => tracing::info!(deployment_id = %id, "handed back to the queue"),
                Ok(false) => {}
                // Its lease runs out instead and another worker reclaims it.
                Err(e) => tracing::warn!(deployment_id = %id, error = %e, "could not hand back"),
            }
            lost.cancel();
        }
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, CancellationToken>> {
        // The map holds no invariant a panic could break; keep using it.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_notification(&self, payload: &str, tasks: &TaskTracker) {
        if let Some(app_id) = payload
            .strip_prefix("reconcile:")
            .and_then(|id| Uuid::parse_str(id).ok())
        {
            let ctx = self.ctx.clone();
            tasks.spawn(async move { reconcile::reconcile_app(&ctx, app_id).await });
        } else {
            self.stop_if_told(payload);
        }
    }

    /// Payload `stop:<id>`: a deployment was superseded or cancelled under its worker.
    fn stop_if_told(&self, payload: &str) {
        let Some(id) = payload
            .strip_prefix("stop:")
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return;
        };
        if let Some(token) = self.tracked().get(&id) {
            tracing::info!(deployment_id = %id, "deployment stopped by a newer one or by its app's deletion");
            token.cancel();
        }
    }

    async fn start_teardown(&self, tasks: &TaskTracker) {
        match apps::claim_teardown(&self.ctx.pool).await {
            Ok(Some(held)) => {
                let ctx = self.ctx.clone();
                tasks.spawn(async move { teardown::run(&ctx, held).await });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not look for deleted apps"),
        }
    }

    /// Public so tests (and an operator's one-off run) can trigger it without waiting.
    pub async fn reclaim(&self) {
        match queue::reclaim_expired(&self.ctx.pool, self.ctx.config.max_attempts).await {
            Ok(reclaimed) => {
                for r in reclaimed {
                    tracing::warn!(deployment_id = %r.id, lost_in = %r.lost_in, now = %r.now, "reclaimed a deployment whose worker was lost");
                    // A retry replaces what the lost worker started (same names); a
                    // deployment that gave up must not leave its containers behind.
                    if r.now == DeploymentStatus::Failed {
                        teardown::remove_deployment_leftovers(&self.ctx, r.id).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not reclaim expired leases"),
        }
    }
}
