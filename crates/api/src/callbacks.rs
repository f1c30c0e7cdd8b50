//! The callback delivery loop: POSTs each queued event to its app's callback_url,
//! signed like GitHub's webhooks with the app's webhook secret, and retries failures
//! with exponential back-off for up to an hour. It runs in every API instance; each
//! delivery is claimed with `FOR UPDATE SKIP LOCKED`, so instances never send the same
//! attempt twice. It runs here rather than in the worker because the body must be the
//! API's own view of the deployment.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use slipway_core::validate::forbidden_ip;
use slipway_core::webhook::signature_header;
use slipway_store::callbacks::{self, After, Attempt, Claimed, DeliveryRow};
use slipway_store::{StoreError, deployments};
use sqlx::postgres::PgListener;

use crate::AppState;

/// Retries stop this long after the event.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3600);
/// A receiver gets this long to answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the loop sleeps without looking, should a NOTIFY be lost.
const MAX_IDLE: Duration = Duration::from_secs(5);
/// The shortest: a due delivery that another instance is trying is not spun on.
const MIN_IDLE: Duration = Duration::from_millis(10);

/// Delivers callbacks until the server shuts down (`state.shutdown`).
pub async fn run(state: AppState) {
    let mut listener = listen(&state).await;
    loop {
        loop {
            match deliver_one(&state).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "callback delivery: database error; retrying shortly");
                    break;
                }
            }
        }
        let wait = match callbacks::next_due(&state.pool).await {
            Ok(Some(due)) => (due - Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(MIN_IDLE, MAX_IDLE),
            Ok(None) | Err(_) => MAX_IDLE,
        };
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
            () = notified(&mut listener) => {}
        }
    }
}

async fn listen(state: &AppState) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(&state.pool).await.ok()?;
    match listener.listen(callbacks::CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "callback delivery: LISTEN failed; polling instead");
            None
        }
    }
}

/// Waits for a NOTIFY. Without a listener it never returns (the timer polls); after a
/// lost connection it returns a moment later, and the next call reconnects.
async fn notified(listener: &mut Option<PgListener>) {
    match listener {
        Some(l) => {
            if let Err(e) = l.recv().await {
                tracing::warn!(error = %e, "callback delivery: LISTEN connection lost; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// One due delivery, if any: `Ok(false)` when none is due.
async fn deliver_one(state: &AppState) -> Result<bool, StoreError> {
    let Some(mut claimed) = callbacks::claim_due(&state.pool).await? else {
        return Ok(false);
    };
    let delivery = claimed.delivery.clone();
    let Some(url) = claimed.url.clone() else {
        let reason = "the app no longer has a callback_url, or was deleted";
        claimed.record(None, Some(reason), After::GiveUp).await?;
        return Ok(true);
    };
    let body = match &delivery.payload {
        Some(body) => body.clone(),
        None => match render(state, &delivery).await {
            Ok(body) => {
                claimed.set_payload(&body).await?;
                body
            }
            Err(reason) => {
                tracing::warn!(delivery_id = %delivery.id, reason, "callback cannot be rendered; dropped");
                claimed.record(None, Some(&reason), After::GiveUp).await?;
                return Ok(true);
            }
        },
    };
    let secret = match crate::webhook_secret::get_or_create(state, delivery.app_id).await {
        Ok(secret) => secret,
        Err(e) => {
            // A missing SLIPWAY_SECRET_KEY can be fixed within the hour: keep trying.
            let after = after_failure(&delivery, Utc::now(), state.config.callback_retry_base);
            let reason = format!("cannot sign the callback: {}", e.message);
            return finish(claimed, None, &reason, after).await;
        }
    };
    let started = Instant::now();
    let outcome = post(
        &url,
        &delivery,
        &body,
        secret.as_bytes(),
        state.config.allow_local_repos,
    )
    .await;
    let attempt = Attempt {
        http_status: outcome.as_ref().ok().copied(),
        error: outcome.as_ref().err().cloned(),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    match outcome {
        Ok(status) if (200..300).contains(&status) => {
            tracing::info!(delivery_id = %delivery.id, event = delivery.event, status, "callback delivered");
            claimed
                .record(Some(&attempt), None, After::Delivered)
                .await?;
            Ok(true)
        }
        other => {
            let reason = match other {
                Ok(status) => format!("the receiver answered HTTP {status}"),
                Err(e) => e,
            };
            let after = after_failure(&delivery, Utc::now(), state.config.callback_retry_base);
            finish(claimed, Some(&attempt), &reason, after).await
        }
    }
}

async fn finish(
    claimed: Claimed,
    attempt: Option<&Attempt>,
    reason: &str,
    after: After,
) -> Result<bool, StoreError> {
    let id = claimed.delivery.id;
    match after {
        After::GiveUp => tracing::warn!(delivery_id = %id, reason, "callback given up"),
        _ => tracing::info!(delivery_id = %id, reason, "callback failed; will retry"),
    }
    claimed.record(attempt, Some(reason), after).await?;
    Ok(true)
}

/// The wait after the n-th failed attempt is `base · 2ⁿ⁻¹`; none starts more than
/// [`GIVE_UP_AFTER`] after the event.
fn after_failure(delivery: &DeliveryRow, now: DateTime<Utc>, base: Duration) -> After {
    let failed = u32::try_from(delivery.attempts.max(0)).unwrap_or(u32::MAX);
    let wait = base.saturating_mul(2u32.saturating_pow(failed.min(30)));
    let give_up_at =
        delivery.created_at + chrono::Duration::from_std(GIVE_UP_AFTER).unwrap_or_default();
    match chrono::Duration::from_std(wait) {
        Ok(wait) if now + wait <= give_up_at => After::RetryAt(now + wait),
        _ => After::GiveUp,
    }
}

/// The JSON the event's subject shows in the API.
async fn render(state: &AppState, delivery: &DeliveryRow) -> Result<String, String> {
    match delivery.event.as_str() {
        callbacks::DEPLOYMENT_FINISHED => {
            let row = deployments::get(&state.pool, delivery.subject_id)
                .await
                .map_err(|e| format!("deployment {} cannot be read: {e}", delivery.subject_id))?;
            let view = crate::routes::deployment_detail(&state.pool, row)
                .await
                .map_err(|e| format!("deployment {} cannot be read: {e}", delivery.subject_id))?;
            serde_json::to_string(&view).map_err(|e| e.to_string())
        }
        callbacks::TEST_RUN_FINISHED => {
            let run = slipway_store::test_runs::get_visible(
                &state.pool,
                slipway_store::owner::Owner::Any,
                delivery.subject_id,
            )
            .await
            .map_err(|e| format!("test run {} cannot be read: {e}", delivery.subject_id))?;
            serde_json::to_string(&crate::views::test_runs::TestRunView::from(run))
                .map_err(|e| e.to_string())
        }
        other => Err(format!(
            "no payload was queued for event {other}, and the API cannot render one"
        )),
    }
}

/// POSTs the body; the receiver's status, or why there was none.
async fn post(
    url: &str,
    delivery: &DeliveryRow,
    body: &str,
    secret: &[u8],
    allow_local: bool,
) -> Result<u16, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("callback_url is not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or("callback_url has no host")?
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addrs = resolve(&host, port, allow_local).await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        // Connect to the addresses just checked, not to what a second lookup returns.
        .resolve_to_addrs(host.trim_start_matches('[').trim_end_matches(']'), &addrs)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let response = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("user-agent", concat!("Slipway/", env!("CARGO_PKG_VERSION")))
        .header("x-slipway-event", &delivery.event)
        .header("x-slipway-delivery", delivery.id.to_string())
        .header(
            "x-slipway-signature-256",
            signature_header(secret, body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| slipway_core::validate::redact(&error_chain(&e), url))?;
    Ok(response.status().as_u16())
}

/// The callback host's addresses, refused when any is one the address rules forbid
/// (checked at each attempt, since DNS can change after the URL was accepted).
async fn resolve(host: &str, port: u16, allow_local: bool) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("cannot resolve {bare}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{bare} has no address"));
    }
    for addr in &addrs {
        if let Some(reason) = forbidden_ip(addr.ip(), allow_local) {
            return Err(format!("{bare} resolves to {}: {reason}", addr.ip()));
        }
    }
    Ok(addrs)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i32, created_at: DateTime<Utc>) -> DeliveryRow {
        DeliveryRow {
            id: uuid::Uuid::now_v7(),
            app_id: uuid::Uuid::now_v7(),
            event: callbacks::DEPLOYMENT_FINISHED.into(),
            subject_id: uuid::Uuid::now_v7(),
            payload: None,
            status: "pending".into(),
            attempts,
            next_attempt_at: created_at,
            last_error: None,
            created_at,
            finished_at: None,
        }
    }

    #[test]
    fn back_off_doubles_and_stops_after_an_hour() {
        let t0 = Utc::now();
        let base = Duration::from_secs(10);
        let wait_after = |attempts, now| match after_failure(&delivery(attempts, t0), now, base) {
            After::RetryAt(at) => Some((at - now).num_seconds()),
            _ => None,
        };
        assert_eq!(wait_after(0, t0), Some(10));
        assert_eq!(wait_after(1, t0), Some(20));
        assert_eq!(wait_after(5, t0), Some(320));
        // 10 · 2⁹ = 5120 s is past the hour: given up.
        assert_eq!(wait_after(9, t0), None);
        assert_eq!(wait_after(0, t0 + chrono::Duration::seconds(3595)), None);
        assert_eq!(wait_after(1000, t0), None);
    }
}
