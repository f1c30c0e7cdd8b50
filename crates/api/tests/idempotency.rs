//! A POST sent twice with the same Idempotency-Key (or X-Request-ID) creates one thing
//! and gets the same answer twice; the same key for a different request is a 422.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use axum::http::{StatusCode, header};
use serde_json::json;
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, user_with_token};

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_repeated_post_with_the_same_key_creates_nothing_new(pool: PgPool) {
    let config = Config::for_tests("unused", "slipway-test-idem", std::env::temp_dir());
    let app = router(AppState::new(pool.clone(), config));
    let (_, token) = user_with_token(&pool, false).await;
    let (_, other) = user_with_token(&pool, false).await;
    let mine = ApiClient::with_token(app.clone(), &token);
    let theirs = ApiClient::with_token(app, &other);
    let body = json!({"name": "once", "repo_url": "https://example.com/a/b.git"});
    let key = Some(("Idempotency-Key", "create-once-1"));

    let first = mine
        .call_with("POST", "/api/v1/apps", key, Some(body.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let again = mine
        .call_with("POST", "/api/v1/apps", key, Some(body.clone()))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
    assert_eq!(again.json, first.json, "the first answer, again");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        again.headers[header::LOCATION],
        first.headers[header::LOCATION]
    );
    assert_eq!(count(&pool, "apps").await, 1);
    assert_eq!(count(&pool, "deployments").await, 1);

    // The same key with another body is refused, naming the header.
    let changed = json!({"name": "twice", "repo_url": "https://example.com/a/b.git"});
    let mismatch = mine
        .call_with("POST", "/api/v1/apps", key, Some(changed))
        .await;
    assert_eq!(
        mismatch.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        mismatch.json
    );
    assert_eq!(mismatch.json["error"]["field"], "idempotency-key");
    assert_eq!(count(&pool, "apps").await, 1);

    // X-Request-ID works the same; a deployment is queued once.
    let deploy = Some(("X-Request-ID", "deploy-7"));
    let d1 = mine
        .call_with(
            "POST",
            "/api/v1/apps/once/deployments",
            deploy,
            Some(json!({})),
        )
        .await;
    let d2 = mine
        .call_with(
            "POST",
            "/api/v1/apps/once/deployments",
            deploy,
            Some(json!({})),
        )
        .await;
    assert_eq!(d1.status, StatusCode::CREATED, "{}", d1.json);
    assert_eq!(d1.json["id"], d2.json["id"]);
    assert_eq!(count(&pool, "deployments").await, 2);

    // Keys are per user: another user's identical key is theirs alone (and their
    // request is answered for them: this app name is taken, a 409).
    let theirs = theirs
        .call_with("POST", "/api/v1/apps", key, Some(body.clone()))
        .await;
    assert_eq!(theirs.status, StatusCode::CONFLICT, "{}", theirs.json);
    assert!(!theirs.headers.contains_key("idempotent-replayed"));

    // After 24 hours the key is forgotten and the request is answered afresh.
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        .execute(&pool)
        .await
        .unwrap();
    let d3 = mine
        .call_with(
            "POST",
            "/api/v1/apps/once/deployments",
            deploy,
            Some(json!({})),
        )
        .await;
    assert_eq!(d3.status, StatusCode::CREATED);
    assert_ne!(d3.json["id"], d1.json["id"]);

    // Without a key nothing is remembered; a malformed key is a 422 naming the header.
    let bad = mine
        .call_with(
            "POST",
            "/api/v1/apps/once/deployments",
            Some(("Idempotency-Key", "has spaces in it")),
            Some(json!({})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json["error"]["field"], "idempotency-key");
}
