//! Config vars: `GET` (masked unless `?reveal=true`), `PUT` (replace the set) and `PATCH`
//! (merge; `null` unsets). Values are sealed here, before they reach the database, and
//! a change releases the current image again with them.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Serialize;
use slipway_core::crypto::{self, Cipher};
use slipway_core::envvars::{self, MAX_VARS};
use slipway_store::apps::{self, AppRow};
use slipway_store::config_vars::{self, Applied, Change};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::extract::JsonBody;
use crate::views::DeploymentView;
use crate::{ApiError, AppState};

/// What a masked value reads as: fixed, so not even its length leaks.
const MASK: &str = "********";

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConfigView {
    pub config: BTreeMap<String, String>,
    /// Whether `config` holds the real values (`?reveal=true`) or masks.
    pub revealed: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    pub config: BTreeMap<String, String>,
    pub revealed: bool,
    /// The release that carries the change, when one was queued.
    pub release: Option<DeploymentView>,
    /// A deployment not yet released that will run with the change instead.
    pub applies_to: Option<Uuid>,
}

fn cipher(state: &AppState) -> Result<&Cipher, ApiError> {
    state.cipher.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "secret_key_missing",
            "config vars are encrypted at rest and this server has no SLIPWAY_SECRET_KEY: set it \
             (openssl rand -base64 32) on the API and the workers, then restart them",
        )
    })
}

fn reveal_flag(query: &HashMap<String, String>) -> Result<bool, ApiError> {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "reveal") {
        return Err(ApiError::invalid(
            unknown.clone(),
            format!("unknown query parameter {unknown}"),
        ));
    }
    match query.get("reveal").map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid("reveal", "reveal must be true or false")),
    }
}

async fn current(
    state: &AppState,
    app: &AppRow,
    reveal: bool,
) -> Result<BTreeMap<String, String>, ApiError> {
    if !reveal {
        let names = config_vars::names(&state.pool, app.id)
            .await
            .or_not_found("app")?;
        return Ok(names
            .into_iter()
            .map(|name| (name, MASK.to_owned()))
            .collect());
    }
    let sealed = config_vars::list(&state.pool, app.id)
        .await
        .or_not_found("app")?;
    let cipher = cipher(state)?;
    let app_id = app.id.to_string();
    sealed
        .into_iter()
        .map(|(name, bytes)| {
            let value = cipher
                .open(&crypto::config_var_aad(&app_id, &name), &bytes)
                .map_err(|e| ApiError::internal("config var decryption", e))?;
            Ok((name, value))
        })
        .collect()
}

/// Config vars, masked unless `reveal=true`.
#[utoipa::path(get, path = "/api/v1/apps/{app}/config", tag = "apps", params(("app" = String, Path, description = "The app's name or id"),
    ("reveal" = Option<bool>, Query, description = "Show the values")),
    responses((status = 200, body = ConfigView), (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body),
        (status = 503, description = "A dependency (database, Docker, secret key) is unavailable", body = crate::error::Body)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ConfigView>, ApiError> {
    let reveal = reveal_flag(&query)?;
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    Ok(Json(ConfigView {
        config: current(&state, &app, reveal).await?,
        revealed: reveal,
    }))
}

/// Replace the set of config vars; releases the current image with them.
#[utoipa::path(put, path = "/api/v1/apps/{app}/config", tag = "apps", params(("app" = String, Path, description = "The app's name or id"),
    ("reveal" = Option<bool>, Query, description = "Show the values in the answer")),
    request_body(content = BTreeMap<String, Option<String>>, description = "NAME: value"),
    responses((status = 200, body = ChangeView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body),
        (status = 503, description = "A dependency (database, Docker, secret key) is unavailable", body = crate::error::Body)))]
pub async fn put(
    state: State<AppState>,
    auth: Auth,
    app: Path<String>,
    query: Query<HashMap<String, String>>,
    body: JsonBody<BTreeMap<String, Option<String>>>,
) -> Result<Json<ChangeView>, ApiError> {
    apply(state, auth, app, query, body, true).await
}

/// Merge config vars (`null` unsets); releases the current image with them.
#[utoipa::path(patch, path = "/api/v1/apps/{app}/config", tag = "apps", params(("app" = String, Path, description = "The app's name or id"),
    ("reveal" = Option<bool>, Query, description = "Show the values in the answer")),
    request_body(content = BTreeMap<String, Option<String>>, description = "NAME: value, or NAME: null to unset"),
    responses((status = 200, body = ChangeView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 404, description = "No such app or deployment", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body),
        (status = 503, description = "A dependency (database, Docker, secret key) is unavailable", body = crate::error::Body)))]
pub async fn patch(
    state: State<AppState>,
    auth: Auth,
    app: Path<String>,
    query: Query<HashMap<String, String>>,
    body: JsonBody<BTreeMap<String, Option<String>>>,
) -> Result<Json<ChangeView>, ApiError> {
    apply(state, auth, app, query, body, false).await
}

async fn apply(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(app): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<BTreeMap<String, Option<String>>>,
    replace: bool,
) -> Result<Json<ChangeView>, ApiError> {
    let reveal = reveal_flag(&query)?;
    for (name, value) in &body {
        envvars::check_name(name).map_err(|e| ApiError::invalid(e.name, e.message))?;
        if let Some(value) = value {
            envvars::check_value(name, value).map_err(|e| ApiError::invalid(e.name, e.message))?;
        }
    }
    let app = apps::find(&state.pool, caller.owner(), &app)
        .await
        .or_not_found("app")?;
    let mut change = Change {
        replace,
        ..Change::default()
    };
    let app_id = app.id.to_string();
    for (name, value) in body {
        match value {
            Some(value) => {
                let cipher = cipher(&state)?;
                let sealed = cipher
                    .seal(&crypto::config_var_aad(&app_id, &name), &value)
                    .map_err(|e| ApiError::internal("config var encryption", e))?;
                change.set.push((name, sealed));
            }
            None => change.unset.push(name),
        }
    }
    let applied = config_vars::change(&state.pool, app.id, &change, MAX_VARS)
        .await
        .or_not_found("app")?
        .map_err(|too_many| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_config_vars",
                format!(
                    "an app has at most {} config vars; this change would leave {}",
                    too_many.max_vars, too_many.count
                ),
            )
        })?;
    let names: Vec<&str> = change.set.iter().map(|(n, _)| n.as_str()).collect();
    // Names only: values never reach a log.
    tracing::info!(app = %app.name, set = ?names, unset = ?change.unset, replace, "config vars changed");
    let (release, applies_to) = match applied {
        Applied::Release(row) => (Some(DeploymentView::summary(*row)), None),
        Applied::Pending(id) => (None, Some(id)),
        Applied::NothingRunning => (None, None),
    };
    Ok(Json(ChangeView {
        config: current(&state, &app, reveal).await?,
        revealed: reveal,
        release,
        applies_to,
    }))
}
