//! Asking a worker for runtime logs: which worker (one whose heartbeat is recent and whose
//! runtime answered, the freshest first), the request with SLIPWAY_INTERNAL_TOKEN, and
//! the followed log's NDJSON turned back into items.

use axum::http::StatusCode;
use futures_util::Stream;
use serde::Deserialize;
use slipway_store::workers;
use uuid::Uuid;

use super::{Params, RuntimeLine};
use crate::{ApiError, AppState};

/// One line of a followed log on the wire (the worker's internal server writes it).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Item {
    /// The release the lines come from; the SSE stream has no place for it.
    Deployment(serde::de::IgnoredAny),
    Line(RuntimeLine),
    Error(String),
}

#[derive(Deserialize)]
struct WorkerError {
    error: WorkerErrorDetail,
}

#[derive(Deserialize)]
struct WorkerErrorDetail {
    code: String,
    message: String,
}

fn no_worker(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_worker", message).retry_after(5)
}

fn bad_worker(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "worker_error", message)
}

/// A worker's answer that could not be read.
pub(super) fn unreadable(e: reqwest::Error) -> ApiError {
    tracing::warn!(error = %e, "unreadable runtime logs from a worker");
    bad_worker("the worker's answer could not be read; try again")
}

/// Sends the request to the freshest live worker, the next one if it cannot be reached;
/// returns its successful answer, whose body is still to be read.
pub(super) async fn request(
    state: &AppState,
    app_id: Uuid,
    params: &Params,
) -> Result<reqwest::Response, ApiError> {
    let Some(token) = &state.config.internal_token else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "runtime logs come from a worker, and SLIPWAY_INTERNAL_TOKEN is not set on the API",
        ));
    };
    let window = workers::liveness_window(state.config.lease_duration);
    let live = workers::seen_within(&state.pool, window)
        .await
        .map_err(|e| ApiError::store("worker", e))?;
    let candidates: Vec<String> = live
        .into_iter()
        .filter(|w| w.runtime_ok)
        .filter_map(|w| w.url)
        .collect();
    if candidates.is_empty() {
        return Err(no_worker(format!(
            "runtime logs come from a worker, and no worker that reaches its runtime and \
             serves the API has been seen in the last {}s",
            window.as_secs()
        )));
    }
    let mut query = vec![("tail", params.tail.to_string())];
    if let Some(since) = params.since {
        query.push(("since", since.to_string()));
    }
    if let Some(process) = &params.process {
        query.push(("process", process.clone()));
    }
    query.push(("follow", params.follow.to_string()));
    for url in &candidates {
        let mut request = state
            .workers
            .get(format!("{url}/internal/v1/apps/{app_id}/logs"))
            .bearer_auth(token.expose())
            .query(&query);
        if !params.follow {
            request = request.timeout(state.config.request_timeout);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => return Err(refused(url, response).await),
            // Gone since its last heartbeat, or unreachable from here: try the next.
            Err(e) => tracing::warn!(worker = %url, error = %e, "could not reach a worker"),
        }
    }
    Err(bad_worker(
        "no live worker could be reached for the logs; the server log has details",
    ))
}

/// The worker answered with an error: its runtime's words reach the client (they are the
/// app's own containers'), anything else only the server log.
async fn refused(url: &str, response: reqwest::Response) -> ApiError {
    let status = response.status();
    let detail = response.json::<WorkerError>().await.ok().map(|e| e.error);
    match (status.as_u16(), detail) {
        (502, Some(d)) if d.code == "runtime_error" => {
            ApiError::new(StatusCode::BAD_GATEWAY, "runtime_error", d.message)
        }
        (401, _) => {
            tracing::error!(worker = %url, "the worker refused SLIPWAY_INTERNAL_TOKEN");
            bad_worker(
                "the worker refused the API's SLIPWAY_INTERNAL_TOKEN; \
                 the API and every worker need the same value",
            )
        }
        (503, _) => no_worker("the worker could not read the database; try again shortly"),
        (_, detail) => {
            let message = detail.map(|d| d.message).unwrap_or_default();
            tracing::error!(worker = %url, %status, %message, "the worker refused runtime logs");
            bad_worker("the worker refused to give the logs; the server log has details")
        }
    }
}

/// The followed log's items as they arrive. A broken stream ends with an error item
/// (the client may follow again); an unreadable line is skipped.
pub(super) fn followed(response: reqwest::Response) -> impl Stream<Item = Item> + Send {
    struct Reading {
        response: Option<reqwest::Response>,
        buffer: Vec<u8>,
        ready: std::collections::VecDeque<Item>,
    }
    let state = Reading {
        response: Some(response),
        buffer: Vec::new(),
        ready: Default::default(),
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                return Some((item, s));
            }
            let response = s.response.as_mut()?;
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    s.buffer.extend_from_slice(&bytes);
                    while let Some(end) = s.buffer.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = s.buffer.drain(..=end).collect();
                        match serde_json::from_slice::<Item>(&line) {
                            Ok(item) => s.ready.push_back(item),
                            Err(e) => tracing::warn!(error = %e, "unreadable line from a worker"),
                        }
                    }
                }
                Ok(None) => s.response = None,
                Err(e) => {
                    tracing::warn!(error = %e, "a worker's log stream broke");
                    s.response = None;
                    s.ready
                        .push_back(Item::Error("the worker's log stream broke".to_owned()));
                }
            }
        }
    })
}
