use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use slipway_store::workers::{self, WorkerRow};

use crate::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up; says nothing about its dependencies.
#[utoipa::path(get, path = "/health", tag = "health", security(()),
    responses((status = 200, description = "Up", body = crate::openapi::Health)))]
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve: the database answers, and a worker whose runtime answers has recorded
/// a heartbeat recently. The API has no access to the runtime itself.
#[utoipa::path(get, path = "/ready", tag = "health", security(()), responses(
    (status = 200, description = "Both hold", body = crate::openapi::Readiness),
    (status = 503, description = "`checks` says which does not", body = crate::openapi::Readiness)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, slipway_store::ping(&state.pool)).await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("unreachable: {e}")),
        Err(_) => Err("no answer within 2s".to_owned()),
    };
    let window = workers::liveness_window(state.config.lease_duration);
    let workers = match &database {
        Err(_) => Err("unknown: the database does not answer".to_owned()),
        Ok(()) => {
            match tokio::time::timeout(CHECK_TIMEOUT, workers::seen_within(&state.pool, window))
                .await
            {
                Ok(Ok(seen)) => judge(&seen, window),
                Ok(Err(e)) => Err(format!("unknown: {e}")),
                Err(_) => Err("unknown: the database gave no answer within 2s".to_owned()),
            }
        }
    };
    let ready = database.is_ok() && workers.is_ok();
    let show = |r: Result<String, String>| r.unwrap_or_else(|e| e);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": show(database.map(|()| "ok".to_owned())),
            "workers": show(workers),
        },
    });
    (status, Json(body))
}

/// Ready when at least one worker seen within `window` reached its runtime; the words
/// say how many were seen either way, and the runtime's own words when none reached it.
fn judge(seen: &[WorkerRow], window: Duration) -> Result<String, String> {
    let secs = window.as_secs();
    let reaching = seen.iter().filter(|w| w.runtime_ok).count();
    let plural = |n: usize| if n == 1 { "worker" } else { "workers" };
    match (seen.len(), reaching) {
        (0, _) => Err(format!("no worker seen in the last {secs}s")),
        (n, 0) => Err(format!(
            "{n} {} seen in the last {secs}s, none reaches its runtime: {}",
            plural(n),
            seen[0].runtime_status
        )),
        (n, r) if r == n => Ok(format!(
            "ok: {n} {} seen in the last {secs}s, Docker reachable",
            plural(n)
        )),
        (n, r) => Ok(format!(
            "ok: {n} {} seen in the last {secs}s, {r} with Docker reachable",
            plural(n)
        )),
    }
}
