//! `git push`. The commands are read here first, so that the push is decided by
//! Slipway rather than by git alone:
//!
//! - a ref that is not a branch or tag, or the deletion of the app's branch, is refused;
//! - other branches and tags are handed to `git receive-pack` as they are (stored only);
//! - the app's branch is received under a hidden ref (`refs/slipway/incoming/<id>`)
//!   instead: its objects are then in the repository, where a worker on any host can
//!   fetch the commit from the API, while the branch still points where it did. The
//!   commit is deployed, and only if the deployment succeeds is the branch moved to it
//!   (compare-and-swap) and the push told `ok`; otherwise it is told `ng` with the
//!   phase and reason, and `git push` exits non-zero.
//!
//! The pack is bounded by SLIPWAY_MAX_REPO_SIZE less what the repository already takes.

mod deploy;
mod pack;

use pack::drain;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use slipway_core::AppName;
use slipway_store::apps::AppRow;
use slipway_store::users::Caller;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::access::{self, GitError};
use super::body::Incoming;
use super::commands::{Command, Options, Request, read_request};
use super::out::{Out, Statuses};
use super::storage::{self, INCOMING, Storage};
use crate::AppState;

/// Push: refs are updated and the app's branch deployed (see "Push to deploy" in the
/// README); progress and the per-ref outcome come back in git's side-band report.
#[utoipa::path(post, path = "/git/{repo}/git-receive-pack", tag = "git", security(("git" = [])),
    params(("repo" = String, Path, description = "`<app>.git` (name or id); a new name creates a push app")),
    request_body(content = Vec<u8>, content_type = "application/x-git-receive-pack-request", description = "git's commands, push options and pack"),
    responses(
        (status = 200, description = "git's report, after the deployment (or at once with `-o slipway.detach`)", content_type = "application/x-git-receive-pack-result", body = Vec<u8>),
        (status = 401, description = "No token or a bad one (`WWW-Authenticate: Basic`)", content_type = "text/plain", body = String),
        (status = 403, description = "A worker's token", content_type = "text/plain", body = String),
        (status = 404, description = "Another user's app", content_type = "text/plain", body = String),
        (status = 409, description = "The app deploys from its repo_url", content_type = "text/plain", body = String),
        (status = 422, description = "A name no app may have", content_type = "text/plain", body = String)))]
pub(crate) async fn receive_pack(
    State(state): State<AppState>,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GitError> {
    let who = access::who(&state, &headers).await?;
    let target = access::target(&state, &who, &repo).await?.pushable()?;
    let caller = access::pusher(who)?;
    let incoming = Incoming::new(body, &headers)
        .map_err(|e| GitError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e))?;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let push = Push {
        storage: Storage::new(&state.config.repo_dir),
        state,
        caller,
        out: Out::new(tx),
    };
    // The push goes on if the client leaves: a deployment that succeeds still moves
    // its branch.
    tokio::spawn(push.run(target, incoming));
    let stream =
        tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>);
    Ok((
        [
            (CONTENT_TYPE, "application/x-git-receive-pack-result"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// What becomes of one command.
enum Plan {
    /// The app's branch: received under this hidden ref, then deployed.
    Deploy {
        incoming: String,
    },
    /// Handed to receive-pack as it is.
    Store,
    Refuse(String),
}

struct Push {
    state: AppState,
    storage: Storage,
    caller: Caller,
    out: Out,
}

impl Push {
    async fn run(mut self, target: Result<AppRow, AppName>, mut body: Incoming) {
        let request = match read_request(&mut body).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::info!(error = %e, "unreadable push");
                return self.out.report(Err(e), &Vec::new()).await;
            }
        };
        self.out.sideband = request.capabilities.contains("side-band-64k")
            || request.capabilities.contains("side-band");
        let refuse_all = |out: Out, request: &Request, reason: &str| {
            let statuses = request
                .commands
                .iter()
                .map(|c| (c.name.clone(), Err(reason.to_owned())))
                .collect::<Statuses>();
            async move { out.report(Ok(()), &statuses).await }
        };
        let options = match Options::parse(&request.options) {
            Ok(options) => options,
            Err(e) => {
                drain(&mut body, self.state.config.max_repo_size).await;
                return refuse_all(self.out, &request, &e).await;
            }
        };
        let created = target.is_err();
        let app = match target {
            Ok(app) => app,
            Err(name) => match self.create_app(&name, &request.commands).await {
                Ok(app) => app,
                Err(e) => {
                    drain(&mut body, self.state.config.max_repo_size).await;
                    return refuse_all(self.out, &request, &e).await;
                }
            },
        };
        let branch = app
            .branch
            .clone()
            .unwrap_or_else(|| super::DEFAULT_BRANCH.to_owned());
        let path = match self.storage.ensure(app.id, &branch).await {
            Ok(path) => path,
            Err(e) => {
                tracing::error!(app = %app.name, error = %e, "push: repository storage");
                drain(&mut body, self.state.config.max_repo_size).await;
                return refuse_all(
                    self.out,
                    &request,
                    "internal error; the server log has details",
                )
                .await;
            }
        };
        let tracked = format!("refs/heads/{branch}");
        let plans: Vec<Plan> = request
            .commands
            .iter()
            .map(|c| plan(c, &tracked, &app.name))
            .collect();
        let (unpack, received) = self.receive(&path, &request, &plans, &mut body).await;
        // A ref receive-pack did not report on: the pack was refused (git's own words).
        let missing = if unpack.is_err() {
            "unpacker error"
        } else {
            "not received"
        }
        .to_owned();
        let mut statuses: Statuses = Vec::new();
        for (command, plan) in request.commands.iter().zip(&plans) {
            let status = match plan {
                Plan::Refuse(reason) => Err(reason.clone()),
                Plan::Store => {
                    let status = received
                        .get(&command.name)
                        .cloned()
                        .unwrap_or_else(|| Err(missing.clone()));
                    if status.is_ok() {
                        self.out.say(stored_note(command, &app.name, &branch)).await;
                    }
                    status
                }
                Plan::Deploy { incoming } => {
                    let status = match received
                        .get(incoming)
                        .cloned()
                        .unwrap_or_else(|| Err(missing.clone()))
                    {
                        Ok(()) => self.deploy(&app, &path, command, &tracked, &options).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = storage::git(&path, &["update-ref", "-d", incoming]).await {
                        tracing::warn!(app = %app.name, error = %e, "could not remove {incoming}");
                    }
                    status
                }
            };
            statuses.push((command.name.clone(), status));
        }
        if created && received.is_empty() {
            self.forget_app(&app).await;
        }
        self.out.report(unpack, &statuses).await;
    }
}

fn plan(command: &Command, tracked: &str, app: &str) -> Plan {
    let name = command.name.as_str();
    if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
        return Plan::Refuse(format!(
            "only branches (refs/heads/...) and tags (refs/tags/...) can be pushed, not {name}"
        ));
    }
    if name != tracked {
        return Plan::Store;
    }
    if command.deletes() {
        return Plan::Refuse(format!(
            "{} is the branch {app} deploys; it cannot be deleted",
            tracked.trim_start_matches("refs/heads/")
        ));
    }
    Plan::Deploy {
        incoming: format!("{INCOMING}{}", Uuid::now_v7()),
    }
}

fn stored_note(command: &Command, app: &str, branch: &str) -> String {
    let name = &command.name;
    let (kind, short) = match name.strip_prefix("refs/tags/") {
        Some(tag) => ("tag", tag),
        None => ("branch", name.trim_start_matches("refs/heads/")),
    };
    if command.deletes() {
        format!("Deleted {kind} {short}")
    } else {
        format!("Stored {kind} {short} (not deployed: {app} deploys branch {branch})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::storage::ZERO;

    #[test]
    fn only_branches_and_tags_pass_and_the_deployed_branch_cannot_be_deleted() {
        let at = |name: &str, new: &str| Command {
            old: ZERO.to_owned(),
            new: new.to_owned(),
            name: name.to_owned(),
        };
        let sha = "b".repeat(40);
        assert!(matches!(
            plan(&at("refs/heads/main", &sha), "refs/heads/main", "a"),
            Plan::Deploy { .. }
        ));
        assert!(matches!(
            plan(&at("refs/heads/dev", &sha), "refs/heads/main", "a"),
            Plan::Store
        ));
        assert!(matches!(
            plan(&at("refs/tags/v1", &sha), "refs/heads/main", "a"),
            Plan::Store
        ));
        assert!(matches!(
            plan(&at("refs/notes/x", &sha), "refs/heads/main", "a"),
            Plan::Refuse(_)
        ));
        assert!(matches!(
            plan(&at("refs/heads/main", ZERO), "refs/heads/main", "a"),
            Plan::Refuse(_)
        ));
    }
}
