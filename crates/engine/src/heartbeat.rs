//! The worker's heartbeat: every few seconds it asks its runtime whether it answers and
//! records the answer in Postgres, where the API (which has no access to the runtime)
//! reads it for `/ready` and to find a worker that can serve runtime logs. A clean stop
//! removes the row, so the API knows at once rather than after the row grows old.

use std::sync::Arc;
use std::time::Duration;

use slipway_store::workers::{self, Heartbeat};
use tokio_util::sync::CancellationToken;

use crate::Context;

/// Rows of workers gone this long (crashed, never removed) are deleted at start-up.
const PRUNE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Longer than this, and the runtime counts as not answering.
const RUNTIME_PATIENCE: Duration = Duration::from_secs(5);

/// Where the API reaches this worker's internal server: SLIPWAY_WORKER_URL, else
/// `http://<host name>:<SLIPWAY_WORKER_METRICS_PORT>`; `None` when it runs no server.
pub fn advertised_url(config: &slipway_core::Config, host: &str) -> Option<String> {
    config.worker_url.clone().or_else(|| {
        config
            .worker_metrics_port
            .map(|port| format!("http://{host}:{port}"))
    })
}

/// The machine's (or container's) host name, which is also what other containers on a
/// Docker network can resolve it by.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Beats until `shutdown` fires, then removes the worker's row.
pub async fn run(ctx: Arc<Context>, id: String, shutdown: CancellationToken) {
    let host = host_name();
    let url = advertised_url(&ctx.config, &host);
    if let Err(e) = workers::prune(&ctx.pool, PRUNE_AFTER).await {
        tracing::warn!(error = %e, "could not prune old worker heartbeats");
    }
    let mut tick = tokio::time::interval(workers::heartbeat_interval(ctx.config.lease_duration));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let runtime = match tokio::time::timeout(RUNTIME_PATIENCE, ctx.runtime.ping()).await {
            Ok(Ok(version)) => Ok(version),
            Ok(Err(e)) => Err(format!("the runtime does not answer: {e}")),
            Err(_) => Err(format!(
                "the runtime gave no answer within {}s",
                RUNTIME_PATIENCE.as_secs()
            )),
        };
        let (runtime_ok, runtime_status) = match &runtime {
            Ok(words) | Err(words) => (runtime.is_ok(), words.as_str()),
        };
        let beat = Heartbeat {
            id: &id,
            host: &host,
            url: url.as_deref(),
            runtime_ok,
            runtime_status,
        };
        // A missed beat is no reason to stop: the next one may get through, and the
        // window the API allows spans several.
        if let Err(e) = workers::heartbeat(&ctx.pool, &beat).await {
            tracing::warn!(error = %e, "could not record the heartbeat");
        }
    }
    if let Err(e) = workers::remove(&ctx.pool, &id).await {
        tracing::warn!(error = %e, "could not remove the heartbeat; it expires on its own");
    }
}
