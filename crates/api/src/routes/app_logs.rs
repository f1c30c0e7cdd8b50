//! Runtime logs: the running release's containers' stdout and stderr, read from Docker,
//! each line tagged with its container and process. `follow=true` streams them as SSE.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use slipway_docker::{LogLine, LogStream, LogsQuery};
use slipway_store::apps;
use slipway_store::deployments;

use crate::auth::Auth;
use crate::{ApiError, AppState};

const DEFAULT_TAIL: usize = 100;
const MAX_TAIL: usize = 10_000;

/// `GET /api/v1/apps/{app}/logs`
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuntimeLogs {
    /// The running release they come from, if any.
    pub deployment_id: Option<uuid::Uuid>,
    pub lines: Vec<RuntimeLine>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RuntimeLine {
    pub container: String,
    pub process: String,
    pub stream: &'static str,
    pub at: Option<DateTime<Utc>>,
    pub line: String,
}

fn tagged(container: &str, process: &str, line: LogLine) -> RuntimeLine {
    RuntimeLine {
        container: container.to_owned(),
        process: process.to_owned(),
        stream: match line.stream {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        },
        at: line.at,
        line: line.text,
    }
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

/// The running release's container output from Docker; `follow=true` streams it as
/// Server-Sent Events (`event: line`).
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
        (status = 503, description = "A dependency (database, Docker, secret key) is unavailable", body = crate::error::Body),
    (status = 502, description = "Docker refused to give the logs", body = crate::error::Body)))]
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
    let current = deployments::current_release(&state.pool, app.id)
        .await
        .map_err(|e| ApiError::store("app", e))?;
    let containers = match &current {
        Some(d) => slipway_store::containers::list(&state.pool, d.id)
            .await
            .map_err(|e| ApiError::store("app", e))?,
        None => Vec::new(),
    };
    let containers: Vec<_> = containers
        .into_iter()
        .filter(|c| params.process.as_ref().is_none_or(|p| &c.process == p))
        .collect();
    let docker = state.docker().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "docker_unavailable",
            format!("the Docker Engine is unreachable: {e}"),
        )
    })?;
    let query = LogsQuery {
        tail: Some(params.tail),
        since: params.since,
        follow: params.follow,
    };
    if params.follow {
        let streams = containers.into_iter().map(|c| {
            let (name, process) = (c.name.clone(), c.process.clone());
            // The docker crate's stream is not Unpin; select_all needs it to be.
            Box::pin(docker.logs(&c.container_id, &query)).filter_map(move |line| {
                let event = match line {
                    Ok(line) => Event::default()
                        .event("line")
                        .json_data(tagged(&name, &process, line))
                        .ok(),
                    Err(e) => Some(Event::default().event("error").data(format!("{name}: {e}"))),
                };
                std::future::ready(event.map(Ok::<_, Infallible>))
            })
        });
        let merged = futures_util::stream::select_all(streams)
            .take_until(state.shutdown.clone().cancelled_owned());
        return Ok(Sse::new(merged)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let mut lines = Vec::new();
    for c in &containers {
        let mut stream = std::pin::pin!(docker.logs(&c.container_id, &query));
        while let Some(line) = stream.next().await {
            match line {
                Ok(line) => lines.push(tagged(&c.name, &c.process, line)),
                // Gone since it was listed (scaled away): its lines are gone with it.
                Err(e) if e.is_not_found() => break,
                Err(e) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "docker_error",
                        format!("could not read the logs of {}: {e}", c.name),
                    ));
                }
            }
        }
    }
    // Interleave containers by time; `tail` applies to the merged result too.
    lines.sort_by_key(|l| l.at);
    let skip = lines.len().saturating_sub(params.tail);
    let lines: Vec<RuntimeLine> = lines.into_iter().skip(skip).collect();
    Ok(Json(serde_json::json!({
        "deployment_id": current.map(|d| d.id),
        "lines": lines,
    }))
    .into_response())
}
