//! The first admin, both ways the README gives: `slipway-api create-admin` prints a
//! token, and SLIPWAY_ADMIN_TOKEN is accepted by the running binary.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Command, Stdio};
use std::time::Duration;

use slipway_testkit::database_url_of;
use sqlx::PgPool;

fn api(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway-api"));
    cmd.env_clear()
        .env("DATABASE_URL", url)
        .current_dir(std::env::temp_dir());
    cmd
}

async fn me(port: u16, token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn create_admin_prints_a_token_once_and_refuses_a_taken_name(pool: PgPool) {
    let url = database_url_of(&pool).await;
    let out = api(&url)
        .args(["create-admin", "--name", "ops"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        token.starts_with("slw_"),
        "stdout is the token alone: {token:?}"
    );
    assert!(stderr.contains("shown only now"), "{stderr}");
    let caller = slipway_store::users::authenticate(&pool, &slipway_core::token::hash(&token))
        .await
        .unwrap()
        .unwrap();
    assert!(caller.is_admin && caller.name == "ops");

    let again = api(&url)
        .args(["create-admin", "--name", "ops"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("exists already"), "{stderr}");
    let bad = api(&url)
        .args(["create-admin", "--name", "Not Valid"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--name"));
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_configured_admin_token_signs_in(pool: PgPool) {
    let url = database_url_of(&pool).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "0123456789abcdef".repeat(4);
    let mut child = api(&url)
        .env("PORT", port.to_string())
        .env("SLIPWAY_ADMIN_TOKEN", &token)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let attempt = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if attempt.is_ok() {
            break me(port, &token).await;
        }
        assert!(child.try_wait().unwrap().is_none(), "slipway-api exited");
        assert!(tokio::time::Instant::now() < deadline, "never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let wrong = me(port, &"f".repeat(64)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["name"], "admin");
    assert_eq!(answer.1["is_admin"], true);
    assert_eq!(wrong.0, 401);
}
