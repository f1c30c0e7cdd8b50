//! slipway-api has no access to the Docker Engine (DOCKER_HOST points nowhere) and still
//! reports ready, and serves and follows runtime logs, while a worker is alive: the
//! worker's heartbeat and its internal server stand in for the runtime. Once the last
//! worker stops, the API reports not ready. A real API process, a real worker on the real
//! Docker Engine.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use slipway_harness::{app_name, config, start_worker};
use slipway_store::PgPool;
use slipway_testkit::{TestRepo, web_app_files_with_spec};
use support::{ADMIN_TOKEN, RunningApi};

/// Prints a numbered line every second, so that a follower sees lines written after it
/// started.
const TICKING_WEB: &str = r#"
[processes.web]
command = ["/bin/busybox", "sh", "-c", "(i=0; while true; do i=$((i+1)); echo tick-$i; /bin/busybox sleep 1; done) & exec /bin/busybox httpd -f -p 80 -h /www"]
"#;

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `tick-N` numbers in `text`, in order.
fn ticks(text: &str) -> Vec<u64> {
    text.split("tick-")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_api_without_docker_is_ready_and_serves_runtime_logs_through_a_worker(pool: PgPool) {
    // No SLIPWAY_INTERNAL_TOKEN anywhere (as in a fresh `docker compose up`): the worker
    // settles on the installation's generated token, as slipway-worker's main does, and
    // the API process finds the same one in the database.
    let mut config = config();
    config.internal_token = None;
    slipway_service::settle_internal_token(&mut config, &pool)
        .await
        .unwrap();
    let worker = start_worker(pool.clone(), &config, "no-docker-test").await;
    let api = RunningApi::start_with(
        &slipway_testkit::database_url_of(&pool).await,
        &[
            ("DOCKER_HOST", "tcp://127.0.0.1:1"),
            ("SLIPWAY_ALLOW_LOCAL_REPOS", "true"),
            ("SLIPWAY_LEASE_DURATION", "10s"),
        ],
    )
    .await;
    let base = api.base.clone();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let ready = get(&format!("{base}/ready")).await;
        if ready.0 == 200 || tokio::time::Instant::now() > deadline {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert_eq!(ready.1["checks"]["database"], "ok", "{}", ready.1);
    let workers = ready.1["checks"]["workers"].as_str().unwrap();
    assert!(workers.starts_with("ok: 1 worker seen"), "{}", ready.1);

    let repo = TestRepo::with_files(web_app_files_with_spec("ticks", Some(TICKING_WEB)));
    let name = app_name();
    let created = reqwest::Client::new()
        .post(format!("{base}/api/v1/apps"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": name, "repo_url": repo.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["deployment"]["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let d = get(&format!("{base}/api/v1/deployments/{id}")).await.1;
        if d["status"] == "running" {
            break;
        }
        assert!(d["status"] != "failed", "{d}");
        assert!(tokio::time::Instant::now() < deadline, "{d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let logs = format!("{base}/api/v1/apps/{name}/logs");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let shown = get(&logs).await;
        assert_eq!(shown.0, 200, "{}", shown.1);
        if !ticks(&shown.1.to_string()).is_empty() || tokio::time::Instant::now() > deadline {
            break shown.1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(shown["deployment_id"], id.as_str(), "{shown}");
    let line = &shown["lines"][0];
    assert_eq!(line["process"], "web", "{shown}");
    assert_eq!(line["stream"], "stdout", "{shown}");
    assert!(
        line["line"].as_str().unwrap().starts_with("tick-"),
        "{shown}"
    );

    // Following: the last line written so far, then lines written after the request.
    let mut followed = reqwest::Client::new()
        .get(format!("{logs}?follow=true&tail=1"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status().as_u16(), 200);
    assert!(
        followed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut seen = String::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = followed.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if ticks(&seen).len() >= 3 {
                return;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "fewer than 3 followed lines within 20s: {seen}"
    );
    assert!(seen.contains("event: line"), "{seen}");
    let numbers = ticks(&seen);
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive new lines: {seen}"
    );
    drop(followed);

    let deleted = reqwest::Client::new()
        .delete(format!("{base}/api/v1/apps/{name}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    worker.shut_down(&name, &config).await;

    // The worker removed its heartbeat on the way out: not ready at once.
    let after = get(&format!("{base}/ready")).await;
    assert_eq!(after.0, 503, "{}", after.1);
    assert_eq!(after.1["checks"]["database"], "ok", "{}", after.1);
    assert_eq!(
        after.1["checks"]["workers"], "no worker seen in the last 20s",
        "{}",
        after.1
    );
}
