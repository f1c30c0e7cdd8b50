//! Runtime logs: the running release's containers' stdout and stderr, each line tagged
//! with its container and process. `follow=true` streams them as SSE. The API has no
//! access to the runtime: it validates the request, resolves the app, and asks a live
//! worker's internal server (found through the workers' heartbeats) for the lines.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use slipway_store::apps;

use crate::auth::Auth;
use crate::{ApiError, AppState};

mod from_worker;

const DEFAULT_TAIL: usize = 100;
const MAX_TAIL: usize = 10_000;

/// `GET /api/v1/apps/{app}/logs`
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuntimeLogs {
    /// The running release they come from, if any.
    pub deployment_id: Option<uuid::Uuid>,
    pub lines: Vec<RuntimeLine>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuntimeLine {
    pub container: String,
    pub process: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub at: Option<DateTime<Utc>>,
    pub line: String,
}

struct Params {
    tail: usize,
    since: Option<i64>,
    process: Option<String>,
    follow: bool,
}

fn params(query: &HashMap<String, String>) -> Result<Params, ApiError> {
    if let Some(unknown) = query
        .keys()
        .find(|k| !matches!(k.as_str(), "tail" | "since" | "process" | "follow"))
    {
        return Err(ApiError::invalid(
            unknown.clone(),
            format!("unknown query parameter {unknown}"),
        ));
    }
    let tail = match query.get("tail") {
        None => DEFAULT_TAIL,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TAIL).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "tail",
                    format!("tail must be a whole number from 1 to {MAX_TAIL}"),
                )
            })?,
    };
    let since = query.get("since").map(|raw| parse_since(raw)).transpose()?;
    let follow = match query.get("follow").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("follow", "follow must be true or false")),
    };
    Ok(Params {
        tail,
        since,
        process: query.get("process").cloned(),
        follow,
    })
}

/// `since` is a Unix time in seconds, an RFC 3339 time, or an age such as `10m`.
fn parse_since(raw: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = raw.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.timestamp());
    }
    if let Ok(age) = humantime::parse_duration(raw) {
        let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::zero());
        return Ok((Utc::now() - age).timestamp());
    }
    Err(ApiError::invalid(
        "since",
        "since must be a Unix time in seconds, an RFC 3339 time, or an age such as 10m or 2h",
    ))
}

/// The running release's container output, read by a worker; `follow=true` streams it
/// as Server-Sent Events (`event: line`).
#[utoipa::path(get, path = "/api/v1/apps/{app}/logs", tag = "apps", params(("app" = String, Path, description = "The app's name or id"),
    ("tail" = Option<usize>, Query, description = "Last N lines (1–10000, default 100)"),
    ("process" = Option<String>, Query, description = "Only this process type"),
    ("since" = Option<String>, Query, description = "Unix seconds, RFC 3339, or an age like 10m"),
    ("follow" = Option<bool>, Query, description = "Stream as Server-Sent Events")),
    responses(
    (status = 200, description = "Lines interleaved by time, or an event stream", content(
        (RuntimeLogs = "application/json"),
        (String = "text/event-stream"))),
    (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body),
        (status = 503, description = "A dependency (database, a live worker, secret key) is unavailable", body = crate::error::Body),
    (status = 502, description = "The worker or its runtime failed to give the logs", body = crate::error::Body)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = params(&query)?;
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .map_err(|e| ApiError::store("app", e))?;
    let response = from_worker::request(&state, app.id, &params).await?;
    if !params.follow {
        let logs: RuntimeLogs = response.json().await.map_err(from_worker::unreadable)?;
        return Ok(Json(logs).into_response());
    }
    let events = from_worker::followed(response).filter_map(|item| {
        let event = match item {
            from_worker::Item::Deployment(_) => None,
            from_worker::Item::Line(line) => Event::default().event("line").json_data(line).ok(),
            from_worker::Item::Error(e) => Some(Event::default().event("error").data(e)),
        };
        std::future::ready(event.map(Ok::<_, Infallible>))
    });
    let events = events.take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}
