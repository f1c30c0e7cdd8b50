//! Users and their API tokens. A token's text is in exactly one response, the one that
//! created it; afterwards only its prefix is shown.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::{AppName, token};
use slipway_store::users::{self, TokenRow, UserRow};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::OrNotFound;
use crate::extract::JsonBody;
use crate::paging::{PageParams, Paged};
use crate::{ApiError, AppState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            name: u.name,
            is_admin: u.is_admin,
            created_at: u.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the token stops working; `null`: never. Expired tokens stay listed, with
    /// this in the past, until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for TokenView {
    fn from(t: TokenRow) -> Self {
        Self {
            id: t.id,
            prefix: t.prefix,
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

/// A token just created: `token` is its whole text, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewTokenView {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

/// `GET /api/v1/tokens`, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
    /// Send as `cursor` for the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/users`, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
    /// Send as `cursor` for the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewUserView {
    pub user: UserView,
    /// The user's first token, shown this once.
    pub token: NewTokenView,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub name: String,
    pub is_admin: bool,
    /// The id of the token this request used.
    pub token_id: Uuid,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, e.g. `laptop` or `ci` (1–100 characters).
    name: Option<String>,
    /// How long the token may be used, from now: a duration such as `90m`, `12h` or
    /// `30d`, from 1 minute to 365 days. Without it the token never expires.
    #[schema(example = "30d")]
    expires_in: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 1–63 of `a-z0-9-`.
    #[schema(
        required = true,
        nullable = false,
        pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
    )]
    name: Option<String>,
    #[serde(default)]
    admin: bool,
}

fn token_name(raw: Option<String>) -> Result<String, ApiError> {
    let name = raw.unwrap_or_else(|| "unnamed".to_owned());
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "name",
            "name must be 1–100 characters without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    responses((status = 200, body = Me), (status = 401, description = "No valid token", body = crate::error::Body)))]
pub async fn me(Auth(caller): Auth) -> Json<Me> {
    Json(Me {
        id: caller.user_id,
        name: caller.name,
        is_admin: caller.is_admin,
        token_id: caller.token_id,
    })
}

/// The caller's live tokens (prefixes only), newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "users", params(PageParams),
    responses((status = 200, body = TokenList), (status = 401, description = "No valid token", body = crate::error::Body),
        (status = 422, description = "Invalid `limit` or `cursor`; `field` names it", body = crate::error::Body)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Paged(page): Paged,
) -> Result<Json<TokenList>, ApiError> {
    let page = users::tokens(&state.pool, caller.user_id, &page)
        .await
        .or_not_found("token")?;
    Ok(Json(TokenList {
        next_cursor: page.next_cursor(),
        tokens: page.items.into_iter().map(TokenView::from).collect(),
    }))
}

/// A new token for the caller; its text is in this response only. With `expires_in`
/// it stops working that long from now.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "users", request_body = CreateToken,
    responses((status = 201, body = NewTokenView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 401, description = "No valid token", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<impl IntoResponse, ApiError> {
    let name = token_name(body.name)?;
    let lifetime = body
        .expires_in
        .as_deref()
        .map(token::Lifetime::parse)
        .transpose()?;
    let new = token::generate();
    let row = users::add_token(&state.pool, caller.user_id, &name, &new, lifetime)
        .await
        .or_not_found("token")?;
    tracing::info!(user = %caller.name, prefix = %row.prefix, expires_at = ?row.expires_at, "token created");
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            token: new.token,
            info: row.into(),
        }),
    ))
}

/// Revoke one of the caller's tokens, by id or prefix. It stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{token}", tag = "users",
    params(("token" = String, Path, description = "The token's id, prefix or whole text")),
    responses((status = 204, description = "Revoked"), (status = 401, description = "No valid token", body = crate::error::Body),
        (status = 404, description = "No such token", body = crate::error::Body),
        (status = 409, description = "The prefix matches several tokens: give the id", body = crate::error::Body)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = users::revoke(&state.pool, caller.user_id, &token)
        .await
        .map_err(|e| match e {
            slipway_store::StoreError::Conflict { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "ambiguous",
                "several of your tokens have this prefix; revoke by id",
            ),
            e => ApiError::store("token", e),
        })?;
    tracing::info!(user = %caller.name, prefix = %row.prefix, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Every user (admins only), newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageParams),
    responses((status = 200, body = UserList), (status = 401, description = "No valid token", body = crate::error::Body),
        (status = 403, description = "Admins only", body = crate::error::Body),
        (status = 422, description = "Invalid `limit` or `cursor`; `field` names it", body = crate::error::Body)))]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Paged(page): Paged,
) -> Result<Json<UserList>, ApiError> {
    auth.require_admin()?;
    let page = users::list(&state.pool, &page).await.or_not_found("user")?;
    Ok(Json(UserList {
        next_cursor: page.next_cursor(),
        users: page.items.into_iter().map(UserView::from).collect(),
    }))
}

/// Create a user with a first token (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = NewUserView), (status = 400, description = "Malformed JSON", body = crate::error::Body),
        (status = 401, description = "No valid token", body = crate::error::Body),
        (status = 403, description = "Admins only", body = crate::error::Body),
        (status = 409, description = "The name is taken", body = crate::error::Body),
        (status = 422, description = "Invalid input; `field` names it", body = crate::error::Body)))]
pub async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require_admin()?;
    let name = body
        .name
        .ok_or_else(|| ApiError::invalid("name", "name is required"))?;
    // User names follow app names' rules: short, lowercase, safe in any listing.
    let name = AppName::parse(&name)?.to_string();
    let new = token::generate();
    let (user, row) = users::create(&state.pool, &name, body.admin, &new)
        .await
        .or_not_found("user")?;
    tracing::info!(by = %auth.0.name, user = %user.name, admin = user.is_admin, "user created");
    Ok((
        StatusCode::CREATED,
        Json(NewUserView {
            user: user.into(),
            token: NewTokenView {
                token: new.token,
                info: row.into(),
            },
        }),
    ))
}
