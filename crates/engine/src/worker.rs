//! The worker loop: wakes on NOTIFY (or the poll interval), claims deployments up to
//! its concurrency, reclaims expired leases, and tears deleted apps down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use slipway_core::crypto::Cipher;
use slipway_core::{Config, DeploymentStatus};
use slipway_docker::DockerClient;
use slipway_store::lease::Lease;
use slipway_store::queue::{self, Claim};
use slipway_store::{PgPool, QUEUE_CHANNEL, apps};
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::reconcile::{self, ReconcileQueue};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::{Runtime, RuntimeError};
use crate::{pipeline, teardown, watcher, workdir};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The health-check client could not be built (TLS backend missing, say): without
    /// it, its no-redirect policy and timeouts, no release could be checked.
    #[error("could not build the health-check HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// What every pipeline run needs, shared by all of a worker's tasks.
pub struct Context {
    pub pool: PgPool,
    /// Where releases run.
    pub runtime: Arc<dyn Runtime>,
    /// Builds and stores images, in every runtime mode.
    pub docker: DockerClient,
    pub config: Config,
    /// Opens config vars; `None` without SLIPWAY_SECRET_KEY (then only apps without
    /// config vars can be released).
    pub cipher: Option<Cipher>,
    /// Asks this worker's reconcile loop to look at an app.
    pub reconcile: ReconcileQueue,
}

impl Context {
    /// A worker that runs releases on the Docker Engine it builds with.
    pub fn new(pool: PgPool, docker: DockerClient, config: Config) -> Result<Self, WorkerError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let runtime = Arc::new(DockerRuntime::new(docker.clone(), config.clone(), http));
        Ok(Self::with_runtime(pool, runtime, docker, config))
    }

    pub fn with_runtime(
        pool: PgPool,
        runtime: Arc<dyn Runtime>,
        docker: DockerClient,
        config: Config,
    ) -> Self {
        let cipher = config.secret_key.as_ref().map(|k| Cipher::new(k.bytes()));
        Self {
            pool,
            runtime,
            docker,
            config,
            cipher,
            reconcile: ReconcileQueue::default(),
        }
    }
}

pub struct Worker {
    ctx: Arc<Context>,
    id: String,
    /// The deployments this worker is running, so a stop notification reaches them.
    running: Arc<Mutex<HashMap<Uuid, (Lease, CancellationToken)>>>,
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
        ctx.runtime.start_up().await?;
        let mut listener = PgListener::connect_with(&ctx.pool).await?;
        listener.listen(QUEUE_CHANNEL).await?;
        let slots = Arc::new(Semaphore::new(ctx.config.worker_concurrency));
        let slot_freed = Arc::new(Notify::new());
        let tasks = TaskTracker::new();
        tasks.spawn(reconcile::controller::run(ctx.clone(), shutdown.clone()));
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
        let (upkeep, stop) = (ctx.clone(), shutdown.clone());
        tasks.spawn(async move { upkeep.runtime.maintain(stop).await });
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
                    Ok(n) => self.on_notification(n.payload()),
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
                    let (ctx, freed) = (self.ctx.clone(), slot_freed.clone());
                    let deployment_id = job.deployment.id;
                    let lost = CancellationToken::new();
                    self.tracked()
                        .insert(deployment_id, (job.lease.clone(), lost.clone()));
                    let running = self.running.clone();
                    tasks.spawn(async move {
                        pipeline::run(&ctx, *job, lost).await;
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
        let running: Vec<(Uuid, Lease, CancellationToken)> = self
            .tracked()
            .iter()
            .map(|(id, (lease, lost))| (*id, lease.clone(), lost.clone()))
            .collect();
        for (id, lease, lost) in running {
            match lease.hand_back().await {
                Ok(true) => tracing::info!(deployment_id = %id, "handed back to the queue"),
                Ok(false) => {}
                // Its lease runs out instead and another worker reclaims it.
                Err(e) => tracing::warn!(deployment_id = %id, error = %e, "could not hand back"),
            }
            lost.cancel();
        }
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Lease, CancellationToken)>> {
        // The map holds no invariant a panic could break; keep using it.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_notification(&self, payload: &str) {
        if let Some(app_id) = payload
            .strip_prefix("reconcile:")
            .and_then(|id| Uuid::parse_str(id).ok())
        {
            self.ctx.reconcile.enqueue(app_id);
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
        if let Some((_, token)) = self.tracked().get(&id) {
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
