//! Abuse limits on API calls: a rate per token, and a time limit per request.

use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::{ApiError, AppState};

/// Requests per minute per token, with bursts of up to a tenth of that (at least 20):
/// a CLI following a deployment or a dashboard refreshing stays far below it.
pub struct RateLimits {
    limiter: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
}

impl RateLimits {
    /// `None` when the limit is 0 (off).
    pub fn new(per_minute: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new((per_minute / 10).max(20)).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(seconds to wait)` when the token is over its rate.
    pub fn check(&self, token: Uuid) -> Result<(), ApiError> {
        self.limiter.check_key(&token).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests with this token; retry in {seconds}s"),
            )
            .retry_after(seconds.max(1))
        })
    }
}

/// Ends a request whose handler takes longer than `SLIPWAY_REQUEST_TIMEOUT` with a JSON
/// 503. Streams are not cut: their handlers return at once and the time limit covers
/// only producing the response, not sending its body.
pub async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {}s and was stopped; try again",
                limit.as_secs()
            ),
        )
        .retry_after(1)
        .into_response(),
    }
}
