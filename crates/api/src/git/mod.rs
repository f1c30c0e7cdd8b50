//! `git push`, `git clone` and `git fetch` at `/git/<app>.git`, over git's smart HTTP
//! protocol, with the real `git` binary doing the repository work
//! (`upload-pack`/`receive-pack --stateless-rpc`). A push to an app's branch deploys
//! the pushed commit and streams the deployment back (see [`receive`]).

mod access;
mod body;
mod commands;
mod follow;
mod out;
mod pkt;
pub(crate) mod receive;
mod storage;
pub(crate) mod upload;

use axum::http::StatusCode;

pub(crate) use storage::Storage;

/// The branch a push app deploys unless it was created with another.
pub(crate) const DEFAULT_BRANCH: &str = "main";

fn storage_error(e: storage::StorageError) -> access::GitError {
    match e {
        storage::StorageError::NoGit => {
            access::GitError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        other => access::GitError::internal("git repository storage", other),
    }
}

/// A remote-repository app is deployed from its repository, not from pushes.
fn not_a_push_app(app: &slipway_store::apps::AppRow) -> access::GitError {
    let url = app.repo_url.as_deref().unwrap_or_default();
    access::GitError::new(
        StatusCode::CONFLICT,
        format!(
            "{} deploys from {}, not from pushes to Slipway: push there, or create an app without repo_url",
            app.name,
            slipway_core::validate::redact(url, url)
        ),
    )
}
