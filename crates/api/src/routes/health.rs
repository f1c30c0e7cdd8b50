use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up; says nothing about its dependencies.
#[utoipa::path(get, path = "/health", tag = "health", security(()),
    responses((status = 200, description = "Up", body = crate::openapi::Health)))]
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve: the database and the Docker Engine both answer.
#[utoipa::path(get, path = "/ready", tag = "health", security(()), responses(
    (status = 200, description = "Both answer", body = crate::openapi::Readiness),
    (status = 503, description = "`checks` says which does not", body = crate::openapi::Readiness)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, slipway_store::ping(&state.pool)).await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("unreachable: {e}")),
        Err(_) => Err("no answer within 2s".to_owned()),
    };
    let docker =
        match tokio::time::timeout(CHECK_TIMEOUT, async { state.docker().await?.ping().await })
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("unreachable: {e}")),
            Err(_) => Err("no answer within 2s".to_owned()),
        };
    let ready = database.is_ok() && docker.is_ok();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.clone(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "database": show(&database), "docker": show(&docker) },
    });
    (status, Json(body))
}
