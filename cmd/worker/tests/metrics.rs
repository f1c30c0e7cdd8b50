//! slipway-worker serves Prometheus metrics on SLIPWAY_WORKER_METRICS_PORT.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::PgPool;

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_worker_serves_metrics(pool: PgPool) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let work = std::env::temp_dir().join(format!("slipway-metrics-{port}"));
    let network = format!("slipway-test-{port:x}");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_slipway-worker"))
        .env_clear()
        .env(
            "DATABASE_URL",
            slipway_testkit::database_url_of(&pool).await,
        )
        .env("SLIPWAY_WORKER_METRICS_PORT", port.to_string())
        .env("SLIPWAY_NETWORK", &network)
        .env("SLIPWAY_WORK_DIR", &work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut body = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            body = Some((response.headers().clone(), response.text().await.unwrap()));
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
    let (headers, text) = body.expect("the worker served /metrics within 10s");
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
