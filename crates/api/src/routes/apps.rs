use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use slipway_core::validate::{parse_callback_url, parse_port};
use slipway_core::{AppName, DockerfilePath, GitRef, RepoUrl};
use slipway_store::apps::{self, AppPatch, NewApp, Owner};

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::extract::JsonBody;
use crate::openapi::AppList;
use crate::paging::{PageParams, Paged};
use crate::views::{AppView, DeploymentView};
use crate::{ApiError, AppState};

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// DNS label, 1–63 of `a-z0-9-`: also the subdomain.
    #[schema(
        required = true,
        nullable = false,
        pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
    )]
    name: Option<String>,
    /// `https://`, `http://`, `ssh://` or `git@host:path`. Leave it out for a push app,
    /// whose code is pushed with `git push` to `/git/<name>.git`.
    #[schema(nullable = false, min_length = 1, max_length = 2048)]
    repo_url: Option<String>,
    /// None: the repository's default branch (`main` for a push app).
    branch: Option<String>,
    dockerfile: Option<String>,
    port: Option<i64>,
    spec_path: Option<String>,
    /// Where finished deployments are POSTed, signed with the webhook secret.
    callback_url: Option<String>,
}

impl CreateApp {
    fn validate(self, allow_local: bool) -> Result<NewApp, ApiError> {
        let name = self
            .name
            .ok_or_else(|| ApiError::invalid("name", "name is required"))?;
        let repo_url = self
            .repo_url
            .map(|url| RepoUrl::parse(&url, allow_local))
            .transpose()?
            .map(|url| url.as_str().to_owned());
        let mut branch = self
            .branch
            .map(|b| GitRef::parse("branch", &b))
            .transpose()?
            .map(|b| b.as_str().to_owned());
        if repo_url.is_none() && branch.is_none() {
            // A pushed repository has no default branch to follow until something is
            // pushed: name the conventional one, so that a push to it deploys.
            branch = Some(crate::git::DEFAULT_BRANCH.to_owned());
        }
        Ok(NewApp {
            name: AppName::parse(&name)?.to_string(),
            repo_url,
            branch,
            dockerfile: dockerfile(self.dockerfile)?,
            port: self.port.map(parse_port).transpose()?,
            spec_path: spec_path(self.spec_path)?,
            callback_url: self
                .callback_url
                .map(|u| parse_callback_url(&u, allow_local))
                .transpose()?,
        })
    }
}

fn branch(raw: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(raw
        .map(|b| GitRef::parse("branch", &b))
        .transpose()?
        .map(|b| b.as_str().to_owned()))
}

/// `None`: the default, `Dockerfile`.
fn dockerfile(raw: Option<String>) -> Result<String, ApiError> {
    Ok(raw
        .map(|d| DockerfilePath::parse(&d))
        .transpose()?
        .unwrap_or_default()
        .as_str()
        .to_owned())
}

/// `None`: the default, `slipway.toml`.
fn spec_path(raw: Option<String>) -> Result<String, ApiError> {
    Ok(match raw {
        // The same rules as a Dockerfile path: relative, inside the repository.
        Some(path) => DockerfilePath::parse(&path)
            .map_err(|e| {
                ApiError::invalid("spec_path", e.message.replace("dockerfile", "spec_path"))
            })?
            .as_str()
            .to_owned(),
        None => slipway_core::spec::DEFAULT_SPEC_PATH.to_owned(),
    })
}

/// Each field present changes that setting; `null` puts it back to its default (the
/// repository's default branch, the EXPOSEd port, `Dockerfile`, `slipway.toml`, no
/// callbacks). Fields left out stay as they are.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchApp {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    branch: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    port: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    dockerfile: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    spec_path: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    callback_url: Option<Option<String>>,
}

/// A field that is present, `null` included, is `Some`: absent and `null` differ here.
fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

impl PatchApp {
    fn validate(self, allow_local: bool) -> Result<AppPatch, ApiError> {
        Ok(AppPatch {
            branch: self.branch.map(branch).transpose()?,
            port: self
                .port
                .map(|p| p.map(parse_port).transpose())
                .transpose()?,
            dockerfile: self.dockerfile.map(dockerfile).transpose()?,
            spec_path: self.spec_path.map(spec_path).transpose()?,
            callback_url: self
                .callback_url
                .map(|u| u.map(|u| parse_callback_url(&u, allow_local)).transpose())
                .transpose()?,
        })
    }
}

/// Create an app and queue its first deployment. Without `repo_url`, a push app: nothing
/// is deployed until code is pushed to it with git.
#[utoipa::path(post, path = "/api/v1/apps", tag = "apps", request_body = CreateApp, responses(
    (status = 201, description = "Created; `deployment` is the first deployment (absent for a push app)", body = AppView),
    (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 409, description = "Conflict", body = crate::error::Body),
        (status = 413, description = "Body over 64 KiB", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<CreateApp>,
) -> Result<impl IntoResponse, ApiError> {
    let new = body.validate(state.config.allow_local_repos)?;
    let owner = Owner::User(caller.user_id);
    let (app, deployment) = if new.repo_url.is_some() {
        let (app, deployment) = apps::create(&state.pool, owner, &new)
            .await
            .or_not_found("app")?;
        tracing::info!(app = %app.name, deployment_id = %deployment.id, "app created; first deployment queued");
        (app, Some(deployment))
    } else {
        let app = apps::create_push(&state.pool, owner, &new)
            .await
            .or_not_found("app")?;
        tracing::info!(app = %app.name, "push app created; waiting for a push");
        (app, None)
    };
    // Made now so that the hook can be set up at once; an app that predates webhooks
    // gets its secret the first time it is asked for.
    crate::webhook_secret::get_or_create(&state, app.id).await?;
    let location = format!("/api/v1/apps/{}", app.name);
    let mut view = serde_json::to_value(AppView::new(app, &state.config))
        .map_err(|e| ApiError::internal("serialize", e))?;
    if let Some(deployment) = deployment {
        view["deployment"] = serde_json::to_value(DeploymentView::summary(deployment))
            .map_err(|e| ApiError::internal("serialize", e))?;
    }
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

/// The apps the caller may see (an admin: every app), newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps", params(PageParams),
    responses((status = 200, body = AppList),
        (status = 422, description = "Invalid `limit` or `cursor`; `field` names it", body = crate::error::Body)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Paged(page): Paged,
) -> Result<Json<AppList>, ApiError> {
    let page = apps::list(&state.pool, caller.owner(), &page)
        .await
        .or_not_found("app")?;
    Ok(Json(AppList {
        next_cursor: page.next_cursor(),
        apps: page
            .items
            .into_iter()
            .map(|a| AppView::new(a, &state.config))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/apps/{app}", tag = "apps", params(("app" = String, Path, description = "The app's name or id")), responses(
    (status = 200, body = AppView), (status = 404, description = "No such app or deployment", body = crate::error::Body)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    let row = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    Ok(Json(AppView::new(row, &state.config)))
}

/// Change the app's settings; they apply from its next deployment (nothing is
/// redeployed now).
#[utoipa::path(patch, path = "/api/v1/apps/{app}", tag = "apps", params(("app" = String, Path, description = "The app's name or id")),
    request_body = PatchApp, responses(
    (status = 200, body = AppView),
    (status = 400, description = "Malformed JSON", body = crate::error::Body),
    (status = 404, description = "No such app", body = crate::error::Body),
    (status = 422, description = "Invalid or unknown field; `field` names it", body = crate::error::Body)))]
pub async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<PatchApp>,
) -> Result<Json<AppView>, ApiError> {
    let patch = body.validate(state.config.allow_local_repos)?;
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let row = apps::update(&state.pool, app.id, &patch)
        .await
        .or_not_found("app")?;
    tracing::info!(app = %row.name, "app settings changed");
    Ok(Json(AppView::new(row, &state.config)))
}

/// The worker removes the app's containers and images within moments; the name is free
/// for reuse as soon as this returns.
#[utoipa::path(delete, path = "/api/v1/apps/{app}", tag = "apps", params(("app" = String, Path, description = "The app's name or id")), responses(
    (status = 204, description = "Deleted; teardown queued"), (status = 404, description = "No such app or deployment", body = crate::error::Body)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = apps::mark_deleted(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    tracing::info!(app = %row.name, app_id = %row.id, "app deleted; teardown queued");
    // The pushed repository goes with the app; a failure leaves a directory for the
    // operator, not an app.
    if let Err(e) = crate::git::Storage::new(&state.config.repo_dir)
        .remove(row.id)
        .await
    {
        tracing::warn!(app = %row.name, error = %e, "could not remove the app's pushed repository");
    }
    Ok(StatusCode::NO_CONTENT)
}
