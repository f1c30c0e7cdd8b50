//! The release routes: config vars, processes, rollback, cancel and runtime logs, against
//! a real Postgres and, for runtime logs, a real worker on the real Docker Engine.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_docker::DockerClient;
use slipway_engine::{Context, Worker};
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, Reply, TestRepo, web_app_files_with_spec};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use uuid::Uuid;

fn config() -> Config {
    let network = format!(
        "slipway-test-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let mut c = Config::for_tests("unused", &network, std::env::temp_dir());
    c.allow_local_repos = true;
    c
}

/// The API as an admin's client sees it.
async fn api(pool: PgPool, config: Config) -> ApiClient {
    ApiClient::as_admin(&pool, router(AppState::new(pool.clone(), config))).await
}

fn assert_invalid(got: &Reply, field: &str) {
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.text);
    assert_eq!(got.json["error"]["field"], field, "{}", got.text);
}

async fn create_app(api: &ApiClient) -> String {
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({"name": name, "repo_url": "https://example.com/a/b.git"});
    let Reply { status, text, .. } = api.call_json("POST", "/api/v1/apps", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    name
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn config_vars_are_validated_masked_revealed_merged_and_replaced(pool: PgPool) {
    let api = api(pool.clone(), config()).await;
    let app = create_app(&api).await;
    let path = format!("/api/v1/apps/{app}/config");

    assert_invalid(
        &api.call_json("PATCH", &path, Some(json!({"1BAD": "x"})))
            .await,
        "1BAD",
    );
    assert_invalid(
        &api.call_json("PATCH", &path, Some(json!({"PORT": "1"})))
            .await,
        "PORT",
    );
    assert_invalid(
        &api.call_json("PATCH", &path, Some(json!({"SLIPWAY_X": "1"})))
            .await,
        "SLIPWAY_X",
    );
    assert_invalid(
        &api.call_json("PATCH", &path, Some(json!({"A": 5}))).await,
        "A",
    );
    let not_object = api.call_json("PATCH", &path, Some(json!(["A"]))).await;
    assert_eq!(
        not_object.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        not_object.text
    );
    assert_eq!(not_object.json["error"]["code"], "invalid_body");
    assert_invalid(
        &api.call_json("GET", &format!("{path}?reveal=maybe"), None)
            .await,
        "reveal",
    );

    let Reply {
        status,
        json: body,
        text,
        ..
    } = api
        .call_json("PATCH", &path, Some(json!({"A": "1", "B": "two words"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body["config"], json!({"A": "********", "B": "********"}));
    // The first deployment has not released yet: it will carry the change.
    assert!(body["release"].is_null());
    assert!(body["applies_to"].is_string(), "{text}");

    let revealed = api
        .call_json("GET", &format!("{path}?reveal=true"), None)
        .await
        .json;
    assert_eq!(revealed["config"], json!({"A": "1", "B": "two words"}));
    assert_eq!(revealed["revealed"], true);

    let merged = api
        .call_json(
            "PATCH",
            &format!("{path}?reveal=true"),
            Some(json!({"A": null, "C": "3"})),
        )
        .await
        .json;
    assert_eq!(merged["config"], json!({"B": "two words", "C": "3"}));
    let replaced = api
        .call_json(
            "PUT",
            &format!("{path}?reveal=true"),
            Some(json!({"D": "4"})),
        )
        .await
        .json;
    assert_eq!(replaced["config"], json!({"D": "4"}));

    let raw: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM config_vars")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(raw.len(), 1);
    // A 24-byte nonce, the 1-byte value encrypted, a 16-byte tag: sealed, not "4".
    assert_eq!(raw[0].len(), 24 + 1 + 16);
    assert_ne!(raw[0].as_slice(), b"4");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn without_a_secret_key_config_vars_cannot_be_set(pool: PgPool) {
    let mut c = config();
    c.secret_key = None;
    let api = api(pool, c).await;
    let app = create_app(&api).await;
    let got = api
        .call_json(
            "PATCH",
            &format!("/api/v1/apps/{app}/config"),
            Some(json!({"A": "1"})),
        )
        .await;
    assert_eq!(got.status, StatusCode::SERVICE_UNAVAILABLE, "{}", got.text);
    assert!(
        got.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SLIPWAY_SECRET_KEY")
    );
    // Reading the (empty, masked) set needs no key.
    assert_eq!(
        api.call_json("GET", &format!("/api/v1/apps/{app}/config"), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn scaling_rollback_and_cancel_validate_their_input(pool: PgPool) {
    let api = api(pool, config()).await;
    let app = create_app(&api).await;
    let processes = format!("/api/v1/apps/{app}/processes");
    assert_invalid(
        &api.call_json("PATCH", &processes, Some(json!({"worker": 1})))
            .await,
        "worker",
    );
    assert_invalid(
        &api.call_json("PATCH", &processes, Some(json!({"web": -1})))
            .await,
        "web",
    );
    assert_invalid(
        &api.call_json("PATCH", &processes, Some(json!({"web": 21})))
            .await,
        "web",
    );
    assert_invalid(
        &api.call_json("PATCH", &processes, Some(json!({"web": "3"})))
            .await,
        "web",
    );
    assert_invalid(
        &api.call_json("PATCH", &processes, Some(json!({}))).await,
        "processes",
    );
    let Reply {
        status,
        json: body,
        text,
        ..
    } = api
        .call_json("PATCH", &processes, Some(json!({"web": 3})))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body["processes"]["web"]["replicas"], 3);
    assert_eq!(body["processes"]["web"]["routed"], true);
    let shown = api
        .call_json("GET", &format!("/api/v1/apps/{app}"), None)
        .await
        .json;
    assert_eq!(shown["scale"], json!({"web": 3}));

    let rollback = format!("/api/v1/apps/{app}/rollback");
    let got = api.call_json("POST", &rollback, Some(json!({}))).await;
    assert_eq!(got.status, StatusCode::CONFLICT, "{}", got.text);
    assert_invalid(
        &api.call_json("POST", &rollback, Some(json!({"deployment_id": "nope"})))
            .await,
        "deployment_id",
    );
    let stranger = Uuid::now_v7();
    assert_invalid(
        &api.call_json("POST", &rollback, Some(json!({"deployment_id": stranger})))
            .await,
        "deployment_id",
    );

    let deployments = api
        .call_json("GET", &format!("/api/v1/apps/{app}/deployments"), None)
        .await
        .json;
    let pending = deployments["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_invalid(
        &api.call_json("POST", &rollback, Some(json!({"deployment_id": pending})))
            .await,
        "deployment_id",
    );
    let cancel = format!("/api/v1/deployments/{pending}/cancel");
    let Reply {
        status,
        json: body,
        text,
        ..
    } = api.call_json("POST", &cancel, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body["status"], "cancelled");
    let again = api.call_json("POST", &cancel, None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(
        api.call_json(
            "POST",
            &format!("/api/v1/deployments/{}/cancel", Uuid::now_v7()),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_app_url_is_https_when_acme_is_on(pool: PgPool) {
    let mut c = config();
    c.acme_email = Some("ops@example.com".into());
    let api = api(pool, c).await;
    let app = create_app(&api).await;
    let shown = api
        .call_json("GET", &format!("/api/v1/apps/{app}"), None)
        .await
        .json;
    assert_eq!(shown["url"], format!("https://{app}.localhost"), "{shown}");
}

const LOGGING_WEB: &str = r#"
[processes.web]
command = ["/bin/busybox", "sh", "-c", "echo started-web; echo warming-up >&2; exec /bin/busybox httpd -f -p 80 -h /www"]

[processes.worker]
command = ["/bin/busybox", "sh", "-c", "echo started-worker; exec /bin/busybox sleep 3600"]
"#;

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn runtime_logs_come_from_the_running_containers_tagged_and_followable(pool: PgPool) {
    let config = config();
    let docker = slipway_testkit::docker(DockerClient::connect(None).await);
    let work = tempfile::tempdir().unwrap();
    let mut worker_config = config.clone();
    worker_config.work_dir = work.path().to_path_buf();
    // The API reads runtime logs from the worker's internal server, found by its heartbeat.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    worker_config.worker_url = Some(format!("http://{}", listener.local_addr().unwrap()));
    let stop = CancellationToken::new();
    let ctx = Context::new(pool.clone(), docker.clone(), worker_config).unwrap();
    tokio::spawn(slipway_worker_http::serve(
        slipway_worker_http::Internal {
            pool: pool.clone(),
            runtime: ctx.runtime.clone(),
            app_subnets: config.app_subnets,
            token: config.internal_token.clone(),
            shutdown: stop.clone(),
        },
        listener,
    ));
    let worker = Worker::new(ctx, "logs-test");
    let worker_task = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    let api = api(pool, config.clone()).await;
    let repo = TestRepo::with_files(web_app_files_with_spec("logs", Some(LOGGING_WEB)));
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({"name": name, "repo_url": repo.url()});
    let Reply {
        status,
        json: created,
        text,
        ..
    } = api.call_json("POST", "/api/v1/apps", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = created["deployment"]["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let d = api
            .call_json("GET", &format!("/api/v1/deployments/{id}"), None)
            .await
            .json;
        if d["status"] == "running" {
            break;
        }
        assert!(d["status"] != "failed", "{d}");
        assert!(tokio::time::Instant::now() < deadline, "{d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = format!("/api/v1/apps/{name}/logs");
    let Reply {
        status,
        json: body,
        text,
        ..
    } = api.call_json("GET", &logs, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let lines = body["lines"].as_array().unwrap();
    let web_line = lines
        .iter()
        .find(|l| l["line"] == "started-web")
        .expect(&text);
    assert_eq!(web_line["process"], "web");
    assert_eq!(web_line["stream"], "stdout");
    assert_eq!(
        web_line["container"],
        slipway_core::labels::container_name(&name, &id, "web", 1)
    );
    assert!(web_line["at"].is_string());
    let stderr = lines
        .iter()
        .find(|l| l["line"] == "warming-up")
        .expect(&text);
    assert_eq!(stderr["stream"], "stderr");
    assert!(
        lines
            .iter()
            .any(|l| l["line"] == "started-worker" && l["process"] == "worker")
    );

    let only_worker = api
        .call_json("GET", &format!("{logs}?process=worker"), None)
        .await
        .json;
    let only: Vec<&Value> = only_worker["lines"].as_array().unwrap().iter().collect();
    assert!(
        !only.is_empty() && only.iter().all(|l| l["process"] == "worker"),
        "{only_worker}"
    );
    let one = api
        .call_json("GET", &format!("{logs}?tail=1"), None)
        .await
        .json;
    assert_eq!(one["lines"].as_array().unwrap().len(), 1);
    let future = api
        .call_json(
            "GET",
            &format!("{logs}?since={}", chrono::Utc::now().timestamp() + 3600),
            None,
        )
        .await
        .json;
    assert_eq!(future["lines"], json!([]));
    assert_invalid(
        &api.call_json("GET", &format!("{logs}?tail=0"), None).await,
        "tail",
    );
    assert_invalid(
        &api.call_json("GET", &format!("{logs}?since=yesterday-ish"), None)
            .await,
        "since",
    );
    assert_invalid(
        &api.call_json("GET", &format!("{logs}?colour=red"), None)
            .await,
        "colour",
    );

    // Following streams the existing lines first; read until the web line shows up.
    let request = Request::builder()
        .uri(format!("{logs}?follow=true&process=web"))
        .body(Body::empty())
        .unwrap();
    let response = api.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut seen = String::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
                if seen.contains("started-web") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no followed line within 20s: {seen}");
    assert!(seen.contains("event: line"), "{seen}");

    assert_eq!(
        api.call_json("DELETE", &format!("/api/v1/apps/{name}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !docker
        .list_containers(&[("slipway.app", name.as_str())])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker_task.await.unwrap().unwrap();
    let _ = docker
        .remove_networks_labelled(&[("slipway.network", &config.network)])
        .await;
    let _ = docker.remove_network(&config.network).await;
}
