//! One error type for every handler: a status, a stable code, a message for people and,
//! for invalid input, the field at fault. Internal causes are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use slipway_core::ValidationError;
use slipway_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds, for the Retry-After header of a 429 or 503.
    pub retry_after: Option<u64>,
    /// For a 401 about a token that was presented and refused: the RFC 6750 error code
    /// (`invalid_token`) that the WWW-Authenticate challenge carries, with the message as
    /// its description, so that a client reading only headers learns why too.
    pub bearer_error: Option<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub(crate) struct Body<'a> {
    error: Inner<'a>,
}

/// `code` is stable (`invalid_field`, `not_found`, `conflict`, …); `field` names the
/// input at fault when there is one.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(crate) struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            bearer_error: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            message: message.into(),
            field: Some(field.into()),
            retry_after: None,
            bearer_error: None,
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bearer_error(mut self, code: &'static str) -> Self {
        self.bearer_error = Some(code);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has details",
        )
    }

    /// Maps store errors; `what` names the thing looked up, for the 404 message.
    pub fn store(what: &str, err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found(what),
            StoreError::Conflict { field } => Self {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: format!("{field} is already taken"),
                field: Some(field.to_owned()),
                retry_after: None,
                bearer_error: None,
            },
            StoreError::Db(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            StoreError::Db(e) => Self::internal("database error", e),
        }
    }
}

/// `.or_not_found("app")?` on a store result: the API's answer to a store error, with
/// `what` naming the thing looked up for a 404.
pub(crate) trait OrNotFound<T> {
    fn or_not_found(self, what: &str) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &str) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::store(what, e))
    }
}

/// Errors of the connection rather than of the query: the same request succeeds once
/// Postgres is back (a restart, a failover), so the client is told to retry (503), not
/// that the server is broken (500). A request whose connection Postgres terminates
/// mid-query arrives here as a database error with the admin-shutdown codes, or as an
/// IO or protocol error when the socket closed under it.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        // The connection ended mid-message ("unexpected end of file", "connection closed").
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or
/// shutting down), and class 08, connection exceptions.
fn unavailable_sqlstate(code: &str) -> bool {
    matches!(code, "57P01" | "57P02" | "57P03") || code.starts_with("08")
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                challenge(self.bearer_error, &self.message),
            );
        }
        response
    }
}

/// `Bearer realm="slipway"`, with the error and its description when a token was
/// refused. RFC 6750 allows only printable ASCII without `"` and `\` in the
/// description; other characters are left out rather than the reason lost.
fn challenge(error: Option<&str>, message: &str) -> axum::http::HeaderValue {
    const PLAIN: &str = "Bearer realm=\"slipway\"";
    let Some(error) = error else {
        return axum::http::HeaderValue::from_static(PLAIN);
    };
    let description: String = message
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect();
    let value = format!("{PLAIN}, error=\"{error}\", error_description=\"{description}\"");
    axum::http::HeaderValue::from_str(&value)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static(PLAIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states_are_unavailable_and_query_errors_are_not() {
        for code in ["57P01", "57P02", "57P03", "08006", "08003"] {
            assert!(unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "57014", "40001"] {
            assert!(!unavailable_sqlstate(code), "{code}");
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unavailable(&sqlx::Error::Io(reset)));
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolClosed));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
    }
}
