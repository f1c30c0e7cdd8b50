//! Signed callbacks: a real HTTP receiver on 127.0.0.1 sees each finished deployment,
//! signed with the app's webhook secret, and a retry after it answered 500.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::webhook::verify_prefixed;
use slipway_store::PgPool;
use slipway_testkit::ApiClient;
use tokio::sync::mpsc;

use crate::config;

struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A receiver that answers 500 to its first request and 204 after that.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/slipway",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let calls = calls.clone();
            async move {
                let _ = tx.send(Received { headers, body });
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/slipway"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    // A bound so that a broken loop fails the test instead of hanging it.
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("no callback arrived within 60 s")
        .expect("the receiver stopped")
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_finished_deployment_is_posted_signed_and_retried_after_a_500(pool: PgPool) {
    let (url, mut rx) = receiver().await;
    let mut config = config(true);
    config.callback_retry_base = Duration::from_millis(50);
    let state = AppState::new(pool.clone(), config);
    let api = ApiClient::as_admin(&pool, router(state.clone())).await;
    // Two instances' loops: each attempt still goes out once.
    let delivering = [
        tokio::spawn(slipway_api::callbacks::run(state.clone())),
        tokio::spawn(slipway_api::callbacks::run(state.clone())),
    ];

    let created = api
        .post(
            "/api/v1/apps",
            json!({"name": "hello", "repo_url": "https://github.com/Codertocat/Hello-World.git",
                   "callback_url": url}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let deployment_id = created.json["deployment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = api.get("/api/v1/apps/hello/webhook").await.json["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Cancelling it finishes it: that is the event.
    let cancelled = api
        .call(
            "POST",
            &format!("/api/v1/deployments/{deployment_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);

    let first = next(&mut rx).await;
    let retry = next(&mut rx).await;
    for got in [&first, &retry] {
        assert!(
            verify_prefixed(
                secret.as_bytes(),
                &got.body,
                header(got, "x-slipway-signature-256")
            ),
            "the signature verifies with the app's webhook secret"
        );
        assert_eq!(header(got, "x-slipway-event"), "deployment.finished");
        assert_eq!(header(got, "content-type"), "application/json");
    }
    assert_eq!(first.body, retry.body, "a retry sends the same bytes");
    assert_eq!(
        header(&first, "x-slipway-delivery"),
        header(&retry, "x-slipway-delivery")
    );
    let sent: Value = serde_json::from_slice(&first.body).unwrap();
    let shown = api
        .get(&format!("/api/v1/deployments/{deployment_id}"))
        .await;
    assert_eq!(
        sent, shown.json,
        "the body is the deployment as the API shows it"
    );
    assert_eq!(sent["status"], "cancelled");

    // The attempts are listed once the second is recorded.
    let callbacks = loop {
        let list = api.get("/api/v1/apps/hello/callbacks").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        if list.json["callbacks"][0]["status"] == "delivered" {
            break list.json;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let delivery = &callbacks["callbacks"][0];
    assert_eq!(delivery["id"], header(&first, "x-slipway-delivery"));
    assert_eq!(delivery["subject_id"], deployment_id.as_str());
    let statuses: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["http_status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(204)]);
    assert_eq!(callbacks["callbacks"].as_array().unwrap().len(), 1);
    assert!(callbacks["next_cursor"].is_null());

    state.shutdown.cancel();
    for loop_ in delivering {
        loop_.await.unwrap();
    }
    assert!(rx.try_recv().is_err(), "no attempt was sent twice");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_unreachable_receiver_is_recorded_and_an_app_without_callback_url_gets_none(
    pool: PgPool,
) {
    let mut config = config(true);
    config.callback_retry_base = Duration::from_millis(50);
    let state = AppState::new(pool.clone(), config);
    let api = ApiClient::as_admin(&pool, router(state.clone())).await;
    let delivering = tokio::spawn(slipway_api::callbacks::run(state.clone()));
    // A port nothing listens on: bound, then let go.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for (name, callback_url) in [
        ("hello", json!(format!("http://{closed}/x"))),
        ("quiet", json!(null)),
    ] {
        let created = api
            .post(
                "/api/v1/apps",
                json!({"name": name, "repo_url": "https://github.com/Codertocat/Hello-World.git",
                       "callback_url": callback_url}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.json["deployment"]["id"].as_str().unwrap();
        let cancelled = api
            .call("POST", &format!("/api/v1/deployments/{id}/cancel"), None)
            .await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    }
    let attempts = loop {
        let list = api.get("/api/v1/apps/hello/callbacks").await;
        let attempts = list.json["callbacks"][0]["attempts"].clone();
        if attempts.as_array().is_some_and(|a| a.len() >= 2) {
            break attempts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(attempts[0]["http_status"].is_null(), "{attempts}");
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("error"),
        "{attempts}"
    );
    let list = api.get("/api/v1/apps/hello/callbacks").await;
    assert_eq!(list.json["callbacks"][0]["status"], "pending");
    assert!(list.json["callbacks"][0]["last_error"].is_string());
    let quiet = api.get("/api/v1/apps/quiet/callbacks").await;
    assert_eq!(quiet.json["callbacks"], json!([]));
    state.shutdown.cancel();
    delivering.await.unwrap();
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_finished_test_run_is_posted_as_the_api_shows_it_and_its_carrier_is_not(pool: PgPool) {
    let (url, mut rx) = receiver().await;
    let mut config = config(true);
    config.callback_retry_base = Duration::from_millis(50);
    let state = AppState::new(pool.clone(), config);
    let api = ApiClient::as_admin(&pool, router(state.clone())).await;
    let delivering = tokio::spawn(slipway_api::callbacks::run(state.clone()));
    let created = api
        .post(
            "/api/v1/apps",
            json!({"name": "tested", "repo_url": "https://github.com/Codertocat/Hello-World.git",
                   "callback_url": url}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let run = api
        .post("/api/v1/apps/tested/test-runs", json!({"command": "true"}))
        .await;
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.text);
    let run_id = run.json["id"].as_str().unwrap().to_owned();
    let cancelled = api
        .call("POST", &format!("/api/v1/test-runs/{run_id}/cancel"), None)
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);

    let first = next(&mut rx).await;
    let retry = next(&mut rx).await;
    for got in [&first, &retry] {
        assert_eq!(header(got, "x-slipway-event"), "test_run.finished");
    }
    let sent: Value = serde_json::from_slice(&first.body).unwrap();
    let shown = api.get(&format!("/api/v1/test-runs/{run_id}")).await;
    assert_eq!(sent, shown.json, "the body is the run as the API shows it");
    assert_eq!(sent["status"], "cancelled");
    // The hidden deployment that carried the run finished too, but is not announced.
    let list = api.get("/api/v1/apps/tested/callbacks").await;
    let events: Vec<&Value> = list.json["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["event"])
        .collect();
    assert_eq!(events, [&json!("test_run.finished")], "{}", list.text);

    state.shutdown.cancel();
    delivering.await.unwrap();
}
