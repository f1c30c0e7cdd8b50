//! Who is calling: an API token from `Authorization: Bearer`, or from the dashboard's
//! HttpOnly cookie. A handler that takes [`Auth`] cannot run without a live token: one
//! that exists, is not revoked and has not expired.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use chrono::{DateTime, SecondsFormat, Utc};
use slipway_core::token;
use slipway_store::users::{self, Caller, TokenCheck};

use crate::error::OrNotFound;
use crate::{ApiError, AppState};

/// The dashboard keeps the token it signed in with in this cookie.
pub const COOKIE_NAME: &str = "slipway_token";

pub struct Auth(pub Caller);

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Why a presented token was refused, for the 401 and its WWW-Authenticate challenge.
fn refused(check: &TokenCheck) -> ApiError {
    let message = match check {
        TokenCheck::Expired { at } => expired_message(*at),
        TokenCheck::Live(_) | TokenCheck::Unknown => {
            "the token is invalid or has been revoked".to_owned()
        }
    };
    unauthorized(&message).bearer_error("invalid_token")
}

/// Names the moment, so that a user can tell a token that just lapsed from an old one.
fn expired_message(at: DateTime<Utc>) -> String {
    format!(
        "the token expired at {}; create a new one",
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// The token a request carries, if any. A malformed Authorization header is an error
/// rather than "no token": the client meant to authenticate and should learn why not.
pub fn presented(parts: &Parts) -> Result<Option<String>, ApiError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not ASCII"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("Authorization must be `Bearer <token>`"))?;
        return Ok(Some(token.to_owned()));
    }
    Ok(cookie(parts, COOKIE_NAME))
}

fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// What a token is: live (with its caller), expired or unknown.
pub async fn check(state: &AppState, token: &str) -> Result<TokenCheck, ApiError> {
    users::check(&state.pool, &token::hash(token))
        .await
        .or_not_found("token")
}

/// The caller a token names, if it is live.
pub async fn caller(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    Ok(check(state, token).await?.live())
}

/// A token check a middleware already made for this request (the idempotency layer needs
/// the caller before the handler runs), so the extractor does not ask the database again.
#[derive(Debug, Clone)]
pub(crate) struct Checked(pub TokenCheck);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = presented(parts)? else {
            return Err(unauthorized(
                "this route needs an API token: send `Authorization: Bearer <token>`",
            ));
        };
        let checked = match parts.extensions.remove::<Checked>() {
            Some(Checked(checked)) => checked,
            None => check(state, &token).await?,
        };
        let caller = match checked {
            TokenCheck::Live(caller) => caller,
            refusal => return Err(refused(&refusal)),
        };
        if let Some(limits) = &state.limits {
            limits.check(caller.token_id)?;
        }
        Ok(Auth(caller))
    }
}

impl Auth {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.is_admin {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only admins may do this",
            ))
        }
    }
}
