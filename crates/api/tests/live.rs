//! The WebSocket at /api/v1/ws against a real Postgres (events come from its NOTIFY) and,
//! for a deploy, a real worker on the real Docker Engine.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::time::Duration;

use axum::http::StatusCode;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slipway_api::{AppState, router};
use slipway_core::Config;
use slipway_store::PgPool;
use slipway_store::logs::{self, NewLine};
use slipway_testkit::{ApiClient, Reply, TestRepo, user_with_token, web_app_files};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

mod support;
use support::{delete_and_stop, spawn_worker};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn config() -> Config {
    let network = format!(
        "slipway-test-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let mut c = Config::for_tests("unused", &network, std::env::temp_dir());
    c.allow_local_repos = true;
    c
}

/// The API on a real port (a WebSocket needs a real connection), and its address.
async fn serve(pool: &PgPool, config: Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(AppState::new(pool.clone(), config));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr.to_string()
}

async fn connect(addr: &str, headers: &[(&str, String)]) -> Result<Socket, tungstenite::Error> {
    let mut request = format!("ws://{addr}/api/v1/ws")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON message, failing the test after a generous wait.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("no message within 60 s")
            .expect("the server closed the connection")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn create_app(api: &ApiClient, repo_url: &str) -> (String, String) {
    let name = format!("t-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({"name": name, "repo_url": repo_url});
    let Reply {
        status, json, text, ..
    } = api.call_json("POST", "/api/v1/apps", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let first = json["deployment"]["id"].as_str().unwrap().to_owned();
    (name, first)
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn refuses_strangers_answers_bad_messages_and_streams_what_was_subscribed(pool: PgPool) {
    let config = config();
    let addr = serve(&pool, config.clone()).await;
    let (_, token) = user_with_token(&pool, false).await;
    let api = ApiClient::with_token(router(AppState::new(pool.clone(), config)), &token);
    let (app, deployment) = create_app(&api, "https://example.com/a/b.git").await;
    let (_, stranger_token) = user_with_token(&pool, false).await;
    let stranger_api = ApiClient::with_token(
        router(AppState::new(pool.clone(), self::config())),
        &stranger_token,
    );
    let (strangers_app, _) = create_app(&stranger_api, "https://example.com/c/d.git").await;

    // No token: refused at the handshake.
    match connect(&addr, &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
    // The dashboard's cookie from another site's page: refused (cross-site hijacking).
    let cookie = format!("slipway_token={token}");
    let from_evil = [
        ("cookie", cookie.clone()),
        ("origin", "https://evil.example".to_owned()),
    ];
    match connect(&addr, &from_evil).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected a 403, got {other:?}"),
    }
    // The same cookie from the server's own page is fine.
    let from_own_page = [("cookie", cookie), ("origin", format!("http://{addr}"))];
    let mut by_cookie = connect(&addr, &from_own_page).await.unwrap();
    send(&mut by_cookie, json!({"type": "subscribe", "app": app})).await;
    assert_eq!(next(&mut by_cookie).await["type"], "accepted");

    let mut socket = connect(&addr, &[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    socket.send(Message::Text("not json".into())).await.unwrap();
    let answer = next(&mut socket).await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_message", "{answer}");

    send(&mut socket, json!({"id": 1, "type": "launch", "app": app})).await;
    let answer = next(&mut socket).await;
    assert_eq!(
        (answer["type"].as_str(), answer["id"].as_i64()),
        (Some("error"), Some(1)),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("launch"),
        "{answer}"
    );

    send(&mut socket, json!({"id": 2, "type": "subscribe"})).await;
    let answer = next(&mut socket).await;
    assert_eq!(answer["id"], 2, "{answer}");
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("app"),
        "{answer}"
    );

    // Someone else's app does not exist as far as this client is concerned.
    send(
        &mut socket,
        json!({"id": "x", "type": "subscribe", "app": strangers_app}),
    )
    .await;
    let answer = next(&mut socket).await;
    assert_eq!(answer["id"], "x", "{answer}");
    assert_eq!(answer["error"]["code"], "not_found", "{answer}");
    send(
        &mut socket,
        json!({"id": "y", "type": "deploy", "app": strangers_app}),
    )
    .await;
    assert_eq!(next(&mut socket).await["error"]["code"], "not_found");

    // After all that the connection still works.
    send(
        &mut socket,
        json!({"id": "s", "type": "subscribe", "app": app}),
    )
    .await;
    let answer = next(&mut socket).await;
    assert_eq!(
        answer,
        json!({"type": "accepted", "id": "s", "app": app}),
        "{answer}"
    );

    // Whatever process writes a log line, subscribers get it, with its position.
    let line = NewLine {
        at: chrono::Utc::now(),
        stream: "stdout",
        line: "hello from the database".to_owned(),
    };
    let id = Uuid::parse_str(&deployment).unwrap();
    logs::append(&pool, id, std::slice::from_ref(&line))
        .await
        .unwrap();
    for client in [&mut socket, &mut by_cookie] {
        let got = next(client).await;
        assert_eq!(got["type"], "log", "{got}");
        assert_eq!(got["app"], app.as_str(), "{got}");
        assert_eq!(got["deployment_id"], deployment.as_str(), "{got}");
        assert_eq!(got["line"], "hello from the database", "{got}");
        assert!(got["seq"].as_i64().unwrap() > 0, "{got}");
    }

    // Unsubscribed: the next line is not sent; the answer to a later message comes first.
    send(&mut socket, json!({"type": "unsubscribe", "app": app})).await;
    assert_eq!(next(&mut socket).await["type"], "accepted");
    logs::append(&pool, id, &[line]).await.unwrap();
    assert_eq!(next(&mut by_cookie).await["type"], "log");
    send(
        &mut socket,
        json!({"id": "last", "type": "subscribe", "app": app}),
    )
    .await;
    assert_eq!(next(&mut socket).await["id"], "last");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_client_that_stops_reading_is_disconnected_with_a_reason(pool: PgPool) {
    let config = config();
    let addr = serve(&pool, config.clone()).await;
    let (_, token) = user_with_token(&pool, false).await;
    let api = ApiClient::with_token(router(AppState::new(pool.clone(), config)), &token);
    let (app, deployment) = create_app(&api, "https://example.com/a/b.git").await;
    let mut socket = connect(&addr, &[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    send(&mut socket, json!({"type": "subscribe", "app": app})).await;
    assert_eq!(next(&mut socket).await["type"], "accepted");

    // Far more than the socket buffers hold and the server buffers per client, while
    // the client reads nothing.
    let id = Uuid::parse_str(&deployment).unwrap();
    let big = "x".repeat(16 * 1024);
    for _ in 0..3000 {
        let line = NewLine {
            at: chrono::Utc::now(),
            stream: "stdout",
            line: big.clone(),
        };
        logs::append(&pool, id, &[line]).await.unwrap();
    }
    let mut received = 0;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => received += 1,
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a close frame after {received} messages, got {other:?}"),
        }
    };
    let frame = close.expect("the close frame carries a reason");
    assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
    assert!(frame.reason.contains("too slow"), "{frame:?}");
    assert!(received < 3000, "{received}");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn deploy_over_the_socket_streams_statuses_lines_and_the_result(pool: PgPool) {
    let config = config();
    let (docker, _work, stop, worker_task) = spawn_worker(&pool, &config, "ws-test").await;
    let addr = serve(&pool, config.clone()).await;
    let (_, token) = user_with_token(&pool, false).await;
    let api = ApiClient::with_token(router(AppState::new(pool.clone(), config.clone())), &token);
    let repo = TestRepo::with_files(web_app_files("over the socket"));
    let (app, first) = create_app(&api, &repo.url()).await;

    let mut socket = connect(&addr, &[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    send(&mut socket, json!({"id": 9, "type": "deploy", "app": app})).await;
    let accepted = next(&mut socket).await;
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    assert_eq!(accepted["id"], 9, "{accepted}");
    let id = accepted["deployment_id"].as_str().unwrap().to_owned();
    assert_ne!(id, first);

    let mut statuses = Vec::new();
    let mut lines = Vec::new();
    let result = loop {
        let message = next(&mut socket).await;
        // Only the deployment this client started: it did not subscribe to the app.
        assert_eq!(message["deployment_id"], id.as_str(), "{message}");
        match message["type"].as_str().unwrap() {
            "status" => statuses.push(message["status"].as_str().unwrap().to_owned()),
            "log" => lines.push(message["line"].as_str().unwrap().to_owned()),
            "result" => break message,
            other => panic!("unexpected {other}: {message}"),
        }
    };
    assert_eq!(result["deployment"]["status"], "running", "{result}");
    assert_eq!(result["deployment"]["id"], id.as_str(), "{result}");
    // The result is exactly what GET /api/v1/deployments/{id} answers.
    let shown = api
        .call_json("GET", &format!("/api/v1/deployments/{id}"), None)
        .await
        .json;
    assert_eq!(result["deployment"], shown);
    for phase in ["cloning", "building", "releasing", "running"] {
        assert!(statuses.iter().any(|s| s == phase), "{statuses:?}");
    }
    assert_eq!(statuses.last().map(String::as_str), Some("running"));
    assert!(!lines.is_empty(), "no log lines streamed");

    delete_and_stop(&api, &docker, &app, &config, stop, worker_task).await;
}

const FAILING_TESTS: &str = r#"
[test]
command = ["/bin/busybox", "sh", "-c", "echo testing-over-the-socket; exit 3"]
"#;

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn a_test_command_over_the_socket_streams_its_lines_and_the_run_as_json(pool: PgPool) {
    let config = config();
    let (docker, _work, stop, worker_task) = spawn_worker(&pool, &config, "ws-test-runs").await;
    let addr = serve(&pool, config.clone()).await;
    let (_, token) = user_with_token(&pool, false).await;
    let api = ApiClient::with_token(router(AppState::new(pool.clone(), config.clone())), &token);
    let repo = TestRepo::with_files(slipway_testkit::web_app_files_with_spec(
        "tested over the socket",
        Some(FAILING_TESTS),
    ));
    let (app, _) = create_app(&api, &repo.url()).await;

    let mut socket = connect(&addr, &[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    send(
        &mut socket,
        json!({"type": "test", "app": app, "ref": "main", "commit": "abcdef1"}),
    )
    .await;
    let refused = next(&mut socket).await;
    assert_eq!(refused["error"]["field"], "commit", "{refused}");
    send(&mut socket, json!({"id": "t", "type": "test", "app": app})).await;
    let accepted = next(&mut socket).await;
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    assert_eq!(accepted["id"], "t", "{accepted}");
    let id = accepted["test_run_id"].as_str().unwrap().to_owned();

    let mut statuses = Vec::new();
    let mut lines = Vec::new();
    let result = loop {
        let message = next(&mut socket).await;
        match message["type"].as_str().unwrap() {
            "status" => {
                assert_eq!(message["test_run_id"], id.as_str(), "{message}");
                statuses.push(message["status"].as_str().unwrap().to_owned());
            }
            "log" => {
                assert_eq!(message["test_run_id"], id.as_str(), "{message}");
                lines.push(message["line"].as_str().unwrap().to_owned());
            }
            "result" => break message,
            other => panic!("unexpected {other}: {message}"),
        }
    };
    let run = &result["test_run"];
    assert_eq!(run["status"], "failed", "{result}");
    assert_eq!(run["exit_code"], 3, "{result}");
    let shown = api
        .call_json("GET", &format!("/api/v1/test-runs/{id}"), None)
        .await
        .json;
    assert_eq!(
        run, &shown,
        "the result is exactly GET /api/v1/test-runs/{{id}}"
    );
    assert!(
        lines.iter().any(|l| l.contains("testing-over-the-socket")),
        "{lines:?}"
    );
    assert!(statuses.iter().any(|s| s == "running"), "{statuses:?}");
    assert_eq!(statuses.last().map(String::as_str), Some("failed"));

    delete_and_stop(&api, &docker, &app, &config, stop, worker_task).await;
}
