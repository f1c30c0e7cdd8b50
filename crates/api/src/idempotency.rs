//! `Idempotency-Key` (or `X-Request-ID`) on a POST: the same key within 24 hours gets the
//! first answer again and does nothing new; the same key with a different request is a
//! 422. A client that lost the answer to "create app" can simply send it again.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use slipway_store::idempotency::{self, Begin, Stored};

use crate::auth::{Checked, check, presented};
use crate::error::OrNotFound;
use crate::{ApiError, AppState};

const HEADERS: [&str; 2] = ["idempotency-key", "x-request-id"];
const MAX_KEY: usize = 255;
/// As the JSON body limit: a request the handler would refuse as too big is refused here.
const MAX_BODY: usize = 64 * 1024;

fn key_of(headers: &HeaderMap) -> Result<Option<(&'static str, String)>, ApiError> {
    for name in HEADERS {
        if let Some(value) = headers.get(name) {
            let key = value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| {
                    !k.is_empty() && k.len() <= MAX_KEY && k.chars().all(|c| c.is_ascii_graphic())
                })
                .ok_or_else(|| {
                    ApiError::invalid(
                        name,
                        format!("{name} must be 1–{MAX_KEY} printable ASCII characters"),
                    )
                })?;
            return Ok(Some((name, key.to_owned())));
        }
    }
    Ok(None)
}

pub async fn remember(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match handle(&state, request, next).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    if request.method() != Method::POST || !request.uri().path().starts_with("/api/v1/") {
        return Ok(next.run(request).await);
    }
    let Some((header_name, key)) = key_of(request.headers())? else {
        return Ok(next.run(request).await);
    };
    let (mut parts, body) = request.into_parts();
    // Without a valid token the handler answers 401 itself; nothing to remember.
    let user = match presented(&parts).ok().flatten() {
        Some(token) => {
            let checked = check(state, &token).await?;
            parts.extensions.insert(Checked(checked.clone()));
            checked.live()
        }
        None => None,
    };
    let Some(user) = user else {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is over 64 KiB",
        )
    })?;
    let digest = slipway_core::token::sha256(
        &[
            parts.method.as_str().as_bytes(),
            b"\n",
            parts.uri.path().as_bytes(),
            b"\n",
            &bytes,
        ]
        .concat(),
    );
    match idempotency::begin(&state.pool, user.user_id, &key, &digest)
        .await
        .or_not_found("idempotency key")?
    {
        Begin::Replay(stored) => Ok(replay(stored)),
        Begin::Mismatch => Err(ApiError::invalid(
            header_name,
            format!(
                "this {header_name} was already used for a different request in the last 24 hours; use a new key"
            ),
        )),
        Begin::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "in_progress",
            format!("a request with this {header_name} is still being answered; retry shortly"),
        )
        .retry_after(1)),
        Begin::Fresh => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (head, body) = response.into_parts();
            // Answers are small JSON documents; a stream here would be a bug elsewhere.
            let body = to_bytes(body, 1024 * 1024)
                .await
                .map_err(|e| ApiError::internal("idempotent response body", e))?;
            if head.status.is_server_error() {
                // A server error is worth a retry: forget the key.
                idempotency::release(&state.pool, user.user_id, &key)
                    .await
                    .or_not_found("idempotency key")?;
            } else {
                let stored = Stored {
                    status: head.status.as_u16(),
                    location: head
                        .headers
                        .get(header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body: body.to_vec(),
                };
                idempotency::finish(&state.pool, user.user_id, &key, &stored)
                    .await
                    .or_not_found("idempotency key")?;
            }
            Ok(Response::from_parts(head, Body::from(body)))
        }
    }
}

fn replay(stored: Stored) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(location) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}
