//! Process types and their replica counts. `PATCH {"web":3,"worker":2}` stores the counts
//! on the app; the worker (woken by NOTIFY) starts or stops replicas of the running
//! release, and every later release starts with them.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use slipway_core::spec::MAX_REPLICAS;
use slipway_store::apps;

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::extract::JsonBody;
use crate::views::processes::{ProcessesView, running, view};
use crate::{ApiError, AppState};

/// Process types of the running release, their wanted replicas and its containers.
#[utoipa::path(get, path = "/api/v1/apps/{app}/processes", tag = "apps", params(("app" = String, Path, description = "The app's name or id")),
    responses((status = 200, body = ProcessesView), (status = 404, description = "No such app or deployment", body = crate::error::Body)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
) -> Result<Json<ProcessesView>, ApiError> {
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    Ok(Json(view(&state, &app).await?))
}

/// Scale process types: `{"web": 3, "worker": 1}` (0–20 each).
#[utoipa::path(patch, path = "/api/v1/apps/{app}/processes", tag = "apps", params(("app" = String, Path, description = "The app's name or id")),
    request_body(content = BTreeMap<String, i64>, description = "process: replicas"),
    responses((status = 200, body = ProcessesView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    JsonBody(body): JsonBody<BTreeMap<String, i64>>,
) -> Result<Json<ProcessesView>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid(
            "processes",
            "give at least one process and its replica count, e.g. {\"web\": 2}",
        ));
    }
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    // Names are checked against the running release's spec; before the first release
    // only `web` is known for sure.
    let (_, spec) = running(&state, &app).await?;
    let mut counts = BTreeMap::new();
    for (name, count) in body {
        if !spec.processes.contains_key(&name) {
            let known: Vec<&str> = spec.processes.keys().map(String::as_str).collect();
            return Err(ApiError::invalid(
                name.clone(),
                format!(
                    "the app has no process type {name} (it has: {}); process types come from [processes] in slipway.toml",
                    known.join(", ")
                ),
            ));
        }
        let count = u32::try_from(count)
            .ok()
            .filter(|c| *c <= MAX_REPLICAS)
            .ok_or_else(|| {
                ApiError::invalid(
                    name.clone(),
                    format!("{name}: replicas must be a whole number from 0 to {MAX_REPLICAS}"),
                )
            })?;
        counts.insert(name, count);
    }
    let app = apps::set_scale(&state.pool, app.id, &counts)
        .await
        .or_not_found("app")?;
    tracing::info!(app = %app.name, scale = ?counts, "scale changed");
    Ok(Json(view(&state, &app).await?))
}
