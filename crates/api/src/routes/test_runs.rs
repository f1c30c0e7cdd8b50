//! Test runs: a commit's `[test] command` run without releasing anything, and the runs
//! that gate releases. A run's log is the log of the deployment that carries it.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use slipway_core::GitRef;
use slipway_store::apps;
use slipway_store::deployments::CancelOutcome;
use slipway_store::test_runs::{self, NewTestRun, TestRunRow};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::extract::JsonBody;
use crate::paging::{PageParams, Paged};
use crate::views::test_runs::TestRunView;
use crate::{ApiError, AppState};

/// The longest `command` accepted.
const MAX_COMMAND: usize = 4096;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTestRun {
    /// Branch or tag to test; default: the app's branch.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// A commit sha (7 to 40 hex digits) to test instead of a ref.
    pub commit: Option<String>,
    /// Run this instead of the spec's `[test] command`; split the way a shell would.
    pub command: Option<String>,
}

/// `GET /api/v1/apps/{app}/test-runs`, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TestRunList {
    pub test_runs: Vec<TestRunView>,
    /// Send as `cursor` for the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Tests a commit in isolation, releasing nothing: builds it (or reuses the image an
/// earlier deployment or run built) and runs the test command in a container of it.
#[utoipa::path(post, path = "/api/v1/apps/{app}/test-runs", tag = "test runs", params(("app" = String, Path, description = "The app's name or id")),
    request_body = CreateTestRun, responses(
    (status = 201, body = TestRunView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 404, description = "No such app", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<CreateTestRun>,
) -> Result<impl IntoResponse, ApiError> {
    let row = queue(&state, &caller, &app, body).await?;
    let location = format!("/api/v1/test-runs/{}", row.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(TestRunView::from(row)),
    ))
}

/// Validates and queues a run for `caller`: the REST route and the WebSocket's `test`
/// message alike.
pub(crate) async fn queue(
    state: &AppState,
    caller: &slipway_store::users::Caller,
    app: &str,
    body: CreateTestRun,
) -> Result<TestRunRow, ApiError> {
    let git_ref = match (body.git_ref, body.commit) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "commit",
                "give either ref or commit, not both",
            ));
        }
        (Some(r), None) => Some(GitRef::parse("ref", &r)?.as_str().to_owned()),
        (None, Some(c)) => Some(commit(&c)?),
        (None, None) => None,
    };
    let command = body.command.map(|c| command(&c)).transpose()?;
    let app = apps::find(&state.pool, caller.owner(), app)
        .await
        .or_not_found("app")?;
    let git_ref = git_ref.or(app.branch);
    let new = NewTestRun {
        git_ref: git_ref.as_deref(),
        command: command
            .as_ref()
            .map(|(w, words)| (w.as_str(), words.clone())),
        created_by: Some(caller.user_id),
    };
    let row = test_runs::create(&state.pool, app.id, &new)
        .await
        .or_not_found("app")?;
    tracing::info!(app = %app.name, test_run_id = %row.id, "test run queued");
    Ok(row)
}

fn commit(raw: &str) -> Result<String, ApiError> {
    if (7..=40).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid(
            "commit",
            "commit must be a commit sha: 7 to 40 hexadecimal digits",
        ))
    }
}

/// The command as written and its words.
fn command(raw: &str) -> Result<(String, Vec<String>), ApiError> {
    let invalid = |m: &str| ApiError::invalid("command", m);
    if raw.len() > MAX_COMMAND {
        return Err(invalid("command must be at most 4096 bytes long"));
    }
    if raw.contains('\0') {
        return Err(invalid("command must not contain NUL characters"));
    }
    let words =
        shell_words::split(raw).map_err(|_| invalid("command has an unterminated quote"))?;
    if words.is_empty() {
        return Err(invalid("command must name a program to run"));
    }
    Ok((raw.to_owned(), words))
}

/// The app's test runs (standalone and those gating deployments), newest first.
#[utoipa::path(get, path = "/api/v1/apps/{app}/test-runs", tag = "test runs",
    params(("app" = String, Path, description = "The app's name or id"), PageParams),
    responses((status = 200, body = TestRunList), (status = 404, description = "No such app", body = crate::error::Body),
        (status = 422, description = "Invalid `limit` or `cursor`; `field` names it", body = crate::error::Body)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Paged(page): Paged,
) -> Result<Json<TestRunList>, ApiError> {
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let page = test_runs::list_for_app(&state.pool, app.id, &page)
        .await
        .or_not_found("app")?;
    Ok(Json(TestRunList {
        next_cursor: page.next_cursor(),
        test_runs: page.items.into_iter().map(TestRunView::from).collect(),
    }))
}

/// A malformed id cannot name a run, so it is a 404 like an unknown one.
async fn visible(state: &AppState, caller: &Auth, raw: &str) -> Result<TestRunRow, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| ApiError::not_found("test run"))?;
    test_runs::get_visible(&state.pool, caller.0.owner(), id)
        .await
        .or_not_found("test run")
}

/// Status, exit code, and the JUnit report's counts and failures.
#[utoipa::path(get, path = "/api/v1/test-runs/{id}", tag = "test runs", params(("id" = String, Path, description = "Test run id")),
    responses((status = 200, body = TestRunView), (status = 404, description = "No such test run", body = crate::error::Body)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Auth,
    Path(id): Path<String>,
) -> Result<Json<TestRunView>, ApiError> {
    Ok(Json(visible(&state, &caller, &id).await?.into()))
}

/// The run's log: the build and the test command's output, paged like a deployment's
/// (`after`, `limit`, `format`), or streamed with `follow=true`. A run that gates a
/// deployment shows that deployment's whole log.
#[utoipa::path(get, path = "/api/v1/test-runs/{id}/logs", tag = "test runs", params(
    ("id" = String, Path, description = "Test run id"),
    ("after" = Option<i64>, Query, description = "Only lines after this seq"),
    ("limit" = Option<i64>, Query, description = "At most this many lines (1–10000, default 1000)"),
    ("format" = Option<String>, Query, description = "`json` (default) or `text`"),
    ("follow" = Option<bool>, Query, description = "Stream as Server-Sent Events")),
    responses(
    (status = 200, description = "A page of lines (JSON), plain text, or an event stream", content(
        (crate::openapi::LogPage = "application/json"),
        (String = "text/plain"),
        (String = "text/event-stream"))),
    (status = 404, description = "No such test run", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn logs(
    State(state): State<AppState>,
    caller: Auth,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let run = visible(&state, &caller, &id).await?;
    super::deployments::log_answer(&state, run.deployment_id, &query).await
}

/// Stops a queued or running test run; its container is stopped at once. A run that
/// gates a deployment is stopped by cancelling that deployment. A finished run cannot be
/// cancelled (409).
#[utoipa::path(post, path = "/api/v1/test-runs/{id}/cancel", tag = "test runs", params(("id" = String, Path, description = "Test run id")),
    responses((status = 200, body = TestRunView), (status = 404, description = "No such test run", body = crate::error::Body),
        (status = 409, description = "Already finished", body = crate::error::Body)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Auth,
    Path(id): Path<String>,
) -> Result<Json<TestRunView>, ApiError> {
    let run = visible(&state, &caller, &id).await?;
    let already = |status: &dyn std::fmt::Display| {
        ApiError::new(
            StatusCode::CONFLICT,
            "already_finished",
            format!(
                "the test run is already {status}; only queued or running test runs can be cancelled"
            ),
        )
    };
    if run.status.is_finished() {
        return Err(already(&run.status));
    }
    // Whether or not the carrier finished between the read and the cancel, the run
    // read again says how it ended.
    let _: CancelOutcome = test_runs::cancel(&state.pool, &run)
        .await
        .or_not_found("test run")?;
    let run = visible(&state, &caller, &id).await?;
    if run.status != slipway_core::TestRunStatus::Cancelled {
        return Err(already(&run.status));
    }
    tracing::info!(test_run_id = %run.id, "test run cancelled");
    Ok(Json(run.into()))
}
