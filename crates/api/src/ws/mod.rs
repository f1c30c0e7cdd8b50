//! `GET /api/v1/ws`: one WebSocket per client for live events and commands. Clients send
//! JSON messages (`subscribe`, `unsubscribe`, `deploy`), each with an optional `id` the
//! answers echo; the server sends `accepted`, `status`, `log`, `result` and `error`.
//! Events come from Postgres NOTIFY (see [`feed`]), so any API instance serves any client.

pub mod feed;
mod session;

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use slipway_store::users::Caller;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Auth;
use crate::{ApiError, AppState};
use session::Session;

/// A client that has not taken a message for this long is gone or stuck; dropping it
/// frees what it holds rather than letting its backlog grow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrade to a WebSocket carrying live events (`subscribe` to an app: its deployments'
/// status changes, log lines and results) and commands (`deploy`). Authenticated like
/// every call: `Authorization: Bearer`, or the dashboard's cookie from the same origin.
#[utoipa::path(get, path = "/api/v1/ws", tag = "live", responses(
    (status = 101, description = "Switching to the WebSocket protocol; messages are JSON"),
    (status = 400, description = "Not a WebSocket upgrade request", body = crate::error::Body),
    (status = 403, description = "Cookie sent from another site's page", body = crate::error::Body)))]
pub async fn connect(
    State(state): State<AppState>,
    Auth(caller): Auth,
    _: SameSite,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let receiver = state
        .live
        .subscribe(&state.pool, &state.shutdown)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "live events: cannot LISTEN");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "live events are unavailable: the database cannot be reached; try again",
            )
            .retry_after(1)
        })?;
    Ok(upgrade.on_upgrade(move |socket| serve(socket, state, caller, receiver)))
}

/// Browsers send cookies with a WebSocket handshake from any page, so a cookie-
/// authenticated upgrade must come from a page of this origin (cross-site WebSocket
/// hijacking). A bearer token is never sent by a browser on its own, so it needs no check.
pub struct SameSite;

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SameSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return Ok(SameSite);
        }
        let Some(origin) = parts.headers.get(ORIGIN) else {
            // Not a browser: it sent the cookie on purpose.
            return Ok(SameSite);
        };
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, host)| host.trim_end_matches('/'));
        let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(SameSite),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a WebSocket authenticated by cookie must be opened from this server's own pages",
            )),
        }
    }
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    mut events: tokio::sync::broadcast::Receiver<std::sync::Arc<feed::Event>>,
) {
    let shutdown = state.shutdown.clone();
    let mut session = Session::new(state, caller);
    let (mut sink, mut stream) = socket.split();
    let close = loop {
        let outgoing = tokio::select! {
            () = shutdown.cancelled() => break Some((close_code::AWAY, "the server is restarting; reconnect".to_owned())),
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => vec![session.handle(text.as_str()).await],
                Some(Ok(Message::Binary(_))) => vec![session::error(None, "invalid_message", "messages are JSON text frames", None)],
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                // Pings are answered by the library.
                Some(Ok(_)) => continue,
            },
            event = events.recv() => match event {
                Ok(event) => match session.on_event(&event).await {
                    Ok(messages) => messages,
                    Err(e) => {
                        tracing::warn!(error = %e.message, "live events: cannot read an event's rows");
                        continue;
                    }
                },
                Err(RecvError::Lagged(missed)) => break Some((
                    close_code::POLICY,
                    format!("client too slow: {missed} events were dropped; reconnect and resubscribe"),
                )),
                Err(RecvError::Closed) => break Some((close_code::AWAY, "the server is stopping".to_owned())),
            },
        };
        if !send_all(&mut sink, outgoing).await {
            break None;
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    }
}

/// `false` when the client is gone or has stopped reading.
async fn send_all(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    messages: Vec<serde_json::Value>,
) -> bool {
    for message in messages {
        let text = Message::Text(Utf8Bytes::from(message.to_string()));
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(text)).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
    }
    true
}
