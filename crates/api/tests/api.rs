//! The REST API against a real Postgres (and, for the end-to-end test, a real worker on
//! the real Docker Engine), driven through the router without a network port.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_testkit::{ApiClient, Reply, TestRepo, web_app_files};
use uuid::Uuid;

mod support;
use support::{delete_and_stop, spawn_worker};

fn config(allow_local: bool) -> Config {
    let network = format!(
        "slipway-test-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let mut c = Config::for_tests("unused", &network, std::env::temp_dir());
    c.allow_local_repos = allow_local;
    c
}

/// The API as an admin's client sees it.
async fn app(pool: PgPool, config: Config) -> ApiClient {
    ApiClient::as_admin(&pool, router(AppState::new(pool.clone(), config))).await
}

fn assert_error(got: &Reply, status: StatusCode, field: Option<&str>) {
    assert_eq!(got.status, status, "{}", got.text);
    let error = &got.json["error"];
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{}",
        got.text
    );
    assert_eq!(error["field"].as_str(), field, "{}", got.text);
}

/// Without `repo_url`, a push app: no deployment until code is pushed, on branch main
/// unless told otherwise.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn an_app_without_a_repository_waits_for_a_push(pool: PgPool) {
    let api = app(pool, config(false)).await;
    let created = api.post("/api/v1/apps", json!({"name": "pushed"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["repo_url"], Value::Null);
    assert_eq!(created.json["branch"], "main");
    assert!(created.json.get("deployment").is_none(), "{}", created.text);
    let listed = api.get("/api/v1/apps/pushed/deployments").await;
    assert_eq!(listed.json["deployments"], json!([]));
    let other = api
        .post(
            "/api/v1/apps",
            json!({"name": "pushed-too", "branch": "trunk"}),
        )
        .await;
    assert_eq!(other.json["branch"], "trunk", "{}", other.text);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn invalid_input_is_a_422_naming_the_field(pool: PgPool) {
    let api = app(pool, config(false)).await;
    let cases = [
        (r#"{"repo_url":"https://example.com/a/b.git"}"#, "name"),
        (
            r#"{"name":"Hello","repo_url":"https://example.com/a/b.git"}"#,
            "name",
        ),
        (
            r#"{"name":"-x","repo_url":"https://example.com/a/b.git"}"#,
            "name",
        ),
        (
            &format!(
                r#"{{"name":"{}","repo_url":"https://example.com/a/b.git"}}"#,
                "a".repeat(64)
            ),
            "name",
        ),
        (r#"{"name":"ok","repo_url":""}"#, "repo_url"),
        (
            r#"{"name":"ok","repo_url":"ftp://example.com/a.git"}"#,
            "repo_url",
        ),
        (r#"{"name":"ok","repo_url":"file:///tmp/repo"}"#, "repo_url"),
        (r#"{"name":"ok","repo_url":"/tmp/repo"}"#, "repo_url"),
        (r#"{"name":"ok","repo_url":42}"#, "repo_url"),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","dockerfile":"../Dockerfile"}"#,
            "dockerfile",
        ),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","dockerfile":"/etc/passwd"}"#,
            "dockerfile",
        ),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","port":0}"#,
            "port",
        ),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","port":70000}"#,
            "port",
        ),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","port":"80"}"#,
            "port",
        ),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","branch":"a..b"}"#,
            "branch",
        ),
        (
            r#"{"name":"ok","repo_url":"https://example.com/a/b.git","colour":"blue"}"#,
            "colour",
        ),
    ];
    for (body, field) in cases {
        let got = api.call("POST", "/api/v1/apps", Some(body)).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let local = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(r#"{"name":"ok","repo_url":"file:///tmp/r"}"#),
        )
        .await;
    assert!(
        local.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SLIPWAY_ALLOW_LOCAL_REPOS")
    );
    assert_error(
        &api.call("POST", "/api/v1/apps", Some("{not json")).await,
        StatusCode::BAD_REQUEST,
        None,
    );
    assert_error(
        &api.call("POST", "/api/v1/apps", Some("[1,2]")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );
    let huge = format!(
        r#"{{"name":"ok","repo_url":"https://example.com/{}"}}"#,
        "a".repeat(200_000)
    );
    assert_error(
        &api.call("POST", "/api/v1/apps", Some(&huge)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
    );
    // Nothing was created by any of these.
    assert_eq!(
        api.call("GET", "/api/v1/apps", None).await.json,
        json!({"apps": [], "next_cursor": null})
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn apps_are_created_listed_found_and_deleted(pool: PgPool) {
    let api = app(pool, config(false)).await;
    let body = r#"{"name":"hello","repo_url":"https://git.example.com/me/hello.git","port":3000}"#;
    let Reply {
        status,
        json: created,
        text,
        ..
    } = api.call("POST", "/api/v1/apps", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(created["name"], "hello");
    assert_eq!(created["subdomain"], "hello");
    assert_eq!(created["url"], "http://hello.localhost");
    assert_eq!(created["branch"], Value::Null);
    assert_eq!(created["dockerfile"], "Dockerfile");
    assert_eq!(created["port"], 3000);
    assert_eq!(created["deployment"]["status"], "pending");
    let id = created["id"].as_str().unwrap().to_owned();

    assert_error(
        &api.call("POST", "/api/v1/apps", Some(body)).await,
        StatusCode::CONFLICT,
        Some("name"),
    );
    assert_eq!(
        api.call("GET", "/api/v1/apps", None).await.json["apps"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        api.call("GET", "/api/v1/apps/hello", None).await.json["id"],
        id.as_str()
    );
    assert_eq!(
        api.call("GET", &format!("/api/v1/apps/{id}"), None)
            .await
            .json["name"],
        "hello"
    );

    let deps = api
        .call("GET", "/api/v1/apps/hello/deployments", None)
        .await
        .json;
    assert_eq!(deps["deployments"].as_array().unwrap().len(), 1);
    let Reply {
        status,
        json: redeploy,
        text,
        ..
    } = api
        .call(
            "POST",
            "/api/v1/apps/hello/deployments",
            Some(r#"{"ref":"v1.2"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(redeploy["ref"], "v1.2");
    let deps = api
        .call("GET", "/api/v1/apps/hello/deployments", None)
        .await
        .json;
    assert_eq!(deps["deployments"][0]["id"], redeploy["id"], "newest first");
    assert_eq!(
        deps["deployments"][1]["status"], "superseded",
        "the unstarted one gave way"
    );
    // An empty body redeploys the app's branch.
    assert_eq!(
        api.call("POST", "/api/v1/apps/hello/deployments", None)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_error(
        &api.call(
            "POST",
            "/api/v1/apps/hello/deployments",
            Some(r#"{"ref":"-rf"}"#),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("ref"),
    );

    assert_eq!(
        api.call("DELETE", "/api/v1/apps/hello", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &api.call("GET", "/api/v1/apps/hello", None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &api.call("DELETE", "/api/v1/apps/hello", None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let deployment = api
        .call(
            "GET",
            &format!("/api/v1/deployments/{}", redeploy["id"].as_str().unwrap()),
            None,
        )
        .await
        .json;
    assert_eq!(deployment["status"], "superseded");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn unknown_things_are_404s_in_json(pool: PgPool) {
    let api = app(pool, config(false)).await;
    let missing = Uuid::now_v7();
    for path in [
        "/api/v1/apps/nope".to_owned(),
        "/api/v1/apps/nope/deployments".to_owned(),
        format!("/api/v1/deployments/{missing}"),
        format!("/api/v1/deployments/{missing}/logs"),
        "/api/v1/deployments/not-a-uuid".to_owned(),
        "/api/v1/nothing-here".to_owned(),
    ] {
        assert_error(
            &api.call("GET", &path, None).await,
            StatusCode::NOT_FOUND,
            None,
        );
    }
    assert_error(
        &api.call("POST", "/api/v1/apps/nope/deployments", None)
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &api.call("PUT", "/api/v1/apps", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    );
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn readiness_needs_a_recent_worker_that_reaches_its_runtime(pool: PgPool) {
    use slipway_store::workers::{self, Heartbeat};
    // Docker pointing nowhere: the API never asks it anything.
    let mut config = config(false);
    config.docker_host = Some("tcp://127.0.0.1:1".into());
    let api = app(pool.clone(), config).await;
    assert_eq!(
        api.call("GET", "/health", None).await.status,
        StatusCode::OK
    );
    let Reply {
        status, json: body, ..
    } = api.call("GET", "/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["workers"], "no worker seen in the last 20s");

    let mut beat = Heartbeat {
        id: "w-1",
        host: "node-1",
        url: None,
        runtime_ok: false,
        runtime_status: "the Docker Engine does not answer: connection refused",
    };
    workers::heartbeat(&pool, &beat).await.unwrap();
    let Reply {
        status, json: body, ..
    } = api.call("GET", "/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let words = body["checks"]["workers"].as_str().unwrap();
    assert!(
        words.contains("1 worker seen") && words.contains("connection refused"),
        "{body}"
    );

    beat.runtime_ok = true;
    beat.runtime_status = "Docker Engine 20.10.24 (API 1.41)";
    workers::heartbeat(&pool, &beat).await.unwrap();
    let Reply {
        status, json: body, ..
    } = api.call("GET", "/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["checks"]["workers"],
        "ok: 1 worker seen in the last 20s, Docker reachable"
    );

    // A heartbeat older than two lease periods (10s in tests) is no sign of life.
    sqlx::query("UPDATE workers SET seen_at = now() - interval '21 seconds'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        api.call("GET", "/ready", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    workers::heartbeat(&pool, &beat).await.unwrap();
    assert_eq!(api.call("GET", "/ready", None).await.status, StatusCode::OK);
    workers::remove(&pool, "w-1").await.unwrap();
    assert_eq!(
        api.call("GET", "/ready", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Runtime logs need such a worker too: a clear 503, not a hang or a 500.
    let created = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(r#"{"name":"no-worker","repo_url":"https://example.com/a/b.git"}"#),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let logs = api.call("GET", "/api/v1/apps/no-worker/logs", None).await;
    assert_error(&logs, StatusCode::SERVICE_UNAVAILABLE, None);
    assert_eq!(logs.json["error"]["code"], "no_worker", "{}", logs.text);
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn logs_query_parameters_are_validated(pool: PgPool) {
    let api = app(pool, config(false)).await;
    let body = r#"{"name":"hello","repo_url":"https://git.example.com/me/hello.git"}"#;
    let created = api.call("POST", "/api/v1/apps", Some(body)).await.json;
    let id = created["deployment"]["id"].as_str().unwrap().to_owned();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("after=-1", "after"),
        ("format=xml", "format"),
        ("colour=1", "colour"),
    ] {
        let got = api
            .call(
                "GET",
                &format!("/api/v1/deployments/{id}/logs?{query}"),
                None,
            )
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let empty = api
        .call("GET", &format!("/api/v1/deployments/{id}/logs"), None)
        .await
        .json;
    assert_eq!(empty, json!({"lines": [], "next_after": 0}));
}

/// What a user does: POST the app, wait, and find it serving, with its build in the logs.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn post_to_serving_through_the_api(pool: PgPool) {
    let config = config(true);
    let (docker, _work, stop, worker_task) = spawn_worker(&pool, &config, "api-test").await;
    let api = app(pool, config.clone()).await;
    let before = scrape(&api).await;

    let repo = TestRepo::with_files(web_app_files("served through the api"));
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({"name": name, "repo_url": repo.url()}).to_string();
    let Reply {
        status,
        json: created,
        text,
        ..
    } = api.call("POST", "/api/v1/apps", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = created["deployment"]["id"].as_str().unwrap().to_owned();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let deployment = loop {
        let d = api
            .call("GET", &format!("/api/v1/deployments/{id}"), None)
            .await
            .json;
        if !["pending", "cloning", "building", "testing", "releasing"]
            .contains(&d["status"].as_str().unwrap())
        {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} after 120s",
            d["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(deployment["status"], "running", "{deployment}");
    assert_eq!(deployment["commit_sha"], repo.head().as_str());
    let phases: Vec<&str> = deployment["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["clone", "build", "release"]);
    assert!(deployment["phases"][1]["duration_ms"].as_i64().unwrap() >= 0);
    assert!(deployment["pickup_ms"].as_i64().unwrap() >= 0);
    let container = &deployment["containers"][0];
    assert_eq!(
        container["name"],
        slipway_core::labels::container_name(&name, &id, "web", 1)
    );
    let url = format!(
        "http://{}:{}/",
        container["ip"].as_str().unwrap(),
        container["port"]
    );
    let page = slipway_testkit::http_get(&url).await.unwrap();
    assert!(page.contains("served through the api"));

    // The log is written in batches and its last line follows the status change.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let logs = api
            .call("GET", &format!("/api/v1/deployments/{id}/logs"), None)
            .await
            .json;
        let done = logs["lines"].as_array().unwrap().iter().any(|l| {
            l["line"]
                .as_str()
                .unwrap()
                .starts_with("Deployment is running")
        });
        if done || tokio::time::Instant::now() > deadline {
            break logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines = logs["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| {
        l["stream"] == "build"
            && l["line"]
                .as_str()
                .unwrap()
                .starts_with("[1/2] COPY busybox")
    }));
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "lines are in order");
    assert_eq!(logs["next_after"], *seqs.last().unwrap());
    // Paging picks up exactly where the previous page ended.
    let first_two = api
        .call(
            "GET",
            &format!("/api/v1/deployments/{id}/logs?limit=2"),
            None,
        )
        .await
        .json;
    let after = first_two["next_after"].as_i64().unwrap();
    assert_eq!(after, seqs[1]);
    let rest = api
        .call(
            "GET",
            &format!("/api/v1/deployments/{id}/logs?after={after}"),
            None,
        )
        .await
        .json;
    assert_eq!(rest["lines"][0]["seq"], seqs[2]);
    let Reply { status, text, .. } = api
        .call(
            "GET",
            &format!("/api/v1/deployments/{id}/logs?format=text"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.lines().any(|l| l.starts_with("[1/2] COPY busybox")),
        "{text}"
    );
    // Following a finished deployment replays its lines as events, then ends.
    let Reply {
        status, text: sse, ..
    } = api
        .call(
            "GET",
            &format!("/api/v1/deployments/{id}/logs?follow=true"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sse.matches("event: line").count(), seqs.len(), "{sse}");
    assert!(
        sse.trim_end().ends_with("data: deployment finished"),
        "{sse}"
    );

    // The worker runs in this process, so this one registry holds its metrics too.
    // Other tests run beside this one: counters must have moved by at least this test's share.
    let after = scrape(&api).await;
    let moved = |series: &str| metric(&after, series) - metric(&before, series);
    assert!(
        moved("slipway_deployments_finished_total{status=\"running\"}") >= 1.0,
        "{after}"
    );
    for phase in ["clone", "build", "release"] {
        let series =
            format!("slipway_deployment_phase_duration_seconds_count{{phase=\"{phase}\"}}");
        assert!(moved(&series) >= 1.0, "{series}\n{after}");
    }
    assert!(
        moved("slipway_image_build_duration_seconds_count") >= 1.0,
        "{after}"
    );
    assert!(
        moved("slipway_deployment_pickup_seconds_count") >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            "slipway_http_requests_total{method=\"GET\",route=\"/api/v1/deployments/{id}\",status=\"200\"}"
        ) >= 1.0,
        "{after}"
    );
    assert!(
        metric(&after, "slipway_running_containers") >= 1.0,
        "{after}"
    );
    assert!(after.contains("slipway_queue_depth "), "{after}");
    assert!(
        after.contains("slipway_http_request_duration_seconds_bucket"),
        "{after}"
    );

    delete_and_stop(&api, &docker, &name, &config, stop, worker_task).await;
}

async fn scrape(api: &ApiClient) -> String {
    let Reply { status, text, .. } = api.call("GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    text
}

/// The value of one series in the text format, 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn repo_url_credentials_are_redacted_and_metadata_hosts_refused(pool: PgPool) {
    let api = app(pool, config(false)).await;
    let body =
        json!({"name": "private-app", "repo_url": "https://bob:hunter2@git.example.com/a/b.git"});
    let Reply {
        status,
        json: created,
        text,
        ..
    } = api
        .call("POST", "/api/v1/apps", Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(
        created["repo_url"],
        "https://bob:***@git.example.com/a/b.git"
    );
    for path in ["/api/v1/apps/private-app", "/api/v1/apps"] {
        let Reply { text, .. } = api.call("GET", path, None).await;
        assert!(!text.contains("hunter2"), "{path}: {text}");
    }
    for url in [
        "http://169.254.169.254/latest/meta-data/x.git",
        "https://[fd00:ec2::254]/x.git",
        "http://metadata.google.internal/x.git",
    ] {
        let body = json!({"name": "meta", "repo_url": url}).to_string();
        let got = api.call("POST", "/api/v1/apps", Some(&body)).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some("repo_url"));
        assert!(
            got.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("refused"),
            "{}",
            got.text
        );
    }
}

/// Polls a test run until it ends; its JSON.
async fn finished_run(api: &ApiClient, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let run = api
            .call("GET", &format!("/api/v1/test-runs/{id}"), None)
            .await
            .json;
        if !["queued", "building", "running"].contains(&run["status"].as_str().unwrap()) {
            return run;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Standalone test runs through the API: validation, a failing and a passing run with
/// its JUnit counts, the list, the log, and a cancel that comes too late.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn test_runs_through_the_api(pool: PgPool) {
    let config = config(true);
    let (docker, _work, stop, worker_task) = spawn_worker(&pool, &config, "api-test-runs").await;
    let api = app(pool, config.clone()).await;

    // A report of one suite with one failing case of three, as JUnit's own XML shows them.
    let junit = r#"<testsuite name="app.Checks" tests="3" failures="1" errors="0" skipped="0">
  <testcase classname="app.Checks" name="home_page" time="0.01"/>
  <testcase classname="app.Checks" name="about_page" time="0.01"/>
  <testcase classname="app.Checks" name="login" time="0.02">
    <failure message="expected 200, got 500" type="AssertionError">trace</failure>
  </testcase>
</testsuite>"#;
    let spec = "[test]\ncommand = \"/bin/busybox sh -c '/bin/busybox mkdir -p /out && /bin/busybox cp /www/junit.xml /out/junit.xml'\"\nreport = \"/out/junit.xml\"\n";
    let mut files = slipway_testkit::web_app_files_with_spec("api tests", Some(spec));
    files.push(("www/junit.xml".into(), junit.as_bytes().to_vec()));
    let repo = TestRepo::with_files(files);
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({"name": name, "repo_url": repo.url()}).to_string();
    let created = api.call("POST", "/api/v1/apps", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let runs = format!("/api/v1/apps/{name}/test-runs");

    for (body, field) in [
        (json!({"commit": "not-a-sha"}), "commit"),
        (json!({"ref": "main", "commit": "abcdef1"}), "commit"),
        (json!({"ref": "a..b"}), "ref"),
        (json!({"command": "echo 'unterminated"}), "command"),
        (json!({"command": "  "}), "command"),
    ] {
        let got = api.post(&runs, body).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let unknown = format!("/api/v1/test-runs/{}", Uuid::now_v7());
    assert_error(&api.get(&unknown).await, StatusCode::NOT_FOUND, None);

    let failing = api
        .post(
            &runs,
            json!({"command": "/bin/busybox sh -c 'echo nope; exit 4'"}),
        )
        .await;
    assert_eq!(failing.status, StatusCode::CREATED, "{}", failing.text);
    assert_eq!(failing.json["status"], "queued");
    let failing = finished_run(&api, failing.json["id"].as_str().unwrap()).await;
    assert_eq!(failing["status"], "failed", "{failing}");
    assert_eq!(failing["exit_code"], 4);
    assert_eq!(failing["commit_sha"], repo.head().as_str());

    let passing = api.post(&runs, json!({"commit": repo.head()})).await;
    let id = passing.json["id"].as_str().unwrap().to_owned();
    let passing = finished_run(&api, &id).await;
    assert_eq!(passing["status"], "passed", "{passing}");
    let keys: Vec<&str> = passing
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "app",
            "command",
            "commit_sha",
            "duration_ms",
            "exit_code",
            "failures",
            "finished_at",
            "id",
            "started_at",
            "status",
            "tests"
        ],
        "a standalone run has no deployment_id: {passing}"
    );
    assert_eq!(passing["app"], name.as_str());
    assert_eq!(
        passing["tests"],
        json!({"total": 3, "passed": 2, "failed": 1, "skipped": 0})
    );
    assert_eq!(
        passing["failures"],
        json!([{"suite": "app.Checks", "name": "login", "message": "expected 200, got 500"}])
    );
    assert!(passing["duration_ms"].as_i64().unwrap() >= 0);

    let first = created.json["deployment"]["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while api.get(&format!("/api/v1/deployments/{first}")).await.json["status"] != "running" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first deployment never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = api.get(&runs).await.json;
    let listed = listed["test_runs"].as_array().unwrap();
    assert_eq!(listed[0]["id"], id.as_str(), "newest first");
    let mut statuses: Vec<&str> = listed
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    statuses.sort_unstable();
    // The app's first deployment ran the spec's tests too, and says so.
    assert_eq!(statuses, ["failed", "passed", "passed"]);
    assert!(
        listed
            .iter()
            .any(|r| r["deployment_id"] == created.json["deployment"]["id"]),
        "{listed:?}"
    );

    let log = api
        .call(
            "GET",
            &format!("/api/v1/test-runs/{id}/logs?format=text"),
            None,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.text.contains("Tests passed"), "{}", log.text);
    let late = api
        .post(&format!("/api/v1/test-runs/{id}/cancel"), json!({}))
        .await;
    assert_error(&late, StatusCode::CONFLICT, None);

    delete_and_stop(&api, &docker, &name, &config, stop, worker_task).await;
}
