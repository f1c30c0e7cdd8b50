//! Once config vars exist, the API refuses to start without the key that sealed them,
//! or with another key, and says so.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::Command;

use slipway_core::crypto::{self, Cipher};
use sqlx::PgPool;

const KEY_A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const KEY_B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start(url: &str, key: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway-api"));
    cmd.env_clear()
        .env("DATABASE_URL", url)
        .env("PORT", free_port().to_string())
        .current_dir(std::env::temp_dir());
    if let Some(key) = key {
        cmd.env("SLIPWAY_SECRET_KEY", key);
    }
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A refusal exits at once; a start keeps serving: give it a few seconds, then stop it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let running = child.try_wait().unwrap().is_none();
    if running {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if running {
        format!("STARTED\n{stderr}")
    } else {
        stderr
    }
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_api_needs_the_key_that_sealed_the_config_vars(pool: PgPool) {
    let url = slipway_testkit::database_url_of(&pool).await;
    // No config vars yet: no key needed.
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || start(&url, None)
    })
    .await
    .unwrap();
    assert!(out.starts_with("STARTED"), "{out}");

    let app = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO apps (id, name, repo_url) VALUES ($1, 'keyed', 'https://example.com/a.git')",
    )
    .bind(app)
    .execute(&pool)
    .await
    .unwrap();
    use base64::Engine as _;
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(KEY_A)
        .unwrap()
        .try_into()
        .unwrap();
    let sealed = Cipher::new(&key)
        .seal(&crypto::config_var_aad(&app.to_string(), "TOKEN"), "s3cret")
        .unwrap();
    sqlx::query("INSERT INTO config_vars (app_id, name, sealed) VALUES ($1, 'TOKEN', $2)")
        .bind(app)
        .bind(sealed)
        .execute(&pool)
        .await
        .unwrap();

    let check = |key: Option<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || start(&url, key))
    };
    let missing = check(None).await.unwrap();
    assert!(
        missing.contains("SLIPWAY_SECRET_KEY is not set") && !missing.starts_with("STARTED"),
        "{missing}"
    );
    let wrong = check(Some(KEY_B)).await.unwrap();
    assert!(
        wrong.contains("SLIPWAY_SECRET_KEY does not decrypt") && !wrong.starts_with("STARTED"),
        "{wrong}"
    );
    let right = check(Some(KEY_A)).await.unwrap();
    assert!(right.starts_with("STARTED"), "{right}");
}
