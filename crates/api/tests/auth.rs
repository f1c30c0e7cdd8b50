//! Authentication and tenant isolation, checked against every route the OpenAPI
//! document lists, so that a route added later is covered without editing this file.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, Reply, user_with_token};

fn api(pool: PgPool) -> ApiClient {
    let mut config = Config::for_tests("unused", "slipway-test-auth", std::env::temp_dir());
    // These tests probe every route several times with one token; rate limits are
    // tested on their own (tests/limits.rs).
    config.rate_limit = 0;
    ApiClient::new(router(AppState::new(pool, config)))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// (method, path template, public) for every documented operation.
fn operations() -> Vec<(String, String, bool)> {
    let doc = serde_json::to_value(slipway_api::openapi_document()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // `security: [{}]` marks a route that needs no token.
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            out.push((method.to_uppercase(), path.clone(), public));
        }
    }
    out
}

/// A body each write route accepts, so that it reaches the app lookup.
fn body_for(method: &str, path: &str) -> Option<Value> {
    let body = if path.ends_with("/processes") {
        json!({"web": 1})
    } else if path.ends_with("/config") {
        json!({"GREETING": "hi"})
    } else {
        json!({})
    };
    matches!(method, "POST" | "PUT" | "PATCH").then_some(body)
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn every_api_route_but_the_public_ones_needs_a_live_token(pool: PgPool) {
    let app = api(pool.clone());
    let (_, token) = user_with_token(&pool, false).await;
    let revoked = {
        let (_, t) = user_with_token(&pool, false).await;
        let reply = app
            .call_with(
                "DELETE",
                &format!("/api/v1/tokens/{}", &t[..12]),
                Some(("authorization", &bearer(&t))),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
        t
    };
    let expired = {
        let (_, t) = user_with_token(&pool, false).await;
        expire(&pool, &t, chrono::Utc::now() - chrono::Duration::seconds(1)).await;
        t
    };
    let mut checked = 0;
    for (method, path, public) in operations() {
        let uri = path
            .replace("{app}", "some-app")
            .replace("{id}", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
            .replace("{token}", "slw_00000000")
            .replace("{file}", "dashboard.js");
        if !path.starts_with("/api/v1/") {
            continue;
        }
        assert!(!public, "{method} {path} is public but under /api/v1");
        let bad = [
            None,
            Some(("authorization", "Bearer slw_not_a_token".to_owned())),
            Some(("authorization", "Basic dXNlcjpwYXNz".to_owned())),
            Some(("authorization", bearer(&revoked))),
            Some(("authorization", bearer(&expired))),
            Some(("cookie", "slipway_token=slw_not_a_token".to_owned())),
            Some(("cookie", format!("slipway_token={expired}"))),
        ];
        for auth in bad {
            let auth_ref = auth.as_ref().map(|(n, v)| (*n, v.as_str()));
            let reply = app
                .call_with(&method, &uri, auth_ref, body_for(&method, &path))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {auth:?}: {}",
                reply.text
            );
            assert_eq!(
                reply.json["error"]["code"], "unauthorized",
                "{}",
                reply.text
            );
            assert!(
                reply.headers.contains_key(header::WWW_AUTHENTICATE),
                "{method} {uri}: no WWW-Authenticate"
            );
        }
        // The same request with a live token gets past authentication.
        let ok = app
            .call_with(
                &method,
                &uri,
                Some(("authorization", &bearer(&token))),
                body_for(&method, &path),
            )
            .await;
        assert_ne!(
            ok.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri}: {}",
            ok.text
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} API operations checked");

    // The public routes answer without a token.
    for uri in [
        "/health",
        "/ready",
        "/metrics",
        "/api/v1/openapi.json",
        "/login",
    ] {
        let reply = app.call_with("GET", uri, None, None).await;
        assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    // The dashboard sends an unknown visitor to sign in.
    let reply = app.call_with("GET", "/", None, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "/login");
}

/// User B probes user A's app and deployment through every route that names one: each
/// answer is a 404, exactly as for a name that does not exist, never a 403 or a success.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn another_users_apps_and_deployments_do_not_exist_for_them(pool: PgPool) {
    let app = api(pool.clone());
    let (_, alice) = user_with_token(&pool, false).await;
    let (_, bob) = user_with_token(&pool, false).await;
    let (_, admin) = user_with_token(&pool, true).await;
    let alice_auth = bearer(&alice);
    let as_alice = Some(("authorization", alice_auth.as_str()));
    let bob_auth = bearer(&bob);
    let as_bob = Some(("authorization", bob_auth.as_str()));

    let created = app
        .call_with(
            "POST",
            "/api/v1/apps",
            as_alice,
            Some(json!({"name": "alices-app", "repo_url": "https://example.com/a/b.git"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let deployment = created.json["deployment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let app_id = created.json["id"].as_str().unwrap().to_owned();

    let mut probed = 0;
    for (method, path, _) in operations() {
        let names_app = path.contains("{app}");
        let names_deployment = path.contains("{id}");
        if !names_app && !names_deployment {
            continue;
        }
        // By name and by id: both must stay hidden.
        for app_ref in ["alices-app", app_id.as_str()] {
            let uri = path.replace("{app}", app_ref).replace("{id}", &deployment);
            let theirs = app
                .call_with(&method, &uri, as_bob, body_for(&method, &path))
                .await;
            let missing_uri = path
                .replace("{app}", "no-such-app")
                .replace("{id}", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
            let missing = app
                .call_with(&method, &missing_uri, as_bob, body_for(&method, &path))
                .await;
            assert_eq!(
                theirs.status,
                StatusCode::NOT_FOUND,
                "{method} {uri} as another user: {}",
                theirs.text
            );
            assert_eq!(
                missing.status,
                StatusCode::NOT_FOUND,
                "{method} {missing_uri}"
            );
            if path.starts_with("/api/v1/") {
                assert_eq!(
                    theirs.json["error"]["code"], missing.json["error"]["code"],
                    "{method} {uri}: the answer must not tell an existing app apart"
                );
            }
            probed += 1;
        }
    }
    assert!(probed >= 14, "only {probed} probes");

    // Bob's list is empty; Alice still has her app, untouched by Bob's attempts.
    let bobs = app.call_with("GET", "/api/v1/apps", as_bob, None).await;
    assert_eq!(bobs.json, json!({"apps": [], "next_cursor": null}));
    let alices = app
        .call_with("GET", "/api/v1/apps/alices-app", as_alice, None)
        .await;
    assert_eq!(alices.status, StatusCode::OK, "{}", alices.text);
    let d = app
        .call_with(
            "GET",
            &format!("/api/v1/deployments/{deployment}"),
            as_alice,
            None,
        )
        .await;
    assert_eq!(
        d.json["status"], "pending",
        "Bob's cancel must not have reached it"
    );
    // An admin sees every app.
    let all = app
        .call_with(
            "GET",
            "/api/v1/apps",
            Some(("authorization", &bearer(&admin))),
            None,
        )
        .await;
    assert_eq!(all.json["apps"][0]["name"], "alices-app", "{}", all.text);
    // Bob's own app with the same name cannot exist (names are subdomains): a 409.
    let clash = app
        .call_with(
            "POST",
            "/api/v1/apps",
            as_bob,
            Some(json!({"name": "alices-app", "repo_url": "https://example.com/c/d.git"})),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn tokens_are_shown_once_listed_by_prefix_and_revoked(pool: PgPool) {
    let app = api(pool.clone());
    let (user, first) = user_with_token(&pool, false).await;
    let auth = bearer(&first);
    let me = app
        .call_with("GET", "/api/v1/me", Some(("authorization", &auth)), None)
        .await;
    assert_eq!(me.json["name"], user.name.as_str());
    assert_eq!(me.json["is_admin"], false);

    let created = app
        .call_with(
            "POST",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            Some(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let second = created.json["token"].as_str().unwrap().to_owned();
    assert!(second.starts_with("slw_") && second.len() > 50, "{second}");
    assert_eq!(created.json["prefix"], &second[..12]);

    let list = app
        .call_with(
            "GET",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            None,
        )
        .await;
    assert_eq!(
        list.json["tokens"].as_array().unwrap().len(),
        2,
        "{}",
        list.text
    );
    assert!(!list.text.contains(&second) && !list.text.contains(&first));
    assert_eq!(list.json["tokens"][0]["name"], "ci");

    let invalid = app
        .call_with(
            "POST",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.json["error"]["field"], "name");

    // The second token revokes the first by prefix; the first stops working at once.
    let revoke = app
        .call_with(
            "DELETE",
            &format!("/api/v1/tokens/{}", &first[..12]),
            Some(("authorization", &bearer(&second))),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT, "{}", revoke.text);
    let gone = app
        .call_with("GET", "/api/v1/me", Some(("authorization", &auth)), None)
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    // Another user's token cannot be revoked (or even seen) by prefix.
    let (_, other) = user_with_token(&pool, false).await;
    let foreign = app
        .call_with(
            "DELETE",
            &format!("/api/v1/tokens/{}", &other[..12]),
            Some(("authorization", &bearer(&second))),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let still = app
        .call_with(
            "GET",
            "/api/v1/me",
            Some(("authorization", &bearer(&other))),
            None,
        )
        .await;
    assert_eq!(still.status, StatusCode::OK);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn only_admins_manage_users(pool: PgPool) {
    let app = api(pool.clone());
    let (_, admin) = user_with_token(&pool, true).await;
    let (_, plain) = user_with_token(&pool, false).await;
    let as_admin = bearer(&admin);
    let as_plain = bearer(&plain);

    let denied = app
        .call_with(
            "POST",
            "/api/v1/users",
            Some(("authorization", &as_plain)),
            Some(json!({"name": "mallory", "admin": true})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    let denied = app
        .call_with(
            "GET",
            "/api/v1/users",
            Some(("authorization", &as_plain)),
            None,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let created = app
        .call_with(
            "POST",
            "/api/v1/users",
            Some(("authorization", &as_admin)),
            Some(json!({"name": "carol"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["user"]["is_admin"], false);
    let carol = created.json["token"]["token"].as_str().unwrap();
    let me = app
        .call_with(
            "GET",
            "/api/v1/me",
            Some(("authorization", &bearer(carol))),
            None,
        )
        .await;
    assert_eq!(me.json["name"], "carol");

    let again = app
        .call_with(
            "POST",
            "/api/v1/users",
            Some(("authorization", &as_admin)),
            Some(json!({"name": "carol"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = app
        .call_with(
            "POST",
            "/api/v1/users",
            Some(("authorization", &as_admin)),
            Some(json!({"name": "Carol Smith"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json["error"]["field"], "name");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_dashboard_session_cookie_is_httponly_and_works_for_the_api(pool: PgPool) {
    let app = api(pool.clone());
    let (_, token) = user_with_token(&pool, false).await;
    let request = Request::builder()
        .method("POST")
        .uri("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let cookie = response.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let pair = cookie.split(';').next().unwrap();
    let apps = app
        .call_with("GET", "/api/v1/apps", Some(("cookie", pair)), None)
        .await;
    assert_eq!(apps.status, StatusCode::OK, "{}", apps.text);
    let page = app
        .call_with("GET", "/", Some(("cookie", pair)), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);

    let wrong = Request::builder()
        .method("POST")
        .uri("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("token=slw_wrong"))
        .unwrap();
    let response = app.send(wrong).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert!(!response.headers.contains_key(header::SET_COOKIE));
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_configured_admin_token_replaces_the_one_before_it(pool: PgPool) {
    use slipway_core::token;
    use slipway_store::users;
    let app = api(pool.clone());
    let me = |t: String| {
        let app = app.clone();
        async move {
            app.call_with(
                "GET",
                "/api/v1/me",
                Some(("authorization", &bearer(&t))),
                None,
            )
            .await
            .status
        }
    };
    let one = "a".repeat(40);
    let two = "b".repeat(40);
    users::sync_admin_token(&pool, "admin", Some(&token::from_text(one.clone())))
        .await
        .unwrap();
    assert_eq!(me(one.clone()).await, StatusCode::OK);
    // A restart with the same token changes nothing.
    users::sync_admin_token(&pool, "admin", Some(&token::from_text(one.clone())))
        .await
        .unwrap();
    assert_eq!(me(one.clone()).await, StatusCode::OK);
    users::sync_admin_token(&pool, "admin", Some(&token::from_text(two.clone())))
        .await
        .unwrap();
    assert_eq!(me(one.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(two.clone()).await, StatusCode::OK);
    users::sync_admin_token(&pool, "admin", None).await.unwrap();
    assert_eq!(me(two).await, StatusCode::UNAUTHORIZED);
}

/// Sets a token's expiry directly, as if its lifetime had run out.
async fn expire(pool: &PgPool, token: &str, at: chrono::DateTime<chrono::Utc>) {
    let done = sqlx::query("UPDATE api_tokens SET expires_at = $2 WHERE hash = $1")
        .bind(slipway_core::token::hash(token))
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

async fn sign_in(app: &ApiClient, token: &str) -> Reply {
    let request = Request::builder()
        .method("POST")
        .uri("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    app.send(request).await
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_token_made_with_expires_in_expires_then(pool: PgPool) {
    use chrono::{DateTime, Duration, Utc};
    let app = api(pool.clone());
    let (_, first) = user_with_token(&pool, false).await;
    let auth = bearer(&first);

    let before = Utc::now();
    let created = app
        .call_with(
            "POST",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            Some(json!({"name": "short", "expires_in": "2h"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let expires_at: DateTime<Utc> = created.json["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after = Utc::now();
    // The database's clock set it; allow it a little skew against the test's.
    let slack = Duration::seconds(30);
    assert!(
        expires_at > before + Duration::hours(2) - slack
            && expires_at < after + Duration::hours(2) + slack,
        "expires_at {expires_at}, created between {before} and {after}"
    );
    let short = created.json["token"].as_str().unwrap().to_owned();

    let list = app
        .call_with(
            "GET",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            None,
        )
        .await;
    let tokens = list.json["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{}", list.text);
    assert_eq!(tokens[0]["name"], "short");
    assert_eq!(tokens[0]["expires_at"], created.json["expires_at"]);
    // A token made without expires_in never expires: the field is there, and null.
    assert_eq!(
        tokens[1].get("expires_at"),
        Some(&Value::Null),
        "{}",
        list.text
    );

    // Not yet expired: it works, for the API and for signing in to the dashboard, whose
    // cookie lasts no longer than the token.
    let me = app
        .call_with(
            "GET",
            "/api/v1/me",
            Some(("authorization", &bearer(&short))),
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let signed_in = sign_in(&app, &short).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let cookie = signed_in.headers[header::SET_COOKIE].to_str().unwrap();
    let max_age: i64 = cookie
        .split("; ")
        .find_map(|p| p.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (2 * 3600 - 60..=2 * 3600).contains(&max_age),
        "cut to the token's 2h: {cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    // Without an expiry the cookie keeps its 30 days.
    let forever = sign_in(&app, &first).await;
    let cookie = forever.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("Max-Age=2592000"), "{cookie}");

    // Its time runs out.
    expire(&pool, &short, Utc::now() - Duration::minutes(5)).await;
    for (name, value) in [("authorization", bearer(&short)), ("cookie", pair.clone())] {
        let refused = app
            .call_with("GET", "/api/v1/apps", Some((name, &value)), None)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            refused.text
        );
        assert_eq!(refused.json["error"]["code"], "unauthorized");
        let message = refused.json["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("the token expired at ") && message.contains("create a new one"),
            "{message}"
        );
        let challenge = refused.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"slipway\", error=\"invalid_token\"")
                && challenge.contains("error_description=\"the token expired at "),
            "{challenge}"
        );
    }
    // A write with an Idempotency-Key is refused the same way, not remembered.
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/tokens")
        .header("authorization", bearer(&short))
        .header("idempotency-key", "expired-1")
        .body(Body::from("{}"))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);

    // The dashboard sends its cookie's holder to sign in again, and will not take it.
    let page = app
        .call_with("GET", "/", Some(("cookie", &pair)), None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/login");
    let again = sign_in(&app, &short).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(!again.headers.contains_key(header::SET_COOKIE));
    assert!(
        again.text.contains("That token has expired."),
        "the sign-in page says why"
    );

    // The token that never expires works on; the expired one stays listed, marked by its
    // past expires_at, until revoked.
    let list = app
        .call_with(
            "GET",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.json["tokens"].as_array().unwrap().len(), 2);
    let revoke = app
        .call_with(
            "DELETE",
            &format!("/api/v1/tokens/{}", &short[..12]),
            Some(("authorization", &auth)),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT, "{}", revoke.text);
    // Revoked, it is refused as any unknown token is.
    let gone = app
        .call_with(
            "GET",
            "/api/v1/me",
            Some(("authorization", &bearer(&short))),
            None,
        )
        .await;
    assert_eq!(
        gone.json["error"]["message"],
        "the token is invalid or has been revoked"
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn expires_in_must_be_a_duration_from_a_minute_to_a_year(pool: PgPool) {
    // Documented: the request takes it and the token views show its result.
    let doc = serde_json::to_value(slipway_api::openapi_document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CreateToken"]["properties"]["expires_in"]["example"], "30d",
        "{}",
        schemas["CreateToken"]
    );
    assert!(
        schemas["TokenView"]["properties"]["expires_at"].is_object(),
        "{}",
        schemas["TokenView"]
    );
    let app = api(pool.clone());
    let (_, token) = user_with_token(&pool, false).await;
    let auth = bearer(&token);
    for bad in [
        json!("soon"),
        json!(""),
        json!("30"),
        json!("30s"),
        json!("366d"),
        json!("-1h"),
        json!(3600),
    ] {
        let reply = app
            .call_with(
                "POST",
                "/api/v1/tokens",
                Some(("authorization", &auth)),
                Some(json!({"name": "x", "expires_in": bad})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.text
        );
        assert_eq!(
            reply.json["error"]["field"], "expires_in",
            "{bad}: {}",
            reply.text
        );
    }
    // Nothing was created by the refused requests.
    let list = app
        .call_with(
            "GET",
            "/api/v1/tokens",
            Some(("authorization", &auth)),
            None,
        )
        .await;
    assert_eq!(list.json["tokens"].as_array().unwrap().len(), 1);
    // The bounds themselves are allowed, and null means never.
    for good in [json!("1m"), json!("365d"), json!("90m"), Value::Null] {
        let reply = app
            .call_with(
                "POST",
                "/api/v1/tokens",
                Some(("authorization", &auth)),
                Some(json!({"expires_in": good})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{good}: {}", reply.text);
        assert_eq!(
            reply.json["expires_at"].is_null(),
            good.is_null(),
            "{good}: {}",
            reply.text
        );
    }
}
