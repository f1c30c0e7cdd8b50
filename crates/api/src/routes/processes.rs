//! Process types and their replica counts. `PATCH {"web":3,"worker":2}` stores the counts
//! on the app; the worker (woken by NOTIFY) starts or stops replicas of the running
//! release, and every later release starts with them.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use slipway_core::spec::{AppSpec, MAX_REPLICAS, ProcessSpec};
use slipway_store::apps::{self, AppRow};
use slipway_store::deployments::{self, DeploymentRow};

use crate::auth::Auth;
use crate::extract::JsonBody;
use crate::views::ContainerView;
use crate::{ApiError, AppState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProcessView {
    /// Replicas wanted: the API's scale where set, else the spec's.
    pub replicas: u32,
    pub command: Option<Vec<String>>,
    /// Only `web` is routed by Traefik.
    pub routed: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProcessesView {
    /// The running release they belong to, if any.
    pub deployment_id: Option<uuid::Uuid>,
    pub processes: BTreeMap<String, ProcessView>,
    /// The containers the running release has now (scaling takes a moment).
    pub containers: Vec<ContainerView>,
}

/// The running release and the spec it runs with; before the first release, the
/// defaults (a `web` process only).
async fn running(
    state: &AppState,
    app: &AppRow,
) -> Result<(Option<DeploymentRow>, AppSpec), ApiError> {
    let current = deployments::current_release(&state.pool, app.id)
        .await
        .map_err(|e| ApiError::store("app", e))?;
    let spec = current
        .as_ref()
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| serde_json::from_value::<AppSpec>(s.0.clone()).ok())
        .unwrap_or_default();
    Ok((current, spec))
}

pub(crate) async fn view(state: &AppState, app: &AppRow) -> Result<ProcessesView, ApiError> {
    let (current, spec) = running(state, app).await?;
    let processes = spec
        .processes
        .iter()
        .map(|(name, p)| {
            let replicas = app.scale.0.get(name).copied().unwrap_or(p.replicas);
            let view = ProcessView {
                replicas,
                command: p.command.clone(),
                routed: ProcessSpec::is_web(name),
            };
            (name.clone(), view)
        })
        .collect();
    let containers = match &current {
        Some(d) => slipway_store::containers::list(&state.pool, d.id)
            .await
            .map_err(|e| ApiError::store("app", e))?
            .into_iter()
            .map(ContainerView::from)
            .collect(),
        None => Vec::new(),
    };
    Ok(ProcessesView {
        deployment_id: current.map(|d| d.id),
        processes,
        containers,
    })
}

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
        .map_err(|e| ApiError::store("app", e))?;
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
        .map_err(|e| ApiError::store("app", e))?;
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
        .map_err(|e| ApiError::store("app", e))?;
    tracing::info!(app = %app.name, scale = ?counts, "scale changed");
    Ok(Json(view(&state, &app).await?))
}
