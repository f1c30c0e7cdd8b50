//! Who is talking git to us, and to which app. git sends HTTP Basic credentials: any
//! user name, with an API token as the password (or a worker's internal token, which
//! may fetch any app's repository but never push). Errors are plain text, which git
//! prints to its user as `remote:` lines.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use slipway_core::AppName;
use slipway_store::apps::{self, AppRow, Owner};
use slipway_store::users::{Caller, TokenCheck};
use subtle::ConstantTimeEq as _;

use crate::AppState;

/// A refusal git shows its user: the status, and a message in plain text.
#[derive(Debug)]
pub struct GitError {
    status: StatusCode,
    message: String,
}

impl GitError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "repository not found")
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the server log has details",
        )
    }

    pub fn store(err: slipway_store::StoreError) -> Self {
        match err {
            slipway_store::StoreError::NotFound => Self::not_found(),
            other => {
                let api = crate::ApiError::store("app", other);
                Self::new(api.status, api.message)
            }
        }
    }
}

impl IntoResponse for GitError {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.message)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            // Basic, so that git asks its credential helper (or the user) for a password.
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"slipway\""),
            );
        }
        response
    }
}

pub enum Who {
    User(Caller),
    /// A worker fetching a push app's commit (it holds the internal token).
    Worker,
}

/// The caller the request's credentials name; 401 without them or with a bad token.
pub async fn who(state: &AppState, headers: &HeaderMap) -> Result<Who, GitError> {
    let token = password(headers)?.ok_or_else(|| {
        GitError::unauthorized(
            "authentication required: use an API token as the password (any user name)",
        )
    })?;
    if let Some(internal) = &state.config.internal_token
        && bool::from(internal.expose().as_bytes().ct_eq(token.as_bytes()))
    {
        return Ok(Who::Worker);
    }
    let checked = crate::auth::check(state, &token)
        .await
        .map_err(|e| GitError::new(e.status, e.message))?;
    let caller = match checked {
        TokenCheck::Live(caller) => caller,
        TokenCheck::Expired { at } => {
            return Err(GitError::unauthorized(format!(
                "the token expired at {}; create a new one",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
        TokenCheck::Unknown => {
            return Err(GitError::unauthorized(
                "the token is invalid or has been revoked",
            ));
        }
    };
    if let Some(limits) = &state.limits {
        limits
            .check(caller.token_id)
            .map_err(|e| GitError::new(e.status, e.message))?;
    }
    Ok(Who::User(caller))
}

/// The password of `Authorization: Basic`, or the token of `Bearer`.
fn password(headers: &HeaderMap) -> Result<Option<String>, GitError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || GitError::unauthorized("malformed Authorization header");
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    let token = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (_user, password) = decoded.split_once(':').ok_or_else(bad)?;
        password.to_owned()
    } else if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else {
        return Err(bad());
    };
    Ok(Some(token).filter(|t| !t.is_empty()))
}

/// What a `/git/<repo>.git` URL names, as the caller sees it.
pub enum Target {
    App(AppRow),
    /// No app of that name exists: a push creates it (owned by the caller) if the name
    /// is valid; `Err` says why it is not.
    New(Result<AppName, String>),
}

/// The app `repo` (`<name or id>.git`) names, if the caller may see it. Another user's
/// app is "not found", as on the REST API.
pub async fn target(state: &AppState, who: &Who, repo: &str) -> Result<Target, GitError> {
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    let owner = match who {
        Who::User(caller) => caller.owner(),
        Who::Worker => Owner::Any,
    };
    match apps::find(&state.pool, owner, name).await {
        Ok(app) => return Ok(Target::App(app)),
        Err(slipway_store::StoreError::NotFound) => {}
        Err(e) => return Err(GitError::store(e)),
    }
    let Who::User(_) = who else {
        return Err(GitError::not_found());
    };
    let parsed = AppName::parse(name).map_err(|e| {
        format!("there is no app named {name} to push to, and a new app cannot have that name: {e}")
    });
    // Someone else's app: the same answer as for no app at all, so names reveal nothing.
    match apps::find(&state.pool, Owner::Any, name).await {
        Ok(_) => Err(GitError::not_found()),
        Err(slipway_store::StoreError::NotFound) => Ok(Target::New(parsed)),
        Err(e) => Err(GitError::store(e)),
    }
}

impl Target {
    /// The app a clone or fetch reads: one that exists and takes pushes.
    pub fn fetchable(self) -> Result<AppRow, GitError> {
        match self {
            Target::App(app) if app.repo_url.is_some() => Err(super::not_a_push_app(&app)),
            Target::App(app) => Ok(app),
            Target::New(_) => Err(GitError::not_found()),
        }
    }

    /// What a push writes to: a push app, or (`Err`) the name of the app it creates.
    pub fn pushable(self) -> Result<Result<AppRow, AppName>, GitError> {
        match self {
            Target::App(app) if app.repo_url.is_some() => Err(super::not_a_push_app(&app)),
            Target::App(app) => Ok(Ok(app)),
            Target::New(Ok(name)) => Ok(Err(name)),
            Target::New(Err(why)) => Err(GitError::new(StatusCode::UNPROCESSABLE_ENTITY, why)),
        }
    }
}

/// Only users push; the internal token is for workers' fetches.
pub fn pusher(who: Who) -> Result<Caller, GitError> {
    match who {
        Who::User(caller) => Ok(caller),
        Who::Worker => Err(GitError::new(
            StatusCode::FORBIDDEN,
            "the internal token may fetch, not push",
        )),
    }
}
