//! Every list that grows is paged alike (`?limit=`, `?cursor=`, `next_cursor`), newest
//! first, and stays exact while rows are added: checked on a real Postgres.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use axum::http::StatusCode;
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::ApiClient;

async fn api(pool: &PgPool) -> ApiClient {
    let mut config = Config::for_tests("unused", "slipway-test-paging", std::env::temp_dir());
    // These tests make a few hundred requests in a second, as no client should.
    config.rate_limit = 0;
    ApiClient::as_admin(pool, router(AppState::new(pool.clone(), config))).await
}

/// Follows `next_cursor` from the first page to the last; returns each page's ids.
async fn walk(api: &ApiClient, path: &str, list: &str, limit: u32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = next_page(api, path, list, limit, cursor.as_deref()).await;
        pages.push(page.0);
        match page.1 {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 100, "the walk does not end: {pages:?}");
    }
}

async fn next_page(
    api: &ApiClient,
    path: &str,
    list: &str,
    limit: u32,
    cursor: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let uri = match cursor {
        Some(c) => format!("{path}?limit={limit}&cursor={c}"),
        None => format!("{path}?limit={limit}"),
    };
    let got = api.get(&uri).await;
    assert_eq!(got.status, StatusCode::OK, "{uri}: {}", got.text);
    let ids = got.json[list]
        .as_array()
        .unwrap_or_else(|| panic!("{uri}: no {list}: {}", got.text))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    let next = match &got.json["next_cursor"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => panic!("{uri}: next_cursor is {other}"),
    };
    (ids, next)
}

async fn create(api: &ApiClient, path: &str, body: Value) -> String {
    let got = api.post(path, body).await;
    assert_eq!(got.status, StatusCode::CREATED, "{path}: {}", got.text);
    got.json["id"]
        .as_str()
        .or(got.json["user"]["id"].as_str())
        .unwrap()
        .to_owned()
}

async fn create_app(api: &ApiClient, name: &str) -> String {
    let body = json!({"name": name, "repo_url": "https://example.com/a/b.git"});
    create(api, "/api/v1/apps", body).await
}

/// Pages of `limit`, all full but the last, hold `newest_first` exactly once, in order.
fn assert_walk(pages: &[Vec<String>], limit: usize, newest_first: &[String]) {
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    let (last, full) = sizes.split_last().unwrap();
    assert!(
        full.iter().all(|n| *n == limit) && *last <= limit,
        "{sizes:?}"
    );
    assert_eq!(pages.concat(), newest_first, "pages {pages:?}");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn every_list_walks_every_row_once_newest_first(pool: PgPool) {
    let api = api(&pool).await;

    let mut apps = Vec::new();
    for n in 0..7 {
        apps.push(create_app(&api, &format!("app-{n}")).await);
    }
    apps.reverse();
    assert_walk(&walk(&api, "/api/v1/apps", "apps", 3).await, 3, &apps);
    // A page that ends exactly at the last row says so: no empty page follows.
    assert_eq!(walk(&api, "/api/v1/apps", "apps", 7).await.len(), 1);

    let path = "/api/v1/apps/app-0/deployments";
    let mut deployments = walk(&api, path, "deployments", 10).await.concat();
    for _ in 0..4 {
        deployments.insert(0, create(&api, path, json!({})).await);
    }
    assert_walk(&walk(&api, path, "deployments", 2).await, 2, &deployments);

    let mut tokens = walk(&api, "/api/v1/tokens", "tokens", 10).await.concat();
    for n in 0..4 {
        let body = json!({"name": format!("t{n}")});
        tokens.insert(0, create(&api, "/api/v1/tokens", body).await);
    }
    assert_walk(&walk(&api, "/api/v1/tokens", "tokens", 2).await, 2, &tokens);

    let mut users = walk(&api, "/api/v1/users", "users", 10).await.concat();
    for n in 0..3 {
        let body = json!({"name": format!("user-{n}")});
        users.insert(0, create(&api, "/api/v1/users", body).await);
    }
    assert_walk(&walk(&api, "/api/v1/users", "users", 3).await, 3, &users);

    // Without ?limit a page holds 100.
    for n in 7..105 {
        create_app(&api, &format!("app-{n}")).await;
    }
    let first = api.get("/api/v1/apps").await;
    assert_eq!(first.json["apps"].as_array().unwrap().len(), 100);
    assert!(first.json["next_cursor"].is_string(), "{}", first.text);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn rows_added_while_walking_neither_repeat_nor_hide_older_rows(pool: PgPool) {
    let api = api(&pool).await;
    let mut older = Vec::new();
    for n in 0..5 {
        older.push(create_app(&api, &format!("old-{n}")).await);
    }
    older.reverse();
    // Rows of the same instant are told apart by id: give them all one created_at.
    sqlx::query("UPDATE apps SET created_at = '2026-12-01T00:00:00Z'")
        .execute(&pool)
        .await
        .unwrap();
    older.sort_by(|a, b| b.cmp(a));

    let (mut seen, mut cursor) = next_page(&api, "/api/v1/apps", "apps", 2, None).await;
    let mut newer = Vec::new();
    for n in 0..3 {
        newer.push(create_app(&api, &format!("new-{n}")).await);
    }
    while let Some(c) = cursor {
        let (ids, next) = next_page(&api, "/api/v1/apps", "apps", 2, Some(&c)).await;
        seen.extend(ids);
        cursor = next;
        // One more, halfway through.
        if seen.len() == 4 {
            newer.push(create_app(&api, "new-late").await);
        }
    }
    assert_eq!(seen, older, "the older rows, each once, in order");

    newer.reverse();
    let everything = walk(&api, "/api/v1/apps", "apps", 2).await.concat();
    assert_eq!(everything, [newer, older].concat());
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn bad_limits_cursors_and_parameters_are_422s_naming_them(pool: PgPool) {
    let api = api(&pool).await;
    create_app(&api, "one").await;
    let lists = [
        "/api/v1/apps",
        "/api/v1/apps/one/deployments",
        "/api/v1/tokens",
        "/api/v1/users",
    ];
    let cases = [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=AAAA", "cursor"),
        // The right length in the wrong alphabet.
        (
            "cursor=%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F",
            "cursor",
        ),
        ("limt=5", "limt"),
    ];
    for list in lists {
        for (query, field) in cases {
            let got = api.get(&format!("{list}?{query}")).await;
            assert_eq!(
                got.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{list}?{query}: {}",
                got.text
            );
            assert_eq!(got.json["error"]["field"], field, "{list}?{query}");
        }
        let most = api.get(&format!("{list}?limit=1000")).await;
        assert_eq!(most.status, StatusCode::OK, "{list}: {}", most.text);
        assert_eq!(most.json["next_cursor"], Value::Null, "{list}");
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_dashboard_pages_its_app_list_with_links(pool: PgPool) {
    let api = api(&pool).await;
    for n in 0..101 {
        create_app(&api, &format!("app-{n}")).await;
    }
    let first = api.get("/").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.text.contains("data-app=\"app-100\""), "newest first");
    assert!(!first.text.contains("data-app=\"app-0\""), "a page of 100");
    assert!(!first.text.contains("id=\"newer\""));
    let href = first
        .text
        .split("id=\"older\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no link to older apps: {}", first.text));
    let second = api.get(href).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert!(second.text.contains("data-app=\"app-0\""));
    assert!(!second.text.contains("data-app=\"app-1\""));
    assert!(second.text.contains("id=\"newer\"") && !second.text.contains("id=\"older\""));
    let bad = api.get("/?cursor=nonsense").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("cursor"), "{}", bad.text);
}
