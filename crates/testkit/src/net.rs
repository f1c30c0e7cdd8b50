//! HTTP and Docker helpers for tests.

use std::fmt::Display;
use std::time::Duration;

/// GETs `url`, retrying connection errors for a few seconds (a fresh container may still
/// be binding its port). Returns the body of the first response, whatever its status.
pub async fn http_get(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match client.get(url).send().await {
            Ok(response) => return response.text().await.map_err(|e| e.to_string()),
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(format!("GET {url}: {e}")),
        }
    }
}

/// Unwraps a Docker connection, failing the test with a message that says what to do:
/// tests that need Docker never skip silently.
pub fn docker<T, E: Display>(connected: Result<T, E>) -> T {
    match connected {
        Ok(client) => client,
        Err(e) => panic!(
            "Docker Engine not reachable: {e}. Start dockerd or set DOCKER_HOST (scripts/test.sh checks this first)."
        ),
    }
}
