//! The OpenAPI document covers the API: every route is in it and every operation in it
//! reaches a real handler; every `$ref` resolves; the interactive docs need no internet.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::Value;
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, Reply};

/// The API as an admin's client sees it.
async fn api(pool: PgPool) -> ApiClient {
    let config = Config::for_tests("unused", "slipway-test-openapi", std::env::temp_dir());
    ApiClient::as_admin(&pool, router(AppState::new(pool.clone(), config))).await
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn every_documented_operation_reaches_a_handler(pool: PgPool) {
    let app = api(pool).await;
    let Reply { status, text, .. } = app.call("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/apps"),
        ("POST", "/api/v1/apps"),
        ("GET", "/api/v1/apps/{app}"),
        ("PATCH", "/api/v1/apps/{app}"),
        ("DELETE", "/api/v1/apps/{app}"),
        ("GET", "/api/v1/apps/{app}/webhook"),
        ("POST", "/api/v1/apps/{app}/webhook/rotate"),
        ("GET", "/api/v1/apps/{app}/callbacks"),
        ("POST", "/hooks/{provider}/{app}"),
        ("GET", "/api/v1/apps/{app}/deployments"),
        ("POST", "/api/v1/apps/{app}/deployments"),
        ("GET", "/api/v1/apps/{app}/config"),
        ("PUT", "/api/v1/apps/{app}/config"),
        ("PATCH", "/api/v1/apps/{app}/config"),
        ("GET", "/api/v1/apps/{app}/processes"),
        ("PATCH", "/api/v1/apps/{app}/processes"),
        ("POST", "/api/v1/apps/{app}/rollback"),
        ("GET", "/api/v1/apps/{app}/logs"),
        ("GET", "/api/v1/deployments/{id}"),
        ("GET", "/api/v1/deployments/{id}/logs"),
        ("POST", "/api/v1/deployments/{id}/cancel"),
        ("GET", "/api/v1/apps/{app}/test-runs"),
        ("POST", "/api/v1/apps/{app}/test-runs"),
        ("GET", "/api/v1/test-runs/{id}"),
        ("GET", "/api/v1/test-runs/{id}/logs"),
        ("POST", "/api/v1/test-runs/{id}/cancel"),
        ("GET", "/"),
        ("GET", "/apps/{app}"),
        ("GET", "/apps/{app}/live"),
        ("GET", "/assets/{file}"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/{token}"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/ws"),
        ("GET", "/git/{repo}/info/refs"),
        ("POST", "/git/{repo}/git-upload-pack"),
        ("POST", "/git/{repo}/git-receive-pack"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(operations, expected);
    // Each documented operation is served by a handler, not by the router's fallbacks
    // (which answer "no such route" / "method not allowed").
    for (method, path) in &operations {
        let uri = path
            .replace("{app}", "no-such-app")
            .replace("{id}", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
        let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH").then_some("{}");
        let Reply { status, text, .. } = app.call(method, &uri, body).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: {text}"
        );
        assert!(!text.contains("no such route"), "{method} {uri}: {text}");
    }
}

#[test]
fn routes_are_only_registered_through_the_documented_router() {
    // `OpenApiRouter::routes(routes!(handler))` puts a route and its operation in the
    // document together; a plain `.route(` would add an undocumented route.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains(".route(") && !text.contains(".nest("),
                    "{} registers a route outside the documented router",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn every_reference_resolves_and_every_operation_documents_success_and_errors() {
    let doc = serde_json::to_value(slipway_api::openapi_document()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "unresolved $ref {r}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if path.starts_with("/api/v1/") {
                for code in ["401", "429", "503"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
            }
            assert!(
                responses
                    .keys()
                    // A WebSocket's success is the protocol switch.
                    .any(|code| code.starts_with('2') || code.starts_with('3') || code == "101"),
                "{method} {path} documents no success"
            );
            for (code, response) in responses {
                let page = response["content"].get("text/html").is_some();
                let failure = code.starts_with('4') || code.starts_with('5');
                if page {
                    // The dashboard's pages fail as pages, readable in a browser.
                    assert_eq!(op["tags"][0], "dashboard", "{method} {path} {code}");
                } else if failure && op["tags"][0] == "git" {
                    // git shows a text/plain error body to its user; JSON it would not.
                    assert!(
                        response["content"].get("text/plain").is_some(),
                        "{method} {path} {code}"
                    );
                } else if code.starts_with('4') || code.starts_with('5') && path != "/ready" {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{method} {path} {code}"
                    );
                }
            }
            let body_of_write = matches!(method.as_str(), "post" | "put" | "patch")
                && !path.ends_with("/cancel")
                && !path.ends_with("/rotate")
                && path != "/logout";
            if body_of_write {
                assert!(
                    op.get("requestBody").is_some(),
                    "{method} {path} has no request body"
                );
            }
        }
    }
}

#[test]
fn every_list_documents_its_paging() {
    let doc = serde_json::to_value(slipway_api::openapi_document()).unwrap();
    let lists = [
        ("/api/v1/apps", "AppList"),
        ("/api/v1/apps/{app}/deployments", "DeploymentList"),
        ("/api/v1/tokens", "TokenList"),
        ("/api/v1/users", "UserList"),
    ];
    for (path, schema) in lists {
        let op = &doc["paths"][path]["get"];
        let params: Vec<(&str, &str)> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
            .collect();
        for name in ["limit", "cursor"] {
            assert!(params.contains(&(name, "query")), "{path}: {params:?}");
        }
        let limit = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(
            (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
            (&Value::from(1), &Value::from(1000)),
            "{path}: {limit}"
        );
        assert!(op["responses"].get("422").is_some(), "{path} lacks 422");
        let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(ok, &format!("#/components/schemas/{schema}"), "{path}");
        let next = &doc["components"]["schemas"][schema]["properties"]["next_cursor"];
        assert!(next.is_object(), "{schema} documents no next_cursor");
        assert!(
            doc["components"]["schemas"][schema]["required"]
                .as_array()
                .unwrap()
                .contains(&Value::from("next_cursor")),
            "{schema}: next_cursor is always there, null on the last page"
        );
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_interactive_docs_are_served_without_the_internet(pool: PgPool) {
    let app = api(pool).await;
    let Reply {
        status, text: html, ..
    } = app.call("GET", "/docs/", None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    assert!(!html.contains("src=\"http"), "assets must be local: {html}");
    let Reply {
        status, text: init, ..
    } = app.call("GET", "/docs/swagger-initializer.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
    let Reply {
        status, text: js, ..
    } = app.call("GET", "/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.len() > 100_000, "the bundle is served from the binary");
}
