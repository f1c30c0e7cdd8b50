//! Signing in to the dashboard: the user pastes an API token once; it is kept in an
//! HttpOnly, SameSite=Strict cookie, which page scripts cannot read and other sites
//! cannot make the browser send. The API accepts the same cookie, so the page's buttons
//! call it as the signed-in user.
//!
//! The cookie is the token, so it is only as good as the token: every page and API call
//! checks it afresh (a revoked or expired token signs the browser out at once), and its
//! Max-Age is cut to the token's expiry so that the browser drops it no later.

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::Markup;
use serde::Deserialize;
use slipway_store::users::{Caller, TokenCheck};

use super::{PageError, pages};
use crate::auth::{COOKIE_NAME, caller, check, presented};
use crate::{ApiError, AppState};

/// How long a dashboard sign-in lasts at most, in seconds: 30 days.
const SESSION_SECONDS: i64 = 30 * 24 * 3600;

/// The cookie's Max-Age: the session's length, or less if the token expires sooner.
fn max_age(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    let left = expires_at.map_or(SESSION_SECONDS, |at| (at - now).num_seconds());
    left.clamp(0, SESSION_SECONDS)
}

/// The signed-in user of a dashboard page; without one (no cookie, or a token since
/// revoked or expired), the page redirects to sign-in.
pub struct Viewer(pub Caller);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = presented(parts).map_err(|e| PageError::from(e).into_response())?;
        let found = match token {
            Some(token) => caller(state, &token)
                .await
                .map_err(|e| PageError::from(e).into_response())?,
            None => None,
        };
        found
            .map(Viewer)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// The sign-in form.
#[utoipa::path(get, path = "/login", tag = "dashboard", security(()),
    responses((status = 200, description = "The sign-in page", content_type = "text/html", body = String)))]
pub async fn form() -> Markup {
    pages::login(None)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// An API token.
    token: String,
}

/// Checks the token and keeps it in the session cookie.
#[utoipa::path(post, path = "/login", tag = "dashboard", security(()),
    request_body(content = SignIn, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: to the apps"),
        (status = 400, description = "Not a sign-in form: the form again", content_type = "text/html", body = String),
        (status = 401, description = "Not a live token: the form again, with the reason", content_type = "text/html", body = String)))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        let page = pages::login(Some(
            "Sign in with the form: paste a token and press Sign in.",
        ));
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    };
    let token = form.token.trim();
    let found = if !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic()) {
        check(&state, token).await?
    } else {
        TokenCheck::Unknown
    };
    let user = match found {
        TokenCheck::Live(user) => user,
        TokenCheck::Expired { .. } => {
            let page = pages::login(Some(
                "That token has expired. Create a new one (slipway tokens create) and sign in with it.",
            ));
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        TokenCheck::Unknown => {
            let page = pages::login(Some("That token is not valid (or was revoked)."));
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
    };
    let cookie = format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age(user.expires_at, Utc::now()),
        if over_https(&headers) { "; Secure" } else { "" }
    );
    Ok(with_cookie(Redirect::to("/"), &cookie)?)
}

/// Forgets the session cookie.
#[utoipa::path(post, path = "/logout", tag = "dashboard", security(()),
    responses((status = 303, description = "Signed out: to the sign-in page")))]
pub async fn sign_out() -> Result<Response, PageError> {
    let cookie = format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(with_cookie(Redirect::to("/login"), &cookie)?)
}

/// Behind Traefik with TLS on, the original scheme arrives in X-Forwarded-Proto: the
/// cookie is then marked Secure. Reached over plain HTTP it must not be, or the browser
/// would never send it back.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn with_cookie(redirect: Redirect, cookie: &str) -> Result<Response, ApiError> {
    let value =
        HeaderValue::from_str(cookie).map_err(|e| ApiError::internal("session cookie", e))?;
    let mut response = redirect.into_response();
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn the_cookie_lasts_30_days_or_until_the_token_expires() {
        let now = Utc::now();
        assert_eq!(max_age(None, now), SESSION_SECONDS);
        assert_eq!(
            max_age(Some(now + Duration::days(365)), now),
            SESSION_SECONDS
        );
        assert_eq!(max_age(Some(now + Duration::hours(2)), now), 7200);
        // Expired while signing in: the browser is told to drop it at once.
        assert_eq!(max_age(Some(now - Duration::seconds(5)), now), 0);
    }
}
