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

/// Postgres restarted (fast shutdown: connections terminated with SQLSTATE 57P01) under
/// steady writes: every answer is a 201 or a 503 `unavailable` that the client may retry,
/// never a 500, and every app answered with 201 exists afterwards.
#[tokio::test]
async fn writes_during_a_postgres_restart_get_201_or_503_never_500() {
    let pg = std::sync::Arc::new(PrivatePostgres::start());
    // No rate limit: the writers send far more than 600 requests a minute.
    let api = RunningApi::start_with(&pg.url(), &[("SLIPWAY_RATE_LIMIT", "0")]).await;
    let apps = format!("{}/api/v1/apps", api.base);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (apps, stop) = (apps.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let name = format!("w{writer}-{n}");
                    let body = json!({"name": name, "repo_url": "https://example.com/a/b.git"});
                    let (status, body) =
                        call(reqwest::Method::POST, &apps, ADMIN_TOKEN, Some(body)).await;
                    answers.push((name, status, body));
                }
                answers
            })
        })
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || {
            pg.pause();
            pg.resume();
        })
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answers = Vec::new();
    for writer in writers {
        answers.extend(writer.await.unwrap());
    }

    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, status, body)| {
            !(*status == 201 || *status == 503 && body["error"]["code"] == "unavailable")
        })
        .collect();
    assert!(
        failed.is_empty(),
        "answers other than 201 and 503: {failed:?}"
    );
    let unavailable = answers.iter().filter(|(_, s, _)| *s == 503).count();
    assert!(
        unavailable > 0,
        "no request met the restart ({} answers): the test proved nothing",
        answers.len()
    );
    // Every page of the list: the writers made more apps than one page holds.
    let mut names = std::collections::HashSet::new();
    let mut page = format!("{apps}?limit=1000");
    loop {
        let listed = call(reqwest::Method::GET, &page, ADMIN_TOKEN, None).await;
        assert_eq!(listed.0, 200, "{}", listed.1);
        names.extend(
            listed.1["apps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|a| a["name"].as_str().map(str::to_owned)),
        );
        match listed.1["next_cursor"].as_str() {
            Some(cursor) => page = format!("{apps}?limit=1000&cursor={cursor}"),
            None => break,
        }
    }
    for (name, status, _) in &answers {
        if *status == 201 {
            assert!(
                names.contains(name.as_str()),
                "{name} was answered 201 but is missing"
            );
        }
    }
}
