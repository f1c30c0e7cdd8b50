//! The pushed app's side of a push: making the app a push to a new name asks for (and
//! removing it again when nothing was stored), and deploying the app's branch.

use std::path::Path;

use slipway_core::display::short_sha;
use slipway_core::{AppName, DeploymentStatus, DockerfilePath};
use slipway_store::apps::{self, AppRow, NewApp, Owner};

use super::Push;
use crate::git::commands::{Command, Options};
use crate::git::storage::{self, ZERO};

impl Push {
    /// An app this push created, when nothing of the push was stored: a refused push
    /// leaves no app behind.
    pub(super) async fn forget_app(&mut self, app: &AppRow) {
        let owner = Owner::User(self.caller.user_id);
        match apps::mark_deleted(&self.state.pool, owner, &app.id.to_string()).await {
            Ok(_) => {
                if let Err(e) = self.storage.remove(app.id).await {
                    tracing::warn!(app = %app.name, error = %e, "could not remove a refused push's repository");
                }
                self.out
                    .say(format!(
                        "App {} removed again: nothing of this push was stored",
                        app.name
                    ))
                    .await;
            }
            Err(e) => {
                tracing::warn!(app = %app.name, error = %e, "could not remove the app a refused push created")
            }
        }
    }

    /// A push to a name no app has: a push app of the caller's, deploying the branch
    /// pushed (`main` or `master` when several are).
    pub(super) async fn create_app(
        &mut self,
        name: &AppName,
        commands: &[Command],
    ) -> Result<AppRow, String> {
        let branches: Vec<&str> = commands
            .iter()
            .filter(|c| !c.deletes())
            .filter_map(|c| c.name.strip_prefix("refs/heads/"))
            .collect();
        let branch = ["main", "master"]
            .into_iter()
            .find(|b| branches.contains(b))
            .or_else(|| branches.first().copied())
            .unwrap_or(crate::git::DEFAULT_BRANCH);
        let branch = slipway_core::GitRef::parse("branch", branch)
            .map_err(|e| format!("cannot create app {name}: {e}"))?;
        let new = NewApp {
            name: name.to_string(),
            repo_url: None,
            branch: Some(branch.as_str().to_owned()),
            dockerfile: DockerfilePath::default().as_str().to_owned(),
            port: None,
            spec_path: slipway_core::spec::DEFAULT_SPEC_PATH.to_owned(),
            callback_url: None,
        };
        match apps::create_push(&self.state.pool, Owner::User(self.caller.user_id), &new).await {
            Ok(app) => {
                tracing::info!(app = %app.name, user = %self.caller.name, "push app created by git push");
                self.out
                    .say(format!(
                        "Created app {} (deploys branch {}; {})",
                        app.name,
                        branch.as_str(),
                        self.state.config.url_for(&app.name)
                    ))
                    .await;
                Ok(app)
            }
            // Taken meanwhile, by someone else as far as this push can tell.
            Err(slipway_store::StoreError::Conflict { .. }) => {
                Err("repository not found".to_owned())
            }
            Err(e) => {
                tracing::error!(error = %e, "push: could not create the app");
                Err("could not create the app; the server log has details".to_owned())
            }
        }
    }

    /// Checks, deploys and, if the deployment runs, moves the branch. `Err`: the reason
    /// the push is told.
    pub(super) async fn deploy(
        &mut self,
        app: &AppRow,
        path: &Path,
        command: &Command,
        tracked: &str,
        options: &Options,
    ) -> Result<(), String> {
        let internal = |e: storage::StorageError| {
            tracing::error!(app = %app.name, error = %e, "push: git");
            "internal error; the server log has details".to_owned()
        };
        let branch = tracked.trim_start_matches("refs/heads/");
        let current = storage::resolve(path, tracked).await.map_err(internal)?;
        if command.old != current {
            return Err(format!(
                "stale info: {branch} is at {} here, not {}; fetch and push again",
                short_or_none(&current),
                short_or_none(&command.old)
            ));
        }
        if current != ZERO
            && !options.force
            && !storage::is_ancestor(path, &current, &command.new)
                .await
                .map_err(internal)?
        {
            return Err(format!(
                "non-fast-forward: this push rewrites the history of {branch}, which {} deploys; push with -o slipway.force to replace it",
                app.name
            ));
        }
        let deployment = slipway_store::deployments::create(
            &self.state.pool,
            app.id,
            Some(&command.new),
        )
        .await
        .map_err(|e| {
            tracing::error!(app = %app.name, error = %e, "push: could not queue the deployment");
            "could not queue the deployment; the server log has details".to_owned()
        })?;
        tracing::info!(app = %app.name, deployment_id = %deployment.id, commit = %command.new, "push queued a deployment");
        self.out
            .say(format!(
                "Deploying {} ({branch}) to {} as deployment {}",
                short_sha(&command.new),
                app.name,
                deployment.id
            ))
            .await;
        let move_branch = |current: String| {
            let new = command.new.clone();
            let message = format!("slipway: deployment {}", deployment.id);
            async move {
                storage::git(
                    path,
                    &["update-ref", "-m", &message, tracked, &new, &current],
                )
                .await
                .map_err(|e| match e {
                    storage::StorageError::Git { stderr, .. } => {
                        format!("{branch} moved during the deployment ({stderr}); fetch and check")
                    }
                    other => internal(other),
                })
            }
        };
        if options.detach {
            move_branch(current).await?;
            self.out
                .say(format!(
                    "Queued; not waiting (slipway.detach). Follow it with: slipway logs --build {} --follow",
                    deployment.id
                ))
                .await;
            self.out
                .say(format!("or GET /api/v1/deployments/{}", deployment.id))
                .await;
            return Ok(());
        }
        // Without the feed (the database refused LISTEN) the follower polls instead.
        let wake = self
            .state
            .live
            .subscribe(&self.state.pool, &self.state.shutdown)
            .await
            .ok();
        let end =
            crate::git::follow::follow(&self.state.pool, deployment.id, wake, &mut self.out).await;
        match end.status {
            DeploymentStatus::Running => {
                move_branch(current).await?;
                self.out
                    .say(format!(
                        "=====> {} is running at {} (deployed in {:.1}s)",
                        app.name,
                        self.state.config.url_for(&app.name),
                        end.took.as_secs_f64()
                    ))
                    .await;
                Ok(())
            }
            status => {
                let reason = end.reason.unwrap_or_else(|| status.as_str().to_owned());
                let what = match end.phase {
                    Some(phase) => format!("failed in phase {phase}: {reason}"),
                    None => format!("{status}: {reason}"),
                };
                self.out
                    .say(format!("=====> Deployment {} {what}", deployment.id))
                    .await;
                Err(format!("deployment {} {what}", deployment.id))
            }
        }
    }
}

fn short_or_none(sha: &str) -> String {
    if sha == ZERO {
        "nothing".to_owned()
    } else {
        short_sha(sha).to_owned()
    }
}
