use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use slipway_core::GitRef;
use slipway_store::apps;
use slipway_store::deployments::{CancelOutcome, RollbackError};
use slipway_store::{containers, deployments, events, logs};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::extract::JsonBody;
use crate::openapi::DeploymentList;
use crate::paging::{PageParams, Paged};
use crate::views::DeploymentView;
use crate::{ApiError, AppState};

const DEFAULT_LOG_LIMIT: i64 = 1000;
const MAX_LOG_LIMIT: i64 = 10_000;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeployment {
    /// Branch, tag or commit; default: the app's branch.
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

/// Deploy again; a newer deployment supersedes older unfinished ones.
#[utoipa::path(post, path = "/api/v1/apps/{app}/deployments", tag = "deployments", params(("app" = String, Path, description = "The app's name or id")),
    request_body = CreateDeployment, responses(
    (status = 201, body = DeploymentView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<CreateDeployment>,
) -> Result<impl IntoResponse, ApiError> {
    let row = queue(&state, &caller, &app, body.git_ref.as_deref()).await?;
    let location = format!("/api/v1/deployments/{}", row.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(DeploymentView::summary(row)),
    ))
}

/// Validates and queues a deployment of `git_ref` (default: the app's branch) for
/// `caller`: the REST route and the WebSocket's `deploy` message alike.
pub(crate) async fn queue(
    state: &AppState,
    caller: &slipway_store::users::Caller,
    app: &str,
    git_ref: Option<&str>,
) -> Result<slipway_store::deployments::DeploymentRow, ApiError> {
    let git_ref = git_ref.map(|r| GitRef::parse("ref", r)).transpose()?;
    let app = apps::find(&state.pool, caller.owner(), app)
        .await
        .or_not_found("app")?;
    let git_ref = git_ref.map(|r| r.as_str().to_owned()).or(app.branch);
    let row = deployments::create(&state.pool, app.id, git_ref.as_deref())
        .await
        .or_not_found("app")?;
    tracing::info!(app = %app.name, deployment_id = %row.id, "deployment queued");
    Ok(row)
}

/// The app's deployments, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/apps/{app}/deployments", tag = "deployments",
    params(("app" = String, Path, description = "The app's name or id"), PageParams),
    responses((status = 200, body = DeploymentList), (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid `limit` or `cursor`; `field` names it", body = crate::error::Body)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Paged(page): Paged,
) -> Result<Json<DeploymentList>, ApiError> {
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let page = deployments::list_for_app(&state.pool, app.id, &page)
        .await
        .or_not_found("app")?;
    Ok(Json(DeploymentList {
        next_cursor: page.next_cursor(),
        deployments: page
            .items
            .into_iter()
            .map(DeploymentView::summary)
            .collect(),
    }))
}

/// A malformed id cannot name a deployment, so it is a 404 like an unknown one.
fn deployment_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("deployment"))
}

/// Status, phase timings, containers and events.
#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "deployments", params(("id" = String, Path, description = "Deployment id")),
    responses((status = 200, body = DeploymentView), (status = 404, description = "No such app or deployment", body = crate::error::Body)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<DeploymentView>, ApiError> {
    let id = deployment_id(&id)?;
    Ok(Json(detailed(&state.pool, caller.owner(), id).await?))
}

/// The view `GET /api/v1/deployments/{id}` answers, also sent as a WebSocket `result`.
pub(crate) async fn detailed(
    pool: &slipway_store::PgPool,
    owner: slipway_store::owner::Owner,
    id: Uuid,
) -> Result<DeploymentView, ApiError> {
    let row = deployments::get_visible(pool, owner, id)
        .await
        .or_not_found("deployment")?;
    detail(pool, row).await.or_not_found("deployment")
}

/// The deployment as `GET /api/v1/deployments/{id}` shows it; callbacks send the same.
pub(crate) async fn detail(
    pool: &slipway_store::PgPool,
    row: deployments::DeploymentRow,
) -> Result<DeploymentView, slipway_store::StoreError> {
    let events = events::of_deployment(pool, row.id).await?;
    let containers = containers::list(pool, row.id).await?;
    Ok(DeploymentView::detailed(row, &events, containers))
}

/// Build and release log lines; `follow=true` streams them as Server-Sent Events
/// (`event: line` with the line as JSON, id = seq; `event: end` when finished).
#[utoipa::path(get, path = "/api/v1/deployments/{id}/logs", tag = "deployments", params(
    ("id" = String, Path, description = "Deployment id"),
    ("after" = Option<i64>, Query, description = "Only lines after this seq"),
    ("limit" = Option<i64>, Query, description = "At most this many lines (1–10000, default 1000)"),
    ("format" = Option<String>, Query, description = "`json` (default) or `text`"),
    ("follow" = Option<bool>, Query, description = "Stream as Server-Sent Events")),
    responses(
    (status = 200, description = "A page of lines (JSON), plain text, or an event stream", content(
        (crate::openapi::LogPage = "application/json"),
        (String = "text/plain"),
        (String = "text/event-stream"))),
    (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn logs(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = deployment_id(&id)?;
    // Distinguishes "no lines yet" from "no such deployment".
    deployments::get_visible(&state.pool, caller.owner(), id)
        .await
        .or_not_found("deployment")?;
    log_answer(&state, id, &query).await
}

/// A page of a deployment's log lines (JSON or text), or their stream, as `query` asks:
/// the answer of every log route backed by a deployment's log (test runs' too). The
/// caller has checked that the deployment is the user's.
pub(super) async fn log_answer(
    state: &AppState,
    id: Uuid,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let after = number(query, "after", 0, 0, i64::MAX)?;
    let limit = number(query, "limit", DEFAULT_LOG_LIMIT, 1, MAX_LOG_LIMIT)?;
    let follow = match query.get("follow").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("follow", "follow must be true or false")),
    };
    let text = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("text") => true,
        Some(_) => return Err(ApiError::invalid("format", "format must be json or text")),
    };
    if let Some(unknown) = query
        .keys()
        .find(|k| !matches!(k.as_str(), "after" | "limit" | "format" | "follow"))
    {
        return Err(ApiError::invalid(
            unknown.clone(),
            format!("unknown query parameter {unknown}"),
        ));
    }
    if follow {
        return Ok(
            super::follow::stream(state.pool.clone(), id, after, state.shutdown.clone())
                .into_response(),
        );
    }
    let lines = logs::page(&state.pool, id, after, limit)
        .await
        .or_not_found("deployment")?;
    let next_after = lines.last().map_or(after, |l| l.seq);
    if text {
        let mut body = String::new();
        for l in &lines {
            body.push_str(&l.line);
            body.push('\n');
        }
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert("x-next-after", HeaderValue::from(next_after));
        return Ok(response);
    }
    Ok(Json(json!({ "lines": lines, "next_after": next_after })).into_response())
}

fn number(
    query: &HashMap<String, String>,
    field: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    let Some(raw) = query.get(field) else {
        return Ok(default);
    };
    match raw.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            field,
            format!("{field} must be a whole number from {min} to {max}"),
        )),
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The release to serve again; default: the one before the current.
    #[schema(value_type = Option<uuid::Uuid>)]
    deployment_id: Option<String>,
}

/// Re-releases an earlier release (by default the one before the current), image and
/// config vars together, without a build; health-gated like any release.
#[utoipa::path(post, path = "/api/v1/apps/{app}/rollback", tag = "deployments", params(("app" = String, Path, description = "The app's name or id")),
    request_body = Rollback, responses(
    (status = 201, description = "The rollback deployment", body = DeploymentView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 409, description = "Conflict", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn rollback(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<Rollback>,
) -> Result<impl IntoResponse, ApiError> {
    let target = body
        .deployment_id
        .map(|raw| {
            Uuid::parse_str(&raw)
                .map_err(|_| ApiError::invalid("deployment_id", "deployment_id must be a UUID"))
        })
        .transpose()?;
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let row = deployments::rollback(&state.pool, app.id, target)
        .await
        .map_err(|e| match e {
            RollbackError::NothingToRollBackTo => ApiError::new(
                StatusCode::CONFLICT,
                "nothing_to_roll_back_to",
                "the app has no earlier release that served",
            ),
            RollbackError::NotARelease(message) => ApiError::invalid("deployment_id", message),
            RollbackError::Store(e) => ApiError::store("app", e),
        })?;
    tracing::info!(app = %app.name, deployment_id = %row.id, source = ?row.source_deployment_id, "rollback queued");
    let location = format!("/api/v1/deployments/{}", row.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(DeploymentView::summary(row)),
    ))
}

/// Stops a queued or in-flight deployment; its worker stops at once and removes what it
/// had created. A finished deployment cannot be cancelled (409).
#[utoipa::path(post, path = "/api/v1/deployments/{id}/cancel", tag = "deployments", params(("id" = String, Path, description = "Deployment id")),
    responses((status = 200, body = DeploymentView), (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 409, description = "Conflict", body = crate::error::Body)))]
pub async fn cancel(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<DeploymentView>, ApiError> {
    let id = deployment_id(&id)?;
    deployments::get_visible(&state.pool, caller.owner(), id)
        .await
        .or_not_found("deployment")?;
    match deployments::cancel(&state.pool, id)
        .await
        .or_not_found("deployment")?
    {
        CancelOutcome::Cancelled(row) => {
            tracing::info!(deployment_id = %id, "deployment cancelled");
            Ok(Json(DeploymentView::summary(*row)))
        }
        CancelOutcome::AlreadyFinished(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_finished",
            format!(
                "the deployment is already {status}; only queued or in-flight deployments can be cancelled"
            ),
        )),
    }
}
