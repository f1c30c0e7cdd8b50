//! One deployment, start to finish. A `build` deployment clones the commit, reads its
//! app spec, builds (or reuses) its image and releases it; `config` and `rollback`
//! deployments release an existing image. A release is health-checked before the
//! previous one is retired.

mod build;
mod build_secrets;
mod origin;
mod release;
mod remote;
mod spec_file;
mod stream;
mod submodules;
mod test;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slipway_core::display::{human_bytes, short_sha};
use slipway_core::spec::AppSpec;
use slipway_core::validate::redact;
use slipway_core::{DeploymentStatus, Kind, Phase, TestRunStatus};
use slipway_source::Fetched;
use slipway_store::queue::Job;
use slipway_store::test_runs::{self, Ending};
use slipway_store::{containers, images};
use tokio_util::sync::CancellationToken;

use crate::lease::LeaseKeeper;
use crate::logsink::LogSink;
use crate::{Context, Failure};

/// How a pipeline run that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The release is serving.
    Released,
    /// A standalone test run's tests passed; nothing was released.
    Tested,
}

struct Run<'a> {
    ctx: &'a Context,
    job: &'a Job,
    log: LogSink,
    lost: CancellationToken,
    work_dir: PathBuf,
    /// Whether this run started replicas, which must go if it does not end up serving.
    started_replicas: bool,
    /// The image this run built, which goes too unless another deployment needs it.
    built_image: Option<String>,
    /// The phase under way and when it began, for the phase duration metrics.
    phase: (&'static str, std::time::Instant),
}

#[tracing::instrument(skip_all, fields(deployment_id = %job.deployment.id, app = %job.app.name))]
/// `lost` is cancelled by the worker when the deployment is superseded or cancelled
/// (NOTIFY), and by the lease keeper when a renewal finds it gone.
pub(crate) async fn run(ctx: &Context, job: Job, lost: CancellationToken) {
    let id = job.deployment.id;
    let lease = LeaseKeeper::spawn(job.lease.clone(), ctx.config.lease_duration, lost.clone());
    let (log, writer) = LogSink::start(ctx.pool.clone(), id, ctx.config.log_limit);
    let mut run = Run {
        ctx,
        job: &job,
        log,
        lost,
        work_dir: ctx.config.work_dir.join(id.to_string()),
        started_replicas: false,
        built_image: None,
        phase: (
            if matches!(job.deployment.kind, Kind::Build | Kind::Test) {
                "clone"
            } else {
                "release"
            },
            std::time::Instant::now(),
        ),
    };
    if let Some(claimed) = job.deployment.started_at {
        let waited = (claimed - job.deployment.created_at)
            .to_std()
            .unwrap_or_default();
        slipway_telemetry::metrics()
            .pickup_seconds
            .observe(waited.as_secs_f64());
    }
    let started = std::time::Instant::now();
    let outcome = run.execute().await;
    lease.stop().await;
    run.conclude(outcome, started.elapsed()).await;
    if let Err(e) = tokio::fs::remove_dir_all(&run.work_dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %run.work_dir.display(), error = %e, "could not remove work directory");
    }
    drop(run);
    writer.finish().await;
}

impl Run<'_> {
    async fn execute(&mut self) -> Result<Outcome, Failure> {
        let id = self.job.deployment.id;
        match self.job.deployment.kind {
            Kind::Build | Kind::Test => {
                if self.build_and_test().await? == Outcome::Tested {
                    return Ok(Outcome::Tested);
                }
                self.snapshot_config().await?;
            }
            Kind::Config => {
                let source = self.job.deployment.source_deployment_id;
                self.slipway_line(format!(
                    "Releasing the image of deployment {} with the app's current config vars",
                    source.map_or_else(|| "?".to_owned(), |s| s.to_string())
                ));
                self.snapshot_config().await?;
            }
            Kind::Rollback => {
                let source = self.job.deployment.source_deployment_id;
                self.slipway_line(format!(
                    "Rolling back to deployment {}: its image and config vars, no rebuild",
                    source.map_or_else(|| "?".to_owned(), |s| s.to_string())
                ));
            }
        }
        let row = slipway_store::deployments::get(&self.ctx.pool, id)
            .await
            .map_err(|e| Failure::infra(Phase::Release, "database error", e))?;
        let snapshot = self
            .job
            .lease
            .config_snapshot()
            .await
            .map_err(|e| Failure::infra(Phase::Release, "database error", e))?;
        let release = crate::replicas::Release::from_row(
            self.ctx.cipher.as_ref(),
            &self.job.app,
            &row,
            &snapshot,
        )
        .map_err(|e| Failure::new(Phase::Release, e.reason()))?;
        self.release(release).await?;
        Ok(Outcome::Released)
    }

    /// Clone, build (or reuse) and test; leaves a release in `releasing`, a standalone
    /// test run `tested`.
    async fn build_and_test(&mut self) -> Result<Outcome, Failure> {
        let standalone = self.job.deployment.kind == Kind::Test;
        let origin = self.origin()?;
        if !origin.is_api {
            remote::check(&origin.url, self.ctx.config.allow_local_repos)
                .await
                .map_err(|reason| Failure::new(Phase::Clone, reason))?;
        }
        if standalone {
            self.test_run_progress(TestRunStatus::Building).await?;
        }
        let (spec, mut plan, from) = match self.reuse_earlier_build().await? {
            Some(spec) => {
                let plan = self.test_plan(&spec).await?;
                (spec, plan, DeploymentStatus::Cloning)
            }
            None => {
                let clone_started = std::time::Instant::now();
                let fetched = self.fetch(clone_started).await?;
                let spec = self.read_spec(&fetched).await?;
                let fetched = if spec.submodules {
                    self.fetch_submodules(fetched, clone_started).await?
                } else {
                    fetched
                };
                self.advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
                    .await?;
                let mut plan = self.test_plan(&spec).await?;
                let test_target = spec.test.as_ref().and_then(|t| t.target.as_deref());
                let test_target = plan.as_ref().and(test_target);
                let test_image = self.build(fetched, &spec, test_target).await?;
                if let Some(plan) = &mut plan {
                    plan.image = test_image;
                }
                (spec, plan, DeploymentStatus::Building)
            }
        };
        let mut from = from;
        if let Some(plan) = plan.take() {
            self.advance(from, DeploymentStatus::Testing).await?;
            from = DeploymentStatus::Testing;
            let row = slipway_store::deployments::get(&self.ctx.pool, self.job.deployment.id)
                .await
                .map_err(|e| Failure::infra(Phase::Test, "database error", e))?;
            let (Some(image), Some(port)) = (row.image.clone(), row.port) else {
                return Err(Failure::new(Phase::Test, "the build recorded no image"));
            };
            let port = u16::try_from(port).unwrap_or(crate::replicas::DEFAULT_PORT);
            let tested = self.test(&plan, &image, port, &spec).await;
            self.remove_test_image(plan.image.as_deref(), &image).await;
            tested?;
        }
        if standalone {
            return Ok(Outcome::Tested);
        }
        self.advance(from, DeploymentStatus::Releasing).await?;
        Ok(Outcome::Released)
    }

    async fn test_run_progress(&self, status: TestRunStatus) -> Result<(), Failure> {
        test_runs::progress(&self.ctx.pool, self.job.deployment.id, status, None, None)
            .await
            .map(drop)
            .map_err(|e| Failure::infra(Phase::Clone, "database error", e))
    }

    /// The image of `[test] target` serves this run only (BuildKit's cache keeps its
    /// layers for the next one).
    async fn remove_test_image(&self, test_image: Option<&str>, release_image: &str) {
        let Some(test_image) = test_image.filter(|t| *t != release_image) else {
            return;
        };
        if let Err(e) = self.ctx.docker.remove_image(test_image).await {
            tracing::warn!(image = %test_image, error = %e, "could not remove the test image");
        }
    }

    /// A redeploy of a commit this app already built: the remote is asked which commit
    /// the ref names (no fetch), and if an earlier deployment built it and its image is
    /// still here, its image, port and spec are taken as they are. Anything uncertain
    /// (the remote does not answer, the image was pruned) means a normal clone and build,
    /// and so do tests that need a stage of their own (`[test] target`), which only a
    /// build from the source can give. Returns the earlier build's spec.
    async fn reuse_earlier_build(&mut self) -> Result<Option<AppSpec>, Failure> {
        let app = &self.job.app;
        let url = self.origin()?.url;
        let git_ref = self.git_ref();
        let lookup = tokio::task::spawn_blocking(move || {
            slipway_source::resolve_commit(&url, git_ref.as_deref())
        });
        let sha = match tokio::time::timeout(RESOLVE_LIMIT, lookup).await {
            Ok(Ok(Some(sha))) => sha,
            _ => return Ok(None),
        };
        let pool = &self.ctx.pool;
        let Ok(Some(earlier)) = slipway_store::deployments::built_before(pool, app.id, &sha).await
        else {
            return Ok(None);
        };
        let (Some(image), Some(port), Some(spec)) = (&earlier.image, earlier.port, &earlier.spec)
        else {
            return Ok(None);
        };
        let Ok(parsed) = serde_json::from_value::<AppSpec>(spec.0.clone()) else {
            return Ok(None);
        };
        let runs_tests = self.job.deployment.kind == Kind::Test || parsed.test.is_some();
        if runs_tests && parsed.test.as_ref().is_some_and(|t| t.target.is_some()) {
            return Ok(None);
        }
        let ours = match self.ctx.docker.image_details(image).await {
            Ok(Some(details)) => {
                crate::app_images::is_ours(&details.labels, &self.ctx.config.network, &app.name)
            }
            _ => false,
        };
        if !ours {
            return Ok(None);
        }
        let lease = &self.job.lease;
        let message = earlier.commit_message.clone().unwrap_or_default();
        let port = u16::try_from(port).unwrap_or(crate::replicas::DEFAULT_PORT);
        let recorded = async {
            lease.set_commit(&sha, &message).await?;
            lease.set_spec(&spec.0).await?;
            lease.set_image(image, port).await
        };
        recorded
            .await
            .map_err(|e| Failure::infra(Phase::Clone, "database error", e))?;
        let summary = message.lines().next().unwrap_or_default();
        self.slipway_line(format!(
            "Commit {}: {summary}; deployment {} built it and image {image} is still here: no clone, no build",
            short_sha(&sha),
            earlier.id
        ));
        Ok(Some(parsed))
    }

    fn origin(&self) -> Result<origin::Origin, Failure> {
        origin::Origin::of(&self.job.app, &self.ctx.config)
            .map_err(|reason| Failure::new(Phase::Clone, reason))
    }

    /// The ref asked for, else the app's branch; `None`: the remote's default branch.
    fn git_ref(&self) -> Option<String> {
        self.job
            .deployment
            .git_ref
            .clone()
            .or_else(|| self.job.app.branch.clone())
    }

    async fn snapshot_config(&self) -> Result<(), Failure> {
        self.job
            .lease
            .snapshot_config()
            .await
            .map_err(|e| Failure::infra(Phase::Release, "database error", e))
    }

    async fn conclude(&mut self, outcome: Result<Outcome, Failure>, took: Duration) {
        let lease = &self.job.lease;
        let metrics = slipway_telemetry::metrics();
        metrics.observe_phase(self.phase.0, self.phase.1.elapsed());
        let final_status = match &outcome {
            Ok(Outcome::Released) => "running".to_owned(),
            Ok(Outcome::Tested) => "tested".to_owned(),
            Err(Failure::Phase { .. }) => "failed".to_owned(),
            Err(Failure::Lost) => lease
                .status()
                .await
                .map_or_else(|_| "lost".to_owned(), |s| s.to_string()),
        };
        metrics
            .deployments_finished
            .with_label_values(&[final_status.as_str()])
            .inc();
        match outcome {
            Ok(Outcome::Tested) => {
                tracing::info!(took_ms = took.as_millis() as u64, "test run passed");
                self.log.flushed().await;
                match lease
                    .finish(DeploymentStatus::Tested, None, "tests passed")
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::info!("test run had already left this worker"),
                    Err(e) => tracing::error!(error = %e, "could not record the test run's end"),
                }
            }
            Ok(Outcome::Released) => {
                tracing::info!(took_ms = took.as_millis() as u64, "deployment running");
                self.slipway_line(format!(
                    "Deployment is running at {} ({:.1}s)",
                    self.ctx.config.url_for(&self.job.app.name),
                    took.as_secs_f64()
                ));
            }
            Err(Failure::Phase { phase, reason }) => {
                tracing::info!(%phase, %reason, "deployment failed");
                self.slipway_line(format!("Deployment failed in phase {phase}: {reason}"));
                self.remove_artifacts().await;
                self.log.flushed().await;
                match lease
                    .finish(DeploymentStatus::Failed, Some(phase), &reason)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!("deployment had already left this worker when it failed")
                    }
                    // The lease runs out and another worker records "worker lost": nothing hangs.
                    Err(e) => tracing::error!(error = %e, "could not record the failure"),
                }
                // A run the tests did not end (the build failed, say) errored.
                let note = format!("{phase} failed: {reason}");
                self.end_test_run(Ending::new(TestRunStatus::Error, Some(note)))
                    .await;
            }
            Err(Failure::Lost) => {
                self.remove_artifacts().await;
                let status = lease.status().await;
                let status =
                    status.map_or_else(|_| "no longer this worker's".to_owned(), |s| s.to_string());
                tracing::info!(%status, "pipeline stopped");
                self.slipway_line(format!("Stopped: the deployment is {status}"));
                // Cancels and supersedes end the run where they happen; a deployment
                // queued again keeps its run queued. Anything else leaves it in error.
                if let Ok(now) = lease.status().await
                    && !now.is_unfinished()
                    && !matches!(
                        now,
                        DeploymentStatus::Cancelled | DeploymentStatus::Superseded
                    )
                {
                    let note = format!("the deployment that carried it is {now}");
                    self.end_test_run(Ending::new(TestRunStatus::Error, Some(note)))
                        .await;
                }
            }
        }
    }

    async fn end_test_run(&self, ending: Ending) {
        let ended = match self.ctx.pool.acquire().await {
            Ok(mut conn) => test_runs::finish(&mut conn, &[self.job.deployment.id], &ending)
                .await
                .map(drop),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, "could not record the test run's end");
        }
    }

    fn slipway_line(&self, line: String) {
        self.log.line("slipway", line);
    }

    async fn advance(
        &mut self,
        from: DeploymentStatus,
        to: DeploymentStatus,
    ) -> Result<(), Failure> {
        if self.lost.is_cancelled() {
            return Err(Failure::Lost);
        }
        let phase = to.phase().unwrap_or(Phase::Release);
        let (previous, since) =
            std::mem::replace(&mut self.phase, (phase.as_str(), std::time::Instant::now()));
        slipway_telemetry::metrics().observe_phase(previous, since.elapsed());
        match self.job.lease.advance(from, to).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::Lost),
            Err(e) => Err(Failure::infra(phase, "database error", e)),
        }
    }

    /// Runs blocking work with the phase's time limit, counted from `started` (work
    /// earlier in the phase spends it too); on timeout or loss of the deployment the
    /// `abort` flag asks the work to stop and the outcome is reported.
    async fn bounded<T: Send + 'static>(
        &self,
        phase: Phase,
        started: std::time::Instant,
        limit: Duration,
        setting: &str,
        abort: &AtomicBool,
        task: tokio::task::JoinHandle<T>,
    ) -> Result<T, Failure> {
        let mut task = task;
        let stopped = tokio::select! {
            done = &mut task => return done.map_err(|e| Failure::infra(phase, "internal error", e)),
            _ = tokio::time::sleep(limit.saturating_sub(started.elapsed())) => Failure::new(phase, format!(
                "{phase} took longer than {} and was stopped (limit set by {setting})",
                humanize(limit)
            )),
            _ = self.lost.cancelled() => Failure::Lost,
        };
        abort.store(true, Ordering::Relaxed);
        let _ = task.await;
        Err(stopped)
    }

    /// Git work of the clone phase: within what is left of SLIPWAY_CLONE_TIMEOUT since
    /// `started`, its error worded without the credentials of the app's URL.
    async fn bounded_clone(
        &self,
        started: std::time::Instant,
        abort: &AtomicBool,
        task: tokio::task::JoinHandle<Result<Fetched, slipway_source::SourceError>>,
    ) -> Result<Fetched, Failure> {
        let limit = self.ctx.config.clone_timeout;
        self.bounded(
            Phase::Clone,
            started,
            limit,
            "SLIPWAY_CLONE_TIMEOUT",
            abort,
            task,
        )
        .await?
        .map_err(|e| {
            let url = self.job.app.repo_url.as_deref().unwrap_or_default();
            Failure::new(Phase::Clone, redact(&e.to_string(), url))
        })
    }

    async fn fetch(&mut self, started: std::time::Instant) -> Result<Fetched, Failure> {
        let origin = self.origin()?;
        let (url, login) = (origin.url, origin.login);
        let git_ref = self.git_ref();
        tokio::fs::create_dir_all(&self.work_dir)
            .await
            .map_err(|e| Failure::infra(Phase::Clone, "could not create the work directory", e))?;
        let abort = Arc::new(AtomicBool::new(false));
        let (dest, flag, sink) = (self.work_dir.clone(), abort.clone(), self.log.clone());
        let max_bytes = self.ctx.config.max_repo_size;
        let task = tokio::task::spawn_blocking(move || {
            // Credentials in the URL never reach the log.
            let mut log = |line: String| sink.line("git", redact(&line, &url));
            slipway_source::fetch(
                &url,
                login.as_ref(),
                git_ref.as_deref(),
                &dest,
                max_bytes,
                &flag,
                &mut log,
            )
        });
        let fetched = self.bounded_clone(started, &abort, task).await?;
        let summary = fetched
            .commit_message
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Err(e) = self
            .job
            .lease
            .set_commit(&fetched.commit_sha, &fetched.commit_message)
            .await
        {
            return Err(Failure::infra(Phase::Clone, "database error", e));
        }
        tracing::info!(commit = %fetched.commit_sha, "fetched");
        self.slipway_line(format!(
            "Commit {}: {summary}",
            short_sha(&fetched.commit_sha)
        ));
        Ok(fetched)
    }

    async fn remove_artifacts(&mut self) {
        let pool = &self.ctx.pool;
        let id = self.job.deployment.id;
        if std::mem::take(&mut self.started_replicas) {
            if let Err(e) = containers::forget_all(pool, id).await {
                tracing::warn!(error = %e, "could not forget containers");
            }
            if let Err(e) = self.ctx.runtime.retire(id, Duration::ZERO).await {
                tracing::warn!(error = %e, "could not remove the replicas this run started");
            }
        }
        if let Some(image) = self.built_image.take() {
            // A config release or rollback queued meanwhile may already point at it.
            match images::needed_elsewhere(pool, &image, id).await {
                Ok(false) => {
                    if let Err(e) = self.ctx.docker.remove_image(&image).await {
                        tracing::warn!(%image, error = %e, "could not remove image");
                    }
                }
                Ok(true) => tracing::info!(%image, "image kept: another deployment uses it"),
                Err(e) => tracing::warn!(%image, error = %e, "image kept: could not check its use"),
            }
        }
    }
}

/// How long the remote gets to say which commit a ref names before a plain fetch is used.
const RESOLVE_LIMIT: Duration = Duration::from_secs(10);

pub(crate) fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs >= 1 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}
