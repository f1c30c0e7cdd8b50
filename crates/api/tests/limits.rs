//! Abuse limits: a per-token request rate (429 with Retry-After) and a per-request
//! time limit (503 in JSON), both through the real router and a real database.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, Reply, user_with_token};

fn api(pool: PgPool, tweak: impl FnOnce(&mut Config)) -> Router {
    let mut config = Config::for_tests("unused", "slipway-test-limits", std::env::temp_dir());
    tweak(&mut config);
    router(AppState::new(pool, config))
}

fn retry_after(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(pool: PgPool) {
    // 60 a minute: bursts of 20, then one a second.
    let app = api(pool.clone(), |c| c.rate_limit = 60);
    let (_, busy) = user_with_token(&pool, false).await;
    let (_, calm) = user_with_token(&pool, false).await;
    let busy = ApiClient::with_token(app.clone(), &busy);
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..30 {
        let reply = busy.get("/api/v1/apps").await;
        statuses.push(reply.status.as_u16());
        if reply.status == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some((retry_after(&reply), reply.json));
        }
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((20..30).contains(&ok), "{statuses:?}");
    let (retry, body) = limited.expect("the 30th request in a burst of 20 is refused");
    let seconds: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&seconds), "{seconds}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // Another token has its own allowance.
    let calm = ApiClient::with_token(app.clone(), &calm);
    assert_eq!(calm.get("/api/v1/apps").await.status, StatusCode::OK);
    // Health is not an API call and is never limited.
    assert_eq!(
        ApiClient::new(app).get("/health").await.status,
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
    let reply = ApiClient::with_token(app, &token).get("/api/v1/apps").await;
    let body = &reply.json;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert_eq!(retry_after(&reply).as_deref(), Some("1"));
}
