//! The first admin, both ways the README gives: `slipway-api create-admin` prints a
//! token, and SLIPWAY_ADMIN_TOKEN is accepted by the running binary.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::process::Command;

use slipway_testkit::database_url_of;
use sqlx::PgPool;
use support::{ADMIN_TOKEN, RunningApi};

fn api(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway-api"));
    cmd.env_clear()
        .env("DATABASE_URL", url)
        .current_dir(std::env::temp_dir());
    cmd
}

async fn me(base: &str, token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
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
    let api = RunningApi::start(&database_url_of(&pool).await).await;
    let answer = me(&api.base, ADMIN_TOKEN).await;
    let wrong = me(&api.base, &"f".repeat(64)).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["name"], "admin");
    assert_eq!(answer.1["is_admin"], true);
    assert_eq!(wrong.0, 401);
}
