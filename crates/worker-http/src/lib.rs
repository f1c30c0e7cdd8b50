//! slipway-worker's internal HTTP server: `/metrics` for Prometheus and
//! `/internal/v1/…` for the API, which has no access to the runtime and asks a worker
//! for runtime logs instead. Internal routes require SLIPWAY_INTERNAL_TOKEN as a bearer
//! token. The worker is attached to every app network to health-check releases, so the
//! whole server refuses peers whose address lies in the app networks' pool: apps do not
//! get to read Slipway's internals, nor try tokens.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use slipway_core::config::Secret;
use slipway_core::subnets::AppSubnets;
use slipway_engine::runtime_logs::{self, Followed, LogsRequest, RuntimeLine, RuntimeLogsError};
use slipway_store::PgPool;
use subtle::ConstantTimeEq as _;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What the internal server reads from.
#[derive(Clone)]
pub struct Internal {
    pub pool: PgPool,
    /// Where the logs come from.
    pub runtime: std::sync::Arc<dyn slipway_engine::runtime::Runtime>,
    pub app_subnets: AppSubnets,
    /// SLIPWAY_INTERNAL_TOKEN; `None`: internal routes refuse everyone.
    pub token: Option<Secret>,
    /// Ends followed logs when the worker stops, so graceful shutdown is not held up.
    pub shutdown: CancellationToken,
}

/// Listens on every interface at `port` (SLIPWAY_WORKER_METRICS_PORT).
pub async fn bind(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .with_context(|| format!("could not listen on port {port} (SLIPWAY_WORKER_METRICS_PORT)"))
}

pub async fn serve(internal: Internal, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let shutdown = internal.shutdown.clone();
    let protected = axum::Router::new()
        .route(
            "/internal/v1/apps/{app_id}/logs",
            axum::routing::get(app_logs),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            internal.clone(),
            require_token,
        ));
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .merge(protected)
        .layer(axum::middleware::from_fn_with_state(
            internal.app_subnets,
            refuse_apps,
        ))
        .with_state(internal);
    tracing::info!(addr = %listener.local_addr()?, "internal server at /metrics and /internal/v1");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
    .context("internal server error")
}

async fn refuse_apps(
    State(app_subnets): State<AppSubnets>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let from_an_app = match peer.ip().to_canonical() {
        std::net::IpAddr::V4(v4) => app_subnets.contains(v4),
        std::net::IpAddr::V6(_) => false,
    };
    if from_an_app {
        return (
            StatusCode::FORBIDDEN,
            "this server does not answer app networks\n",
        )
            .into_response();
    }
    next.run(request).await
}

async fn require_token(State(internal): State<Internal>, request: Request, next: Next) -> Response {
    let Some(expected) = &internal.token else {
        return error(
            StatusCode::FORBIDDEN,
            "not_configured",
            "SLIPWAY_INTERNAL_TOKEN is not set on this worker".into(),
        );
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Constant time, so that the answer's timing does not tell how much of a guess was right.
    if bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid SLIPWAY_INTERNAL_TOKEN is required".into(),
        )
    }
}

async fn metrics(State(internal): State<Internal>) -> Response {
    let m = slipway_telemetry::metrics();
    slipway_store::gauges::refresh(&internal.pool, |depth, running| {
        m.queue_depth.set(depth);
        m.running_containers.set(running);
    })
    .await;
    (
        [(header::CONTENT_TYPE, slipway_telemetry::CONTENT_TYPE)],
        m.render(),
    )
        .into_response()
}

/// The query the API sends, already validated there.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    tail: usize,
    since: Option<i64>,
    process: Option<String>,
    #[serde(default)]
    follow: bool,
}

/// A line on the wire: the shape of the API's own `RuntimeLine`.
#[derive(Serialize)]
struct WireLine {
    container: String,
    process: String,
    stream: &'static str,
    at: Option<chrono::DateTime<chrono::Utc>>,
    line: String,
}

impl From<RuntimeLine> for WireLine {
    fn from(l: RuntimeLine) -> Self {
        Self {
            container: l.container,
            process: l.process,
            stream: l.stream.as_str(),
            at: l.at,
            line: l.line,
        }
    }
}

/// One line of the NDJSON a followed log is sent as: first the deployment, then lines
/// and per-container errors as they come.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum FollowItem {
    Deployment(Option<Uuid>),
    Line(WireLine),
    Error(String),
}

/// NDJSON media type of followed logs.
pub const NDJSON: &str = "application/x-ndjson";

async fn app_logs(
    State(internal): State<Internal>,
    Path(app_id): Path<Uuid>,
    Query(query): Query<LogsQuery>,
) -> Response {
    let request = LogsRequest {
        tail: query.tail,
        since: query.since,
        process: query.process,
    };
    if !query.follow {
        return match runtime_logs::snapshot(
            &internal.pool,
            internal.runtime.as_ref(),
            app_id,
            &request,
        )
        .await
        {
            Ok(s) => Json(serde_json::json!({
                "deployment_id": s.deployment_id,
                "lines": s.lines.into_iter().map(WireLine::from).collect::<Vec<_>>(),
            }))
            .into_response(),
            Err(e) => failed(e),
        };
    }
    let follow =
        match runtime_logs::follow(&internal.pool, internal.runtime.as_ref(), app_id, &request)
            .await
        {
            Ok(f) => f,
            Err(e) => return failed(e),
        };
    let first = futures_util::stream::once(std::future::ready(FollowItem::Deployment(
        follow.deployment_id,
    )));
    let items = follow.lines.map(|item| match item {
        Followed::Line(l) => FollowItem::Line(l.into()),
        Followed::Error(e) => FollowItem::Error(e),
    });
    let body = first
        .chain(items)
        .take_until(internal.shutdown.clone().cancelled_owned())
        .map(|item| {
            let mut bytes = serde_json::to_vec(&item)?;
            bytes.push(b'\n');
            Ok::<_, serde_json::Error>(bytes)
        });
    (
        [(header::CONTENT_TYPE, NDJSON)],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

fn failed(e: RuntimeLogsError) -> Response {
    match e {
        RuntimeLogsError::Store(e) => {
            tracing::warn!(error = %e, "could not read the app's containers");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the worker could not read the database; try again shortly".into(),
            )
        }
        e @ RuntimeLogsError::Runtime(_) => {
            error(StatusCode::BAD_GATEWAY, "runtime_error", e.to_string())
        }
    }
}

/// The API's error shape, so that it can pass a worker's message on.
fn error(status: StatusCode, code: &'static str, message: String) -> Response {
    (
        status,
        Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}
