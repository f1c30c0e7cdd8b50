//! Postgres restarted under a running slipway-api: requests fail with a JSON 503 while it
//! is down, and once it is back the API answers again on its own, with nothing lost.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use slipway_testkit::PrivatePostgres;
use support::{ADMIN_TOKEN, RunningApi};

async fn call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => panic!("{url}: no answer at all: {e}"),
    }
}

#[tokio::test]
async fn the_api_answers_503_while_postgres_is_down_and_recovers_alone() {
    let pg = PrivatePostgres::start();
    let mut api = RunningApi::start(&pg.url()).await;
    let (base, token) = (api.base.clone(), ADMIN_TOKEN);
    let apps = format!("{base}/api/v1/apps");
    let created = call(
        reqwest::Method::POST,
        &apps,
        token,
        Some(json!({"name": "before", "repo_url": "https://example.com/a/b.git"})),
    )
    .await;
    assert_eq!(created.0, 201, "{}", created.1);

    pg.pause();
    let down = call(reqwest::Method::GET, &apps, token, None).await;
    let ready = reqwest::get(format!("{base}/ready")).await.unwrap();
    let ready_status = ready.status().as_u16();
    let ready_body: Value = ready.json().await.unwrap_or(Value::Null);
    let alive = api.alive();

    pg.resume();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let answer = call(reqwest::Method::GET, &apps, token, None).await;
        if answer.0 == 200 {
            break answer.1;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} 30 s after Postgres came back: {}",
            answer.0,
            answer.1
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after = call(
        reqwest::Method::POST,
        &apps,
        token,
        Some(json!({"name": "after", "repo_url": "https://example.com/a/b.git"})),
    )
    .await;
    drop(api);

    assert!(alive, "the API exited when Postgres went away");
    assert_eq!(down.0, 503, "while Postgres is down: {}", down.1);
    assert_eq!(down.1["error"]["code"], "unavailable", "{}", down.1);
    assert_eq!(ready_status, 503, "{ready_body}");
    assert_ne!(ready_body["checks"]["database"], "ok", "{ready_body}");
    assert_eq!(listed["apps"][0]["name"], "before", "{listed}");
    assert_eq!(after.0, 201, "{}", after.1);
}
