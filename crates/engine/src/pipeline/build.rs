//! The build phase: build the commit's image, or reuse it when this commit was built
//! before with the same Dockerfile and build args.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use slipway_core::spec::AppSpec;
use slipway_core::{BuilderChoice, Phase, labels};
use slipway_docker::{BuildError, BuildRequest, BuildSecrets, Builder};
use slipway_source::Fetched;

use super::{Run, human_bytes, humanize, stream};
use crate::replicas::DEFAULT_PORT;
use crate::{Failure, app_images};

/// Placeholder reason of a build stopped because the deployment left this worker; it is
/// turned into `Failure::Lost` and never shown.
const LOST: &str = "the deployment left this worker";

/// The API's default Dockerfile path: a spec's `dockerfile` replaces it, an app created
/// with another path keeps its own.
const API_DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// What goes into an image besides the commit.
struct Recipe {
    dockerfile: String,
    build_args: BTreeMap<String, String>,
    /// Whether the context holds the submodules.
    submodules: bool,
    /// The Dockerfile stage built (`[build] target`).
    target: Option<String>,
    /// Config vars the build gets as secrets (`[build] secrets`). Not part of the
    /// digest: like BuildKit's own cache, an image does not change with their values.
    secrets: Vec<String>,
}

impl Recipe {
    /// A stable digest of the recipe (FNV-1a): part of the tag, so a changed Dockerfile
    /// path or build arg never reuses an image built differently.
    fn digest(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes.iter().chain([0u8].iter()) {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(self.dockerfile.as_bytes());
        for (k, v) in &self.build_args {
            feed(k.as_bytes());
            feed(v.as_bytes());
        }
        // Only when on, so images built before the setting existed keep their tags.
        if self.submodules {
            feed(b"[build] submodules");
        }
        if let Some(target) = &self.target {
            feed(b"[build] target");
            feed(target.as_bytes());
        }
        format!("{:08x}", hash as u32)
    }

    fn tag(&self, app: &str, commit_sha: &str) -> String {
        format!(
            "{}:{}-{}",
            labels::image_repository(app),
            commit_sha.get(..12).unwrap_or(commit_sha),
            self.digest()
        )
    }
}

impl Run<'_> {
    /// Builds (or reuses) the image, then records it, its port and the spec on the
    /// deployment. With `test_target`, also builds that stage for the tests and returns
    /// its image.
    pub(super) async fn build(
        &mut self,
        fetched: Fetched,
        spec: &AppSpec,
        test_target: Option<&str>,
    ) -> Result<Option<String>, Failure> {
        let app = &self.job.app;
        let recipe = Recipe {
            dockerfile: match &spec.dockerfile {
                Some(path) if app.dockerfile == API_DEFAULT_DOCKERFILE => path.clone(),
                _ => app.dockerfile.clone(),
            },
            build_args: spec.build_args.clone(),
            submodules: spec.submodules,
            target: spec.target.clone(),
            secrets: spec.build_secrets.clone(),
        };
        let tag = recipe.tag(&app.name, &fetched.commit_sha);
        let exposed = self.build_unless_built(&fetched, &tag, &recipe).await?;
        // The API's port wins (set by whoever runs the app), then the spec's, then the
        // image's single EXPOSE.
        let port = match (app.port, spec.port, exposed.as_slice()) {
            (Some(port), _, _) => u16::try_from(port).unwrap_or(DEFAULT_PORT),
            (None, Some(port), _) => port,
            (None, None, [only]) => *only,
            (None, None, _) => DEFAULT_PORT,
        };
        let lease = &self.job.lease;
        let spec_json = serde_json::to_value(spec)
            .map_err(|e| Failure::infra(Phase::Config, "could not store the app spec", e))?;
        lease
            .set_spec(&spec_json)
            .await
            .map_err(|e| Failure::infra(Phase::Build, "database error", e))?;
        lease
            .set_image(&tag, port)
            .await
            .map_err(|e| Failure::infra(Phase::Build, "database error", e))?;
        let Some(target) = test_target else {
            return Ok(None);
        };
        let recipe = Recipe {
            target: Some(target.to_owned()),
            ..recipe
        };
        let test_tag = recipe.tag(&app.name, &fetched.commit_sha);
        self.slipway_line(format!(
            "Building stage {target} for the tests ([test] target)"
        ));
        // The test stage's image is removed after the tests, not with a failed run's
        // artifacts: what this run built of the release's image stays as it was.
        let release_image = self.built_image.clone();
        let built = self.build_unless_built(&fetched, &test_tag, &recipe).await;
        self.built_image = release_image;
        built?;
        Ok(Some(test_tag))
    }

    /// Builds the image unless this installation already has it; returns the ports it
    /// EXPOSEs.
    async fn build_unless_built(
        &mut self,
        fetched: &Fetched,
        tag: &str,
        recipe: &Recipe,
    ) -> Result<Vec<u16>, Failure> {
        let app = &self.job.app;
        let existing = self
            .ctx
            .docker
            .image_details(tag)
            .await
            .map_err(|e| Failure::infra(Phase::Build, "Docker Engine error", e))?
            // Another installation on this Docker host may hold the same tag.
            .filter(|image| app_images::is_ours(&image.labels, &self.ctx.config.network, &app.name))
            .map(|image| image.exposed_ports);
        match existing {
            Some(exposed) => {
                self.slipway_line(format!(
                    "Image {tag} was built before from this commit: skipping the build"
                ));
                Ok(exposed)
            }
            None => self.build_image(fetched, tag, recipe).await,
        }
    }

    /// Builds the image; returns the ports it EXPOSEs.
    async fn build_image(
        &mut self,
        fetched: &Fetched,
        tag: &str,
        recipe: &Recipe,
    ) -> Result<Vec<u16>, Failure> {
        let builder = self.builder().await?;
        let secrets = self.build_secrets(&recipe.secrets, builder).await?;
        self.slipway_line(format!("Building image {tag} with {}", builder.name()));
        self.built_image = Some(tag.to_owned());
        let started = std::time::Instant::now();
        let mut built = self
            .build_once(fetched, tag, recipe, builder, &secrets)
            .await;
        if let Err(BuildError::Failed { message }) = &built {
            // Docker's layer cache is shared: an image removed elsewhere (another app's
            // teardown, say) can vanish from under a build that reused its layers.
            // The next attempt simply rebuilds those layers.
            if message.contains("unknown parent image ID") {
                self.slipway_line(
                    "The layer cache changed during the build; building again".into(),
                );
                built = self
                    .build_once(fetched, tag, recipe, builder, &secrets)
                    .await;
            }
        }
        let built = built.map_err(|e| match e {
            _ if self.lost.is_cancelled() => Failure::Lost,
            BuildError::Failed { message } => Failure::new(Phase::Build, message),
            BuildError::Docker(e) => {
                Failure::infra(Phase::Build, "Docker Engine error during the build", e)
            }
        })?;
        slipway_telemetry::metrics()
            .build_seconds
            .observe(started.elapsed().as_secs_f64());
        if builder == Builder::BuildKit {
            self.prune_build_cache().await;
        }
        Ok(built.exposed_ports)
    }

    /// Keeps BuildKit's cache under SLIPWAY_BUILD_CACHE_MAX. A failure only costs disk,
    /// never the deployment.
    async fn prune_build_cache(&self) {
        let max = self.ctx.config.build_cache_max;
        match self.ctx.docker.prune_build_cache(max).await {
            Ok(0) => {}
            Ok(reclaimed) => self.slipway_line(format!(
                "Pruned {} of BuildKit's cache (SLIPWAY_BUILD_CACHE_MAX={})",
                human_bytes(reclaimed),
                human_bytes(max)
            )),
            Err(e) => tracing::warn!(error = %e, "could not prune BuildKit's cache"),
        }
    }

    /// The builder SLIPWAY_BUILDER asks for; for `auto`, BuildKit when the daemon has it.
    async fn builder(&self) -> Result<Builder, Failure> {
        Ok(match self.ctx.config.builder {
            BuilderChoice::BuildKit => Builder::BuildKit,
            BuilderChoice::Legacy => Builder::Legacy,
            BuilderChoice::Auto => {
                let buildkit = self
                    .ctx
                    .docker
                    .supports_buildkit()
                    .await
                    .map_err(|e| Failure::infra(Phase::Build, "Docker Engine error", e))?;
                if buildkit {
                    Builder::BuildKit
                } else {
                    Builder::Legacy
                }
            }
        })
    }

    /// One build attempt. Time limits and loss of the deployment end it early, reported
    /// as `Failed` with the reason (the message of a `Failure::Lost` is never shown).
    async fn build_once(
        &self,
        fetched: &Fetched,
        tag: &str,
        recipe: &Recipe,
        builder: Builder,
        secrets: &BuildSecrets,
    ) -> Result<slipway_docker::BuiltImage, BuildError> {
        let abort = Arc::new(AtomicBool::new(false));
        let (context, context_task) = stream::stream_context(
            fetched.clone(),
            recipe.dockerfile.clone(),
            self.ctx.config.max_context_size,
            abort.clone(),
            self.log.clone(),
        );
        // The labels say which installation and app an image belongs to, so retention
        // and teardown never touch another installation's images on a shared daemon.
        // (BuildKit writes them into the image config; the classic builder adds one
        // LABEL step.)
        let request = BuildRequest {
            tag: tag.to_owned(),
            dockerfile: recipe.dockerfile.clone(),
            labels: app_images::image_labels(&self.ctx.config.network, &self.job.app.name),
            build_args: recipe.build_args.clone().into_iter().collect(),
            target: recipe.target.clone(),
            secrets: secrets.clone(),
            builder,
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
}
