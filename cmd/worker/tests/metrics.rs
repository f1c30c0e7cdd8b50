//! slipway-worker serves Prometheus metrics on SLIPWAY_WORKER_METRICS_PORT, to anyone
//! but the apps.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sqlx::PgPool;

/// Starts a worker with `extra` settings, waits for its first answer on /metrics, stops
/// it: (status, headers, body).
async fn scrape(pool: &PgPool, extra: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let work = std::env::temp_dir().join(format!("slipway-metrics-{port}"));
    let network = format!("slipway-test-{port:x}");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_slipway-worker"))
        .env_clear()
        .env("DATABASE_URL", slipway_testkit::database_url_of(pool).await)
        .env("SLIPWAY_WORKER_METRICS_PORT", port.to_string())
        .env("SLIPWAY_NETWORK", &network)
        .env("SLIPWAY_WORK_DIR", &work)
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            let (status, headers) = (response.status(), response.headers().clone());
            answer = Some((status, headers, response.text().await.unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let _ = std::fs::remove_dir_all(&work);
    let _ = Command::new("docker")
        .args(["network", "rm", &network])
        .output();
    answer.expect("the worker answered on /metrics within 10s")
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_worker_serves_metrics(pool: PgPool) {
    let (status, headers, text) = scrape(&pool, &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(text.contains("# TYPE slipway_queue_depth gauge"), "{text}");
    assert!(text.contains("slipway_queue_depth 0"), "{text}");
    assert!(
        text.contains("# TYPE slipway_deployment_pickup_seconds histogram"),
        "{text}"
    );
}

/// The worker joins every app network, so an app could reach this port: peers in the
/// app networks' pool are refused. Loopback stands in for an app's address here.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn metrics_are_refused_to_addresses_of_app_networks(pool: PgPool) {
    let (status, _, text) = scrape(
        &pool,
        &[
            ("SLIPWAY_APP_SUBNETS", "127.0.0.0/8"),
            ("SLIPWAY_APP_SUBNET_SIZE", "24"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(!text.contains("slipway_"), "{text}");
}
