//! `GET /metrics` (Prometheus) and the middleware that counts and times every request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use slipway_telemetry::{CONTENT_TYPE, metrics};

use crate::AppState;

/// Prometheus text format: API request counts and latencies, and (in the same process)
/// deployment and queue metrics.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()), responses(
    (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let m = metrics();
    slipway_store::gauges::refresh(&state.pool, |depth, running| {
        m.queue_depth.set(depth);
        m.running_containers.set(running);
    })
    .await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.render())
}

/// Labels by the route pattern (`/api/v1/apps/{app}`), never the raw path, so the
/// number of series stays bounded whatever clients send.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = metrics();
    m.http_seconds
        .with_label_values(&[route.as_str(), method.as_str()])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[route.as_str(), method.as_str(), response.status().as_str()])
        .inc();
    response
}
