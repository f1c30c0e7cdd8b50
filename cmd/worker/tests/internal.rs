//! slipway-worker's heartbeat and internal server: the worker records itself in Postgres
//! with the URL the API reaches it at and its Docker Engine's answer, serves runtime logs
//! only to holders of SLIPWAY_INTERNAL_TOKEN and never to app networks, and removes its
//! row when it stops cleanly. The real binary, a real database, the real Docker Engine.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

const TOKEN: &str = "an-internal-token-of-at-least-32-characters";

struct RunningWorker {
    child: Child,
    port: u16,
    network: String,
    work: std::path::PathBuf,
}

impl RunningWorker {
    async fn start(pool: &PgPool, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let work = std::env::temp_dir().join(format!("slipway-internal-{port}"));
        let network = format!("slipway-test-{port:x}");
        let child = Command::new(env!("CARGO_BIN_EXE_slipway-worker"))
            .env_clear()
            .env("DATABASE_URL", slipway_testkit::database_url_of(pool).await)
            .env("SLIPWAY_WORKER_METRICS_PORT", port.to_string())
            .env("SLIPWAY_WORKER_URL", format!("http://127.0.0.1:{port}/"))
            .env("SLIPWAY_INTERNAL_TOKEN", TOKEN)
            .env("SLIPWAY_LEASE_DURATION", "3s")
            .env("SLIPWAY_NETWORK", &network)
            .env("SLIPWAY_WORK_DIR", &work)
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            port,
            network,
            work,
        }
    }

    fn logs_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/internal/v1/apps/{}/logs?tail=10",
            self.port,
            Uuid::new_v4()
        )
    }

    /// The worker's rows in the workers table: (url, runtime_ok, runtime_status).
    async fn rows(pool: &PgPool) -> Vec<(Option<String>, bool, String)> {
        sqlx::query_as("SELECT url, runtime_ok, runtime_status FROM workers")
            .fetch_all(pool)
            .await
            .unwrap()
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work);
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

async fn get(url: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.unwrap()))
}

async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} within 30s");
}

#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn the_worker_beats_serves_logs_to_token_holders_and_leaves_cleanly(pool: PgPool) {
    let mut worker = RunningWorker::start(&pool, &[]).await;
    let port = worker.port;
    let rows = until("a heartbeat", async || {
        Some(RunningWorker::rows(&pool).await).filter(|r| !r.is_empty())
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (url, runtime_ok, words) = &rows[0];
    assert_eq!(
        url.as_deref(),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );
    assert!(*runtime_ok, "{words}");
    assert!(words.starts_with("Docker Engine "), "{words}");

    let url = worker.logs_url();
    let (status, body) = until("the internal server", async || get(&url, Some(TOKEN)).await).await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"deployment_id": null, "lines": []})
    );
    for wrong in [
        None,
        Some("an-internal-token-of-at-least-32-characterz"),
        Some("x"),
    ] {
        let (status, body) = get(&url, wrong).await.unwrap();
        assert_eq!(status, 401, "{wrong:?}: {body}");
    }

    // SIGTERM: a clean stop removes the heartbeat at once.
    let pid = worker.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = until("the worker's exit", async || {
        worker.child.try_wait().unwrap()
    })
    .await;
    assert!(exited.success(), "{exited:?}");
    assert_eq!(RunningWorker::rows(&pool).await, Vec::new());
}

/// The worker joins every app network: peers in the app networks' pool are refused even
/// with the token. Loopback stands in for an app's address here.
#[sqlx::test(migrator = "slipway_store::MIGRATOR")]
async fn internal_routes_are_refused_to_addresses_of_app_networks(pool: PgPool) {
    let worker = RunningWorker::start(
        &pool,
        &[
            ("SLIPWAY_APP_SUBNETS", "127.0.0.0/8"),
            ("SLIPWAY_APP_SUBNET_SIZE", "24"),
        ],
    )
    .await;
    let url = worker.logs_url();
    let (status, body) = until("the internal server", async || get(&url, Some(TOKEN)).await).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("lines"), "{body}");
}
