mod app_logs;
mod apps;
mod config;
mod deployments;
mod follow;
mod health;
mod processes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::{ApiError, AppState};

/// Requests carry small JSON documents; anything bigger is a mistake or abuse.
const MAX_BODY: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/apps", post(apps::create).get(apps::list))
        .route("/apps/{app}", get(apps::show).delete(apps::delete))
        .route(
            "/apps/{app}/deployments",
            get(deployments::list).post(deployments::create),
        )
        .route(
            "/apps/{app}/config",
            get(config::get).put(config::put).patch(config::patch),
        )
        .route(
            "/apps/{app}/processes",
            get(processes::get).patch(processes::patch),
        )
        .route("/apps/{app}/rollback", post(deployments::rollback))
        .route("/apps/{app}/logs", get(app_logs::get))
        .route("/deployments/{id}", get(deployments::show))
        .route("/deployments/{id}/logs", get(deployments::logs))
        .route("/deployments/{id}/cancel", post(deployments::cancel));
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .nest("/api/v1", api)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
