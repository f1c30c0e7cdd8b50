mod app_logs;
mod apps;
mod callbacks;
mod config;
pub(crate) mod deployments;
mod follow;
mod health;
mod metrics;
mod processes;
pub(crate) mod test_runs;
mod users;
mod webhook;

pub(crate) use deployments::detailed as deployment_view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::dashboard;
use crate::openapi::ApiDoc;
use crate::{ApiError, AppState};
pub(crate) use deployments::detail as deployment_detail;

/// Requests carry small JSON documents; anything bigger is a mistake or abuse.
const MAX_BODY: usize = 64 * 1024;

/// Every route of the API, each registered with its OpenAPI operation.
pub(crate) fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::scrape))
        .routes(routes!(apps::create, apps::list))
        .routes(routes!(apps::show, apps::patch, apps::delete))
        .routes(routes!(webhook::show))
        .routes(routes!(webhook::rotate))
        .routes(routes!(callbacks::list))
        .routes(routes!(crate::hooks::receive))
        .routes(routes!(deployments::list, deployments::create))
        .routes(routes!(config::get, config::put, config::patch))
        .routes(routes!(processes::get, processes::patch))
        .routes(routes!(deployments::rollback))
        .routes(routes!(app_logs::get))
        .routes(routes!(deployments::show))
        .routes(routes!(deployments::logs))
        .routes(routes!(deployments::cancel))
        .routes(routes!(crate::ws::connect))
        .routes(routes!(test_runs::create, test_runs::list))
        .routes(routes!(test_runs::show))
        .routes(routes!(test_runs::logs))
        .routes(routes!(test_runs::cancel))
        .routes(routes!(users::me))
        .routes(routes!(users::list_tokens, users::create_token))
        .routes(routes!(users::revoke_token))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(dashboard::index))
        .routes(routes!(
            dashboard::session::form,
            dashboard::session::sign_in
        ))
        .routes(routes!(dashboard::session::sign_out))
        .routes(routes!(dashboard::app_page))
        .routes(routes!(dashboard::live))
        .routes(routes!(dashboard::asset))
        .routes(routes!(crate::git::upload::info_refs))
        .routes(routes!(crate::git::upload::upload_pack))
        .routes(routes!(crate::git::receive::receive_pack))
}

/// The routes and their document, completed with the answers every operation shares
/// (which can only be added once the operations are in it).
fn parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = documented().split_for_parts();
    utoipa::Modify::modify(&crate::openapi::CommonAnswers, &mut doc);
    (routes, doc)
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

pub fn router(state: AppState) -> Router {
    let (routes, doc) = parts();
    // Swagger UI's assets are compiled in (`vendored`): /docs works offline.
    let docs = SwaggerUi::new("/docs").url("/api/v1/openapi.json", doc);
    routes
        .merge(docs)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::remember,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::time_limit,
        ))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
