//! One deployment, start to finish: clone the commit, build its image, release it behind
//! a health check, and only then retire the previous release.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use slipway_core::{DeploymentStatus, Phase, labels};
use slipway_docker::{BuildError, BuildRequest, ContainerSpec};
use slipway_source::Fetched;
use slipway_store::queue::{self, Job, NewContainer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::health::{Health, wait_until_serving};
use crate::lease::LeaseKeeper;
use crate::logsink::LogSink;
use crate::{Context, Failure};

/// Lines of a failed container's own output copied into the deployment log.
const CONTAINER_TAIL: usize = 30;
const DEFAULT_PORT: u16 = 80;

struct Run<'a> {
    ctx: &'a Context,
    worker_id: &'a str,
    job: &'a Job,
    log: LogSink,
    lost: CancellationToken,
    work_dir: PathBuf,
    /// Artifacts this run created that must go if it does not end up serving.
    container: Option<String>,
    image: Option<String>,
}

#[tracing::instrument(skip_all, fields(deployment_id = %job.deployment.id, app = %job.app.name))]
/// `lost` is cancelled by the worker when the deployment is superseded or cancelled
/// (NOTIFY), and by the lease keeper when a renewal finds it gone.
pub(crate) async fn run(ctx: &Context, worker_id: &str, job: Job, lost: CancellationToken) {
    let id = job.deployment.id;
    let lease = LeaseKeeper::spawn(
        ctx.pool.clone(),
        id,
        worker_id.to_owned(),
        ctx.config.lease_duration,
        lost.clone(),
    );
    let (log, writer) = LogSink::start(ctx.pool.clone(), id);
    let mut run = Run {
        ctx,
        worker_id,
        job: &job,
        log,
        lost,
        work_dir: ctx.config.work_dir.join(id.to_string()),
        container: None,
        image: None,
    };
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
    async fn execute(&mut self) -> Result<(), Failure> {
        let fetched = self.fetch().await?;
        self.advance(DeploymentStatus::Cloning, DeploymentStatus::Building)
            .await?;
        let port = self.build(fetched).await?;
        self.advance(DeploymentStatus::Building, DeploymentStatus::Releasing)
            .await?;
        self.release(port).await
    }

    async fn conclude(&mut self, outcome: Result<(), Failure>, took: Duration) {
        let id = self.job.deployment.id;
        match outcome {
            Ok(()) => {
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
                let pool = &self.ctx.pool;
                match queue::finish(
                    pool,
                    id,
                    self.worker_id,
                    DeploymentStatus::Failed,
                    Some(phase),
                    &reason,
                )
                .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!("deployment had already left this worker when it failed")
                    }
                    // The lease runs out and another worker records "worker lost": nothing hangs.
                    Err(e) => tracing::error!(error = %e, "could not record the failure"),
                }
            }
            Err(Failure::Lost) => {
                self.remove_artifacts().await;
                let status = queue::status(&self.ctx.pool, id).await;
                let status =
                    status.map_or_else(|_| "no longer this worker's".to_owned(), |s| s.to_string());
                tracing::info!(%status, "pipeline stopped");
                self.slipway_line(format!("Stopped: the deployment is {status}"));
            }
        }
    }

    fn slipway_line(&self, line: String) {
        self.log.line("slipway", line);
    }

    async fn advance(&self, from: DeploymentStatus, to: DeploymentStatus) -> Result<(), Failure> {
        if self.lost.is_cancelled() {
            return Err(Failure::Lost);
        }
        let phase = to.phase().unwrap_or(Phase::Release);
        match queue::advance(
            &self.ctx.pool,
            self.job.deployment.id,
            self.worker_id,
            from,
            to,
        )
        .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::Lost),
            Err(e) => Err(Failure::infra(phase, "database error", e)),
        }
    }

    /// Runs blocking work with the phase's time limit; on timeout or loss of the
    /// deployment the `abort` flag asks the work to stop and the outcome is reported.
    async fn bounded<T: Send + 'static>(
        &self,
        phase: Phase,
        limit: Duration,
        setting: &str,
        abort: &AtomicBool,
        task: tokio::task::JoinHandle<T>,
    ) -> Result<T, Failure> {
        let mut task = task;
        let stopped = tokio::select! {
            done = &mut task => return done.map_err(|e| Failure::infra(phase, "internal error", e)),
            _ = tokio::time::sleep(limit) => Failure::new(phase, format!(
                "{phase} took longer than {} and was stopped (limit set by {setting})",
                humanize(limit)
            )),
            _ = self.lost.cancelled() => Failure::Lost,
        };
        abort.store(true, Ordering::Relaxed);
        let _ = task.await;
        Err(stopped)
    }

    async fn fetch(&mut self) -> Result<Fetched, Failure> {
        let app = &self.job.app;
        let url = app.repo_url.clone();
        let git_ref = self
            .job
            .deployment
            .git_ref
            .clone()
            .or_else(|| app.branch.clone());
        tokio::fs::create_dir_all(&self.work_dir)
            .await
            .map_err(|e| Failure::infra(Phase::Clone, "could not create the work directory", e))?;
        let abort = Arc::new(AtomicBool::new(false));
        let (dest, flag, sink) = (self.work_dir.clone(), abort.clone(), self.log.clone());
        let task = tokio::task::spawn_blocking(move || {
            let mut log = |line: String| sink.line("git", line);
            slipway_source::fetch(&url, git_ref.as_deref(), &dest, &flag, &mut log)
        });
        let limit = self.ctx.config.clone_timeout;
        let fetched = self
            .bounded(Phase::Clone, limit, "SLIPWAY_CLONE_TIMEOUT", &abort, task)
            .await?
            .map_err(|e| Failure::new(Phase::Clone, e.to_string()))?;
        let summary = fetched
            .commit_message
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Err(e) = queue::set_commit(
            &self.ctx.pool,
            self.job.deployment.id,
            &fetched.commit_sha,
            &fetched.commit_message,
        )
        .await
        {
            return Err(Failure::infra(Phase::Clone, "database error", e));
        }
        tracing::info!(commit = %fetched.commit_sha, "fetched");
        self.slipway_line(format!("Commit {}: {summary}", short(&fetched.commit_sha)));
        Ok(fetched)
    }

    /// Builds the image and returns the port the app will be reached on.
    async fn build(&mut self, fetched: Fetched) -> Result<u16, Failure> {
        let app = &self.job.app;
        let tag = labels::image_tag(&app.name, &self.job.deployment.id.to_string());
        self.slipway_line(format!("Building image {tag}"));
        self.image = Some(tag.clone());
        let mut built = self.build_once(&fetched, &tag).await;
        if let Err(BuildError::Failed { message }) = &built {
            // Docker's layer cache is shared: an image removed elsewhere (another app's
            // teardown, say) can vanish from under a build that reused its layers.
            // The next attempt simply rebuilds those layers.
            if message.contains("unknown parent image ID") {
                self.slipway_line(
                    "The layer cache changed during the build; building again".into(),
                );
                built = self.build_once(&fetched, &tag).await;
            }
        }
        let built = built.map_err(|e| match e {
            _ if self.lost.is_cancelled() => Failure::Lost,
            BuildError::Failed { message } => Failure::new(Phase::Build, message),
            BuildError::Docker(e) => {
                Failure::infra(Phase::Build, "Docker Engine error during the build", e)
            }
        })?;
        let port = match (app.port, built.exposed_ports.as_slice()) {
            (Some(port), _) => u16::try_from(port).unwrap_or(DEFAULT_PORT),
            (None, [only]) => *only,
            (None, _) => DEFAULT_PORT,
        };
        queue::set_image(&self.ctx.pool, self.job.deployment.id, &tag, port)
            .await
            .map_err(|e| Failure::infra(Phase::Build, "database error", e))?;
        Ok(port)
    }

    /// One build attempt. Time limits and loss of the deployment end it early, reported
    /// as `Failed` with the reason (the message of a `Failure::Lost` is never shown).
    async fn build_once(
        &self,
        fetched: &Fetched,
        tag: &str,
    ) -> Result<slipway_docker::BuiltImage, BuildError> {
        let app = &self.job.app;
        let abort = Arc::new(AtomicBool::new(false));
        let (context, context_task) = stream_context(
            fetched.clone(),
            app.dockerfile.clone(),
            abort.clone(),
            self.log.clone(),
        );
        // No build labels: the classic builder turns each into an extra LABEL step with
        // its own container (about a second each here). Images are found by their
        // repository name, `slipway-<app>`, instead.
        let request = BuildRequest {
            tag: tag.to_owned(),
            dockerfile: app.dockerfile.clone(),
            labels: Default::default(),
            build_args: Default::default(),
        };
        let sink = self.log.clone();
        let mut on_line = move |line: String| sink.line("build", line);
        let limit = self.ctx.config.build_timeout;
        let build = self.ctx.docker.build_image(&request, context, &mut on_line);
        let built = tokio::select! {
            built = build => built,
            _ = tokio::time::sleep(limit) => {
                abort.store(true, Ordering::Relaxed);
                return Err(BuildError::Failed { message: format!(
                    "build took longer than {} and was stopped (limit set by SLIPWAY_BUILD_TIMEOUT)",
                    humanize(limit)
                )});
            }
            _ = self.lost.cancelled() => {
                abort.store(true, Ordering::Relaxed);
                return Err(BuildError::Failed { message: LOST.into() });
            }
        };
        // The context's own error (a missing Dockerfile, say) explains a failed build
        // better than the truncated upload Docker saw.
        match context_task.await {
            Ok(Ok(summary)) => self.slipway_line(format!(
                "Sent build context: {} files, {} ({} ignored by .dockerignore)",
                summary.files,
                human_bytes(summary.bytes),
                summary.ignored
            )),
            Ok(Err(e)) => {
                return Err(BuildError::Failed {
                    message: e.to_string(),
                });
            }
            Err(e) => {
                return Err(BuildError::Failed {
                    message: format!("internal error: {e}"),
                });
            }
        }
        built.map_err(|e| match e {
            BuildError::Failed { message } => BuildError::Failed {
                message: format!("docker build failed: {message}"),
            },
            other => other,
        })
    }

    async fn release(&mut self, port: u16) -> Result<(), Failure> {
        let app = &self.job.app;
        let config = &self.ctx.config;
        let id = self.job.deployment.id;
        let name = labels::container_name(&app.name, &id.to_string());
        let mut container_labels =
            labels::ownership_labels(&app.name, &app.id.to_string(), &id.to_string(), "web");
        container_labels.extend(labels::traefik_labels(&labels::Route {
            app: &app.name,
            subdomain: &app.name,
            base_domain: &config.base_domain,
            network: &config.network,
            port,
        }));
        let spec = ContainerSpec {
            name: name.clone(),
            image: self.image.clone().unwrap_or_default(),
            network: config.network.clone(),
            port,
            publish_port: config.publish_ports,
            env: vec![format!("PORT={port}")],
            labels: container_labels,
            command: None,
        };
        self.slipway_line(format!(
            "Starting container {name} on network {}",
            config.network
        ));
        self.container = Some(name.clone());
        let started = self
            .ctx
            .docker
            .run_container(&spec)
            .await
            .map_err(|e| Failure::infra(Phase::Release, "could not start the container", e))?;
        let record = NewContainer {
            name: &started.name,
            container_id: &started.id,
            process: "web",
            ip: started.ip.as_deref(),
            port,
            host_port: started.host_port,
        };
        queue::record_container(&self.ctx.pool, id, &record)
            .await
            .map_err(|e| Failure::infra(Phase::Release, "database error", e))?;
        let url = match (started.host_port, started.ip.as_deref()) {
            (Some(host_port), _) => Some(format!("http://127.0.0.1:{host_port}/")),
            (None, Some(ip)) => Some(format!("http://{ip}:{port}/")),
            // A container that died at once has no address: report why it died.
            (None, None) => None,
        };
        let limit = config.release_timeout;
        self.slipway_line(format!(
            "Waiting up to {} for HTTP on port {port}",
            humanize(limit)
        ));
        let health = match &url {
            Some(url) => tokio::select! {
                h = wait_until_serving(&self.ctx.docker, &self.ctx.http, &started.id, url, limit) => h,
                _ = self.lost.cancelled() => return Err(Failure::Lost),
            },
            None => match self.ctx.docker.container_state(&started.id).await {
                Ok(state) if !state.running => Health::Exited {
                    exit_code: state.exit_code,
                    error: state.error,
                },
                _ => {
                    return Err(Failure::new(
                        Phase::Release,
                        format!("the container got no address on network {}", config.network),
                    ));
                }
            },
        };
        match health {
            Health::Serving { status } => {
                self.slipway_line(format!("Container answered HTTP {status}"))
            }
            Health::Exited { exit_code, error } => {
                self.copy_container_output(&started.id).await;
                let code =
                    exit_code.map_or_else(|| "an unknown code".to_owned(), |c| c.to_string());
                let docker_error = error
                    .filter(|e| !e.is_empty())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(Failure::new(
                    Phase::Release,
                    format!(
                        "the container exited with {code}{docker_error} before it answered HTTP on port {port}; its last output is in the deployment log"
                    ),
                ));
            }
            Health::TimedOut { last_error } => {
                self.copy_container_output(&started.id).await;
                return Err(Failure::new(
                    Phase::Release,
                    format!(
                        "the container did not answer HTTP on port {port} within {} (last attempt: {last_error}); \
                         make sure the app listens on 0.0.0.0:{port}, or set the app's port",
                        humanize(limit)
                    ),
                ));
            }
        }
        let previous = match queue::promote(&self.ctx.pool, id, self.worker_id).await {
            Ok(Some(previous)) => previous,
            Ok(None) => return Err(Failure::Lost),
            Err(e) => return Err(Failure::infra(Phase::Release, "database error", e)),
        };
        // From here on the new release serves; the old one may go.
        self.container = None;
        self.image = None;
        for old in previous {
            self.retire(old).await;
        }
        Ok(())
    }

    async fn retire(&self, deployment_id: uuid::Uuid) {
        let pool = &self.ctx.pool;
        let containers = match slipway_store::deployments::containers(pool, deployment_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%deployment_id, error = %e, "could not list the previous release's containers");
                return;
            }
        };
        for c in containers {
            match self
                .ctx
                .docker
                .stop_and_remove(&c.container_id, STOP_GRACE)
                .await
            {
                Ok(()) => {
                    self.slipway_line(format!("Stopped previous release container {}", c.name))
                }
                Err(e) => {
                    tracing::warn!(container = %c.name, error = %e, "could not stop previous release")
                }
            }
        }
        if let Err(e) = queue::forget_containers(pool, deployment_id).await {
            tracing::warn!(%deployment_id, error = %e, "could not forget previous release's containers");
        }
    }

    async fn copy_container_output(&self, container: &str) {
        match self.ctx.docker.logs_tail(container, CONTAINER_TAIL).await {
            Ok(lines) if lines.is_empty() => {
                self.slipway_line("The container printed nothing".into())
            }
            Ok(lines) => {
                self.slipway_line(format!(
                    "Last {} lines of the container's output:",
                    lines.len()
                ));
                for line in lines {
                    self.log.line("app", line);
                }
            }
            Err(e) => self.slipway_line(format!("Could not read the container's output: {e}")),
        }
    }

    async fn remove_artifacts(&mut self) {
        if let Some(name) = self.container.take() {
            if let Err(e) = self.ctx.docker.stop_and_remove(&name, Duration::ZERO).await {
                tracing::warn!(container = %name, error = %e, "could not remove container");
            }
            if let Err(e) = queue::forget_containers(&self.ctx.pool, self.job.deployment.id).await {
                tracing::warn!(error = %e, "could not forget containers");
            }
        }
        if let Some(image) = self.image.take()
            && let Err(e) = self.ctx.docker.remove_image(&image).await
        {
            tracing::warn!(%image, error = %e, "could not remove image");
        }
    }
}

/// Placeholder reason of a build stopped because the deployment left this worker; it is
/// turned into `Failure::Lost` and never shown.
const LOST: &str = "the deployment left this worker";

/// How long a retired release gets to finish its in-flight requests.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Writes the build context on a blocking thread into a channel that the Docker request
/// body reads from, so the upload starts before the tar is complete.
fn stream_context(
    fetched: Fetched,
    dockerfile: String,
    abort: Arc<AtomicBool>,
    log: LogSink,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    tokio::task::JoinHandle<Result<slipway_source::ContextSummary, slipway_source::SourceError>>,
) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let task = tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let mut on_line = |line: String| log.line("slipway", line);
        let result =
            slipway_source::write_context(&fetched, &dockerfile, &mut writer, &abort, &mut on_line)
                .and_then(|summary| writer.flush_chunk().map(|()| summary).map_err(Into::into));
        if let Err(e) = &result {
            // An error item aborts the upload, so Docker never builds a truncated context.
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        result
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (stream, task)
}

const CHUNK: usize = 64 * 1024;

struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the build stopped reading the context",
            )
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs >= 1 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
