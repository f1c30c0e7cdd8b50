//! Abuse limits: a per-token request rate (429 with Retry-After) and a per-request
//! time limit (503 in JSON), both through the real router and a real database.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::user_with_token;
use tower::ServiceExt;

fn api(pool: PgPool, tweak: impl FnOnce(&mut Config)) -> Router {
    let mut config = Config::for_tests("unused", "slipway-test-limits", std::env::temp_dir());
    tweak(&mut config);
    router(AppState::new(pool, config))
}

async fn get(app: &Router, uri: &str, token: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(pool: PgPool) {
    // 60 a minute: bursts of 20, then one a second.
    let app = api(pool.clone(), |c| c.rate_limit = 60);
    let (_, busy) = user_with_token(&pool, false).await;
    let (_, calm) = user_with_token(&pool, false).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..30 {
        let (status, retry, body) = get(&app, "/api/v1/apps", &busy).await;
        statuses.push(status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some((retry, body));
        }
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((20..30).contains(&ok), "{statuses:?}");
    let (retry, body) = limited.expect("the 30th request in a burst of 20 is refused");
    let seconds: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&seconds), "{seconds}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // Another token has its own allowance.
    assert_eq!(get(&app, "/api/v1/apps", &calm).await.0, StatusCode::OK);
    // Health is not an API call and is never limited.
    let request = Request::builder()
        .uri("/health")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_request_over_the_time_limit_is_a_json_503(pool: PgPool) {
    // Shorter than any database round trip.
    let app = api(pool.clone(), |c| {
        c.request_timeout = Duration::from_nanos(1)
    });
    let (_, token) = user_with_token(&pool, false).await;
    let (status, retry, body) = get(&app, "/api/v1/apps", &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
}
