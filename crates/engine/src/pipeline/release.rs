//! The release phase: start every replica, gate on the web replicas' health check, then
//! promote the release, retire the previous one and prune old images.

use std::time::Duration;

use futures_util::future::join_all;
use slipway_core::Phase;
use slipway_core::spec::ProcessSpec;
use slipway_store::{containers, images};

use super::{Run, humanize};
use crate::Failure;
use crate::replicas::Release;
use crate::runtime::{Health, Replica, STOP_GRACE};

/// Lines of a failed container's own output copied into the deployment log.
const CONTAINER_TAIL: usize = 30;

impl Run<'_> {
    pub(super) async fn release(&mut self, release: Release) -> Result<(), Failure> {
        let config = &self.ctx.config;
        let image_present = self
            .ctx
            .docker
            .image_exposed_ports(&release.image)
            .await
            .map_err(|e| Failure::infra(Phase::Release, "Docker Engine error", e))?
            .is_some();
        if !image_present {
            return Err(Failure::new(
                Phase::Release,
                format!(
                    "image {} is no longer on this host (SLIPWAY_KEEP_IMAGES={} keeps the newest releases' images); deploy the commit again instead",
                    release.image, config.keep_images
                ),
            ));
        }
        self.ctx
            .runtime
            .prepare(&release.environment())
            .await
            .map_err(|e| Failure::new(Phase::Release, e.to_string()))?;
        let desired = release.desired(&self.job.app.scale.0);
        let plan: Vec<String> = desired
            .iter()
            .map(|(process, n)| format!("{process}×{n}"))
            .collect();
        self.slipway_line(format!(
            "Starting {} from {}",
            plan.join(", "),
            release.image
        ));
        let mut web = Vec::new();
        let mut others = Vec::new();
        for (process, count) in &desired {
            for replica in 1..=*count {
                if self.lost.is_cancelled() {
                    return Err(Failure::Lost);
                }
                self.started_replicas = true;
                let started = release
                    .start(self.ctx, process, replica)
                    .await
                    .map_err(|e| Failure::new(Phase::Release, e.reason()))?;
                if ProcessSpec::is_web(process) {
                    web.push(started);
                } else {
                    others.push((process.clone(), started));
                }
            }
        }
        let check = &release.spec.healthcheck;
        let limit = check.timeout.unwrap_or(config.release_timeout);
        if !web.is_empty() {
            self.slipway_line(format!(
                "Waiting up to {} for {} web replica(s) to pass GET {} on port {} ({} in a row)",
                humanize(limit),
                web.len(),
                check.path,
                release.port,
                check.retries
            ));
        }
        let checks = web
            .iter()
            .map(|started| self.check_one(started, &release, limit));
        let results = tokio::select! {
            results = join_all(checks) => results,
            _ = self.lost.cancelled() => return Err(Failure::Lost),
        };
        for (started, result) in web.iter().zip(results) {
            self.judge(started, result, &release, limit).await?;
        }
        // Processes without HTTP only have to be up by the time the web ones are.
        for (process, started) in &others {
            let state = self.ctx.runtime.state(&started.id).await;
            match state {
                Ok(Some(state)) if state.running => {}
                Ok(state) => {
                    let exit_code = state.and_then(|s| s.exit_code);
                    self.copy_container_output(&started.id).await;
                    return Err(Failure::new(
                        Phase::Release,
                        format!(
                            "process {process} ({}) stopped with exit code {}; its last output is in the deployment log",
                            started.name,
                            exit_code.map_or_else(|| "unknown".to_owned(), |c| c.to_string())
                        ),
                    ));
                }
                Err(e) => return Err(Failure::new(Phase::Release, e.to_string())),
            }
        }
        // Whoever sees `running` also finds the health check's lines.
        self.log.flushed().await;
        let previous = match self.job.lease.promote().await {
            Ok(Some(previous)) => previous,
            Ok(None) => return Err(Failure::Lost),
            Err(e) => return Err(Failure::infra(Phase::Release, "database error", e)),
        };
        // From here on the new release serves; the old one may go.
        self.started_replicas = false;
        self.built_image = None;
        for old in previous {
            self.retire(old).await;
        }
        self.prune_images().await;
        // A scale change made while this release was starting went to the release it
        // replaced: apply it to this one.
        self.ctx.reconcile.enqueue(self.job.app.id);
        Ok(())
    }

    async fn check_one(&self, started: &Replica, release: &Release, limit: Duration) -> Health {
        self.ctx
            .runtime
            .wait_healthy(started, &release.spec.healthcheck, limit)
            .await
    }

    async fn judge(
        &self,
        started: &Replica,
        health: Health,
        release: &Release,
        limit: Duration,
    ) -> Result<(), Failure> {
        let port = release.port;
        match health {
            Health::Serving { status } => {
                self.slipway_line(format!("{} is healthy (HTTP {status})", started.name));
                Ok(())
            }
            Health::Exited {
                exit_code,
                error,
                oom_killed,
            } => {
                self.copy_container_output(&started.id).await;
                let code =
                    exit_code.map_or_else(|| "an unknown code".to_owned(), |c| c.to_string());
                let why = if oom_killed {
                    " (killed: out of memory; raise [resources] memory in slipway.toml)".to_owned()
                } else {
                    error
                        .filter(|e| !e.is_empty())
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                };
                Err(Failure::new(
                    Phase::Release,
                    format!(
                        "container {} exited with {code}{why} before it passed the health check on port {port}; its last output is in the deployment log",
                        started.name
                    ),
                ))
            }
            Health::TimedOut { last_error } => {
                self.copy_container_output(&started.id).await;
                Err(Failure::new(
                    Phase::Release,
                    format!(
                        "health check failed: container {} did not pass GET {} on port {port} within {} (last attempt: {last_error}); \
                         make sure the app listens on 0.0.0.0:{port}, or set the port and [healthcheck] in slipway.toml",
                        started.name,
                        release.spec.healthcheck.path,
                        humanize(limit)
                    ),
                ))
            }
        }
    }

    async fn retire(&self, deployment_id: uuid::Uuid) {
        // Forgotten first, so the watcher does not take their exits for deaths.
        if let Err(e) = containers::forget_all(&self.ctx.pool, deployment_id).await {
            tracing::warn!(%deployment_id, error = %e, "could not forget previous release's containers");
        }
        match self.ctx.runtime.retire(deployment_id, STOP_GRACE).await {
            Ok(stopped) => {
                for name in stopped {
                    self.slipway_line(format!("Stopped previous release container {name}"));
                }
            }
            Err(e) => {
                tracing::warn!(%deployment_id, error = %e, "could not stop the previous release")
            }
        }
    }

    /// Keeps the images of the newest SLIPWAY_KEEP_IMAGES releases (rollback targets)
    /// and of unfinished deployments; removes the app's others.
    async fn prune_images(&self) {
        let app = &self.job.app;
        let keep = i64::try_from(self.ctx.config.keep_images).unwrap_or(i64::MAX);
        let wanted = match images::to_keep(&self.ctx.pool, app.id, keep).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "could not decide which images to keep");
                return;
            }
        };
        let network = &self.ctx.config.network;
        let tags = match crate::app_images::owned_tags(&self.ctx.docker, network, &app.name).await {
            Ok(tags) => tags,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the app's images");
                return;
            }
        };
        for tag in tags.iter().filter(|t| !wanted.contains(t)) {
            match self.ctx.docker.remove_image(tag).await {
                Ok(()) => self.slipway_line(format!(
                    "Removed old image {tag} (SLIPWAY_KEEP_IMAGES={})",
                    self.ctx.config.keep_images
                )),
                Err(e) => tracing::warn!(%tag, error = %e, "could not remove an old image"),
            }
        }
    }

    async fn copy_container_output(&self, container: &str) {
        match self
            .ctx
            .runtime
            .output_tail(container, CONTAINER_TAIL)
            .await
        {
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
}
