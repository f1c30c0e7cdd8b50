//! SIGTERM to slipway-api: it stops promptly and cleanly even while a client follows a
//! deployment log that will never end (no worker runs here), and the stream is closed
//! rather than cut, so the client can reconnect elsewhere.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slipway_testkit::database_url_of;
use sqlx::PgPool;

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn sigterm_ends_open_log_streams_and_the_api_exits(pool: PgPool) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "fedcba9876543210".repeat(4);
    let mut api = Command::new(env!("CARGO_BIN_EXE_slipway-api"))
        .env_clear()
        .env("DATABASE_URL", database_url_of(&pool).await)
        .env("PORT", port.to_string())
        .env("SLIPWAY_ADMIN_TOKEN", &token)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the API never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/apps"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "drained", "repo_url": "https://example.com/a/b.git"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["deployment"]["id"].as_str().unwrap().to_owned();
    let mut follow = http
        .get(format!("{base}/api/v1/deployments/{id}/logs?follow=true"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 200);

    let asked = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &api.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // The stream ends (a clean end of body, not a reset), then the process exits.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = follow.chunk().await {}
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = api.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = api.kill();
            panic!("slipway-api still running 15 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(ended.is_ok(), "the log stream stayed open after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "took {:?}: the open stream held up the shutdown",
        asked.elapsed()
    );
}
