//! The real slipway-api binary on a free port, with an admin token, for tests that need
//! a process (signals, a database going away) rather than the router in-process.

#![allow(dead_code)] // each test file uses the part it needs

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token every spawned API accepts (SLIPWAY_ADMIN_TOKEN).
pub const ADMIN_TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub struct RunningApi {
    pub process: Child,
    pub base: String,
}

impl RunningApi {
    /// Starts slipway-api on `database_url` and waits until it answers /health.
    pub async fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[]).await
    }

    /// Like [`RunningApi::start`], with more settings.
    pub async fn start_with(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut process = Command::new(env!("CARGO_BIN_EXE_slipway-api"))
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("SLIPWAY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slipway-api starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{base}/health")).await.is_err() {
            assert!(
                process.try_wait().ok().flatten().is_none(),
                "slipway-api exited before it listened"
            );
            assert!(Instant::now() < deadline, "slipway-api never listened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { process, base }
    }

    pub fn alive(&mut self) -> bool {
        self.process.try_wait().ok().flatten().is_none()
    }

    pub fn pid(&self) -> String {
        self.process.id().to_string()
    }
}

impl Drop for RunningApi {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
