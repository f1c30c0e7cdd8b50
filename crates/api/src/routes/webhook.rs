//! An app's webhook: the URLs to give each forge and the secret they sign with (which
//! also signs Slipway's callbacks).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use slipway_store::apps::{self, AppRow};

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::{ApiError, AppState, webhook_secret};

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    /// Where each forge should POST, as this request reached the API.
    pub urls: WebhookUrls,
    /// GitHub and Gitea sign with it; GitLab sends it as X-Gitlab-Token. Slipway's
    /// callbacks are signed with it too.
    pub secret: String,
    /// What to choose as the hook's content type.
    pub content_type: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookUrls {
    pub github: String,
    pub gitea: String,
    pub gitlab: String,
}

/// The app's webhook URLs and secret.
#[utoipa::path(get, path = "/api/v1/apps/{app}/webhook", tag = "webhooks",
    params(("app" = String, Path, description = "The app's name or id")),
    responses((status = 200, body = WebhookView),
        (status = 404, description = "No such app", body = crate::error::Body),
        (status = 503, description = "The secret is sealed and this server has no SLIPWAY_SECRET_KEY", body = crate::error::Body)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WebhookView>, ApiError> {
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let secret = webhook_secret::get_or_create(&state, app.id).await?;
    Ok(Json(view(&state, &headers, &app, secret)))
}

/// Replace the app's webhook secret; deliveries signed with the old one are refused
/// from now on, so update the forges' hooks with the new one.
#[utoipa::path(post, path = "/api/v1/apps/{app}/webhook/rotate", tag = "webhooks",
    params(("app" = String, Path, description = "The app's name or id")),
    responses((status = 200, body = WebhookView),
        (status = 404, description = "No such app", body = crate::error::Body)))]
pub async fn rotate(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WebhookView>, ApiError> {
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let secret = webhook_secret::rotate(&state, app.id).await?;
    tracing::info!(app = %app.name, "webhook secret rotated");
    Ok(Json(view(&state, &headers, &app, secret)))
}

fn view(state: &AppState, headers: &HeaderMap, app: &AppRow, secret: String) -> WebhookView {
    let base = public_base(state, headers);
    let url = |provider: &str| format!("{base}/hooks/{provider}/{}", app.name);
    WebhookView {
        urls: WebhookUrls {
            github: url("github"),
            gitea: url("gitea"),
            gitlab: url("gitlab"),
        },
        secret,
        content_type: "application/json".to_owned(),
    }
}

/// The API's address as the caller reached it (a proxy's `X-Forwarded-*` first).
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| {
                !v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
    };
    let host = get("x-forwarded-host")
        .or_else(|| get("host"))
        .unwrap_or("localhost");
    let scheme = match get("x-forwarded-proto") {
        Some(proto @ ("http" | "https")) => proto,
        _ if state.config.tls() => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}
