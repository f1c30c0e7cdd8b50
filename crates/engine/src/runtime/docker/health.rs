//! Waits for a new release to pass its health check before it takes traffic, watching
//! the container too, so a crash is reported at once rather than as a timeout.

use std::time::Duration;

use slipway_core::spec::HealthCheck;
use slipway_docker::DockerClient;
use tokio::time::Instant;

use crate::runtime::Health;

const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE_BEFORE_PASS: Duration = Duration::from_millis(100);

/// Probes `base_url` + the check's path until `check.retries` consecutive attempts get
/// a status in the accepted range, within `timeout` (which includes the start period).
pub(super) async fn wait_until_healthy(
    docker: &DockerClient,
    http: &reqwest::Client,
    container: &str,
    base_url: &str,
    check: &HealthCheck,
    timeout: Duration,
) -> Health {
    let deadline = Instant::now() + timeout;
    let url = format!("{}{}", base_url.trim_end_matches('/'), check.path);
    let mut last_error = String::from("no attempt finished");
    let mut passes = 0;
    if !check.start_period.is_zero() {
        tokio::time::sleep_until((Instant::now() + check.start_period).min(deadline)).await;
    }
    // Until the first pass, probe often: most apps answer within a few hundred ms, and
    // every pause here is time the release takes. Between required passes, use the
    // configured interval.
    let first_pause = FIRST_PAUSE.min(check.interval);
    let mut pause = first_pause;
    let mut next_state_check = Instant::now();
    loop {
        let attempt = tokio::time::timeout_at(deadline, http.get(&url).send()).await;
        match attempt {
            Ok(Ok(response)) if check.status.contains(response.status().as_u16()) => {
                passes += 1;
                if passes >= check.retries {
                    return Health::Serving {
                        status: response.status().as_u16(),
                    };
                }
                pause = check.interval;
            }
            Ok(Ok(response)) => {
                passes = 0;
                last_error = format!("GET {} answered HTTP {}", check.path, response.status());
            }
            Ok(Err(e)) => {
                passes = 0;
                last_error = format!("GET {}: {}", check.path, describe(&e));
            }
            Err(_) => {}
        }
        if Instant::now() >= next_state_check {
            next_state_check = Instant::now() + Duration::from_millis(500);
            if let Ok(state) = docker.container_state(container).await
                // Restarting counts too: during a release, a restart means it crashed.
                && !state.running
            {
                return Health::Exited {
                    exit_code: state.exit_code,
                    error: state.error,
                    oom_killed: state.oom_killed,
                };
            }
        }
        if Instant::now() + pause >= deadline {
            return Health::TimedOut { last_error };
        }
        tokio::time::sleep(pause).await;
        if passes == 0 {
            pause = (pause * 2).min(MAX_PAUSE_BEFORE_PASS.min(check.interval).max(first_pause));
        }
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
