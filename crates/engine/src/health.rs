//! Waits for a new release to answer HTTP before it takes traffic, watching the
//! container too, so a crash is reported at once rather than as a timeout.

use std::time::Duration;

use slipway_docker::DockerClient;
use tokio::time::Instant;

pub enum Health {
    Serving {
        status: u16,
    },
    /// The container exited: its exit code and Docker's error, if any.
    Exited {
        exit_code: Option<i64>,
        error: Option<String>,
    },
    TimedOut {
        last_error: String,
    },
}

pub async fn wait_until_serving(
    docker: &DockerClient,
    http: &reqwest::Client,
    container: &str,
    url: &str,
    timeout: Duration,
) -> Health {
    let deadline = Instant::now() + timeout;
    let mut last_error = String::from("no attempt finished");
    // Start fast (most apps answer within a few hundred ms) and back off to 500 ms.
    let mut pause = Duration::from_millis(20);
    let mut next_state_check = Instant::now();
    loop {
        let attempt = tokio::time::timeout_at(deadline, http.get(url).send()).await;
        match attempt {
            Ok(Ok(response)) if response.status().as_u16() < 500 => {
                return Health::Serving {
                    status: response.status().as_u16(),
                };
            }
            Ok(Ok(response)) => last_error = format!("HTTP {}", response.status()),
            Ok(Err(e)) => last_error = describe(&e),
            Err(_) => {}
        }
        if Instant::now() >= next_state_check {
            next_state_check = Instant::now() + Duration::from_millis(500);
            if let Ok(state) = docker.container_state(container).await
                && !state.running
            {
                return Health::Exited {
                    exit_code: state.exit_code,
                    error: state.error,
                };
            }
        }
        if Instant::now() + pause >= deadline {
            return Health::TimedOut { last_error };
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused".into()
    } else if e.is_timeout() {
        "request timed out".into()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    }
}
