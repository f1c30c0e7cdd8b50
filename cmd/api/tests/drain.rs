//! SIGTERM to slipway-api: it stops promptly and cleanly even while a client follows a
//! deployment log that will never end (no worker runs here), and the stream is closed
//! rather than cut, so the client can reconnect elsewhere.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use slipway_testkit::database_url_of;
use sqlx::PgPool;
use support::{ADMIN_TOKEN, RunningApi};

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn sigterm_ends_open_log_streams_and_the_api_exits(pool: PgPool) {
    let mut api = RunningApi::start(&database_url_of(&pool).await).await;
    let (base, token) = (api.base.clone(), ADMIN_TOKEN);
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/apps"))
        .bearer_auth(token)
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
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 200);

    let asked = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &api.pid()])
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
        if let Some(status) = api.process.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "slipway-api still running 15 s after SIGTERM"
        );
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
