//! `PATCH /api/v1/apps/{app}`: settings change, validated as on create.

use axum::http::StatusCode;
use serde_json::json;
use slipway_store::PgPool;

use crate::{assert_error, hooks};

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn patch_changes_only_what_it_names(pool: PgPool) {
    let h = hooks(pool, false).await;
    h.app(
        "hello",
        "https://github.com/Codertocat/Hello-World.git",
        Some("main"),
    )
    .await;
    let got = h
        .api
        .patch(
            "/api/v1/apps/hello",
            json!({"port": 3000, "dockerfile": "docker/Dockerfile", "spec_path": "deploy/slipway.toml",
                   "callback_url": "https://ci.example.com/slipway?team=1"}),
        )
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.json["branch"], "main", "left as it was");
    assert_eq!(got.json["port"], 3000);
    assert_eq!(got.json["dockerfile"], "docker/Dockerfile");
    assert_eq!(got.json["spec_path"], "deploy/slipway.toml");
    assert_eq!(
        got.json["callback_url"],
        "https://ci.example.com/slipway?team=1"
    );

    // null puts a setting back to its default.
    let got = h
        .api
        .patch(
            "/api/v1/apps/hello",
            json!({"branch": null, "port": null, "dockerfile": null, "callback_url": null}),
        )
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.json["branch"], json!(null));
    assert_eq!(got.json["port"], json!(null));
    assert_eq!(got.json["dockerfile"], "Dockerfile");
    assert_eq!(got.json["spec_path"], "deploy/slipway.toml");
    assert_eq!(got.json["callback_url"], json!(null));
    let shown = h.api.get("/api/v1/apps/hello").await;
    assert_eq!(shown.json, got.json);
    assert_eq!(h.deployments("hello").await.len(), 1, "nothing redeployed");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn patch_refuses_what_create_refuses(pool: PgPool) {
    let h = hooks(pool, false).await;
    h.app(
        "hello",
        "https://github.com/Codertocat/Hello-World.git",
        None,
    )
    .await;
    let cases = [
        (json!({"colour": "blue"}), "colour"),
        (
            json!({"repo_url": "https://github.com/a/b.git"}),
            "repo_url",
        ),
        (json!({"port": 0}), "port"),
        (json!({"port": "80"}), "port"),
        (json!({"branch": "a..b"}), "branch"),
        (json!({"dockerfile": "../Dockerfile"}), "dockerfile"),
        (json!({"spec_path": "/etc/passwd"}), "spec_path"),
        (
            json!({"callback_url": "ftp://example.com/x"}),
            "callback_url",
        ),
        (
            json!({"callback_url": "http://169.254.169.254/latest"}),
            "callback_url",
        ),
        (
            json!({"callback_url": "http://metadata.google.internal/"}),
            "callback_url",
        ),
        // Loopback is this server itself, unless local repositories are allowed.
        (
            json!({"callback_url": "http://127.0.0.1:9000/hook"}),
            "callback_url",
        ),
        (
            json!({"callback_url": "http://localhost/hook"}),
            "callback_url",
        ),
    ];
    for (body, field) in cases {
        let got = h.api.patch("/api/v1/apps/hello", body.clone()).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let got = h
        .api
        .post(
            "/api/v1/apps",
            json!({"name": "other", "repo_url": "https://github.com/a/b.git",
                   "callback_url": "http://[fe80::1]/x"}),
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some("callback_url"));
    let got = h.api.patch("/api/v1/apps/nope", json!({"port": 80})).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND, "{}", got.text);
    let shown = h.api.get("/api/v1/apps/hello").await;
    assert_eq!(shown.json["port"], json!(null), "nothing changed");
}
