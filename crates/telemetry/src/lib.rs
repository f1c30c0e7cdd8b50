//! Prometheus metrics shared by slipway-api and slipway-worker. One registry per process,
//! reached through [`metrics()`], so the pipeline records what it measures where it
//! measures it, and `/metrics` renders everything in the text exposition format.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// API requests by matched route, method and status.
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    /// Deployments that ended, by final status (`running`, `failed`, …).
    pub deployments_finished: IntCounterVec,
    /// Time spent in each pipeline phase (`clone`, `build`, `release`).
    pub phase_seconds: HistogramVec,
    /// Time from queueing to a worker claiming the deployment.
    pub pickup_seconds: Histogram,
    /// Image builds only (reused images are not builds).
    pub build_seconds: Histogram,
    /// Pending deployments, read from the database at scrape time.
    pub queue_depth: IntGauge,
    /// Containers of running releases, read from the database at scrape time.
    pub running_containers: IntGauge,
    /// Reconciliations that failed (and are retried), by kind of error.
    pub reconcile_errors: IntCounterVec,
}

/// Seconds, from a fast health check to a slow build.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0,
];

impl Metrics {
    fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("slipway".to_owned()), None)?;
        let histogram =
            |name: &str, help: &str| HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
        let m = Self {
            http_requests: IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "API requests by route, method and status",
                ),
                &["route", "method", "status"],
            )?,
            http_seconds: HistogramVec::new(
                histogram(
                    "http_request_duration_seconds",
                    "API request latency by route",
                ),
                &["route", "method"],
            )?,
            deployments_finished: IntCounterVec::new(
                Opts::new(
                    "deployments_finished_total",
                    "Deployments that ended, by final status",
                ),
                &["status"],
            )?,
            phase_seconds: HistogramVec::new(
                histogram(
                    "deployment_phase_duration_seconds",
                    "Time spent in each pipeline phase",
                ),
                &["phase"],
            )?,
            pickup_seconds: Histogram::with_opts(histogram(
                "deployment_pickup_seconds",
                "Time from queueing to a worker claiming the deployment",
            ))?,
            build_seconds: Histogram::with_opts(histogram(
                "image_build_duration_seconds",
                "Image builds, from the start of the upload to the built image",
            ))?,
            queue_depth: IntGauge::new("queue_depth", "Deployments waiting for a worker")?,
            running_containers: IntGauge::new(
                "running_containers",
                "Containers of running releases",
            )?,
            reconcile_errors: IntCounterVec::new(
                Opts::new(
                    "reconcile_errors_total",
                    "Failed reconciliations of an app (retried with back-off), by error kind",
                ),
                &["error"],
            )?,
            registry,
        };
        m.registry.register(Box::new(m.http_requests.clone()))?;
        m.registry.register(Box::new(m.http_seconds.clone()))?;
        m.registry
            .register(Box::new(m.deployments_finished.clone()))?;
        m.registry.register(Box::new(m.phase_seconds.clone()))?;
        m.registry.register(Box::new(m.pickup_seconds.clone()))?;
        m.registry.register(Box::new(m.build_seconds.clone()))?;
        m.registry.register(Box::new(m.queue_depth.clone()))?;
        m.registry
            .register(Box::new(m.running_containers.clone()))?;
        m.registry.register(Box::new(m.reconcile_errors.clone()))?;
        Ok(m)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on a malformed metric, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn observe_phase(&self, phase: &str, took: Duration) {
        self.phase_seconds
            .with_label_values(&[phase])
            .observe(took.as_secs_f64());
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    // The names and labels are constants: a failure here is a programming error
    // caught by the tests, not something a user or the network can cause.
    #[allow(clippy::expect_used)]
    Metrics::new().expect("metric definitions are valid")
});

pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// The Content-Type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prefixed_metrics() {
        let m = metrics();
        m.deployments_finished.with_label_values(&["running"]).inc();
        m.observe_phase("build", Duration::from_millis(1500));
        let text = m.render();
        assert!(
            text.contains("slipway_deployments_finished_total{status=\"running\"}"),
            "{text}"
        );
        assert!(
            text.contains(
                "slipway_deployment_phase_duration_seconds_bucket{phase=\"build\",le=\"2.5\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE slipway_queue_depth gauge"), "{text}");
    }
}
