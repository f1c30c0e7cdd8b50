//! Users and API tokens. Tokens are looked up by their hash; the text is never stored.

use chrono::{DateTime, Utc};
use slipway_core::token::NewToken;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;
use crate::apps::Owner;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub name: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub prefix: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Who a request comes from, as its token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub name: String,
    pub is_admin: bool,
    pub token_id: Uuid,
}

impl Caller {
    /// The apps this caller may see: admins see every app, others their own.
    pub fn owner(&self) -> Owner {
        if self.is_admin {
            Owner::Any
        } else {
            Owner::User(self.user_id)
        }
    }
}

/// Creates a user with a first token.
pub async fn create(
    pool: &PgPool,
    name: &str,
    is_admin: bool,
    token: &NewToken,
) -> Result<(UserRow, TokenRow), StoreError> {
    let mut tx = pool.begin().await?;
    let user: UserRow = sqlx::query_as(
        "INSERT INTO users (id, name, is_admin) VALUES ($1, $2, $3)
         RETURNING id, name, is_admin, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(is_admin)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::from_unique(e, "users_name_key", "name"))?;
    let token = insert_token(&mut tx, user.id, "first token", token).await?;
    tx.commit().await?;
    Ok((user, token))
}

async fn insert_token(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    name: &str,
    token: &NewToken,
) -> Result<TokenRow, StoreError> {
    Ok(sqlx::query_as(
        "INSERT INTO api_tokens (id, user_id, prefix, hash, name) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, user_id, prefix, name, created_at, last_used_at",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(&token.prefix)
    .bind(&token.hash)
    .bind(name)
    .fetch_one(conn)
    .await?)
}

pub async fn add_token(
    pool: &PgPool,
    user_id: Uuid,
    name: &str,
    token: &NewToken,
) -> Result<TokenRow, StoreError> {
    let mut conn = pool.acquire().await?;
    insert_token(&mut conn, user_id, name, token).await
}

pub async fn list(pool: &PgPool) -> Result<Vec<UserRow>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, name, is_admin, created_at FROM users ORDER BY name")
            .fetch_all(pool)
            .await?,
    )
}

/// The user's live tokens, newest first.
pub async fn tokens(pool: &PgPool, user_id: Uuid) -> Result<Vec<TokenRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, prefix, name, created_at, last_used_at FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// Revokes one of the user's tokens, named by id, prefix or its whole text. A prefix
/// that matches more than one live token is a conflict: the user must give the id.
pub async fn revoke(
    pool: &PgPool,
    user_id: Uuid,
    id_or_prefix: &str,
) -> Result<TokenRow, StoreError> {
    let id = Uuid::parse_str(id_or_prefix).ok();
    let mut tx = pool.begin().await?;
    let matches: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, user_id, prefix, name, created_at, last_used_at FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL AND (id = $2 OR prefix = $3 OR hash = $4)
         FOR UPDATE",
    )
    .bind(user_id)
    .bind(id)
    .bind(id_or_prefix)
    .bind(slipway_core::token::hash(id_or_prefix))
    .fetch_all(&mut *tx)
    .await?;
    let token = match matches.as_slice() {
        [one] => one.clone(),
        [] => return Err(StoreError::NotFound),
        _ => return Err(StoreError::Conflict { field: "token" }),
    };
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1")
        .bind(token.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(token)
}

/// user id, user name, admin, token id, last use
type TokenOwner = (Uuid, String, bool, Uuid, Option<DateTime<Utc>>);

/// The caller a token belongs to, if it is live. Marks it used, at most once a minute
/// so that authentication does not turn every read into a write.
pub async fn authenticate(pool: &PgPool, hash: &[u8]) -> Result<Option<Caller>, StoreError> {
    let found: Option<TokenOwner> = sqlx::query_as(
        "SELECT u.id, u.name, u.is_admin, t.id, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    let Some((user_id, name, is_admin, token_id, last_used_at)) = found else {
        return Ok(None);
    };
    if last_used_at.is_none_or(|at| Utc::now() - at > chrono::Duration::minutes(1)) {
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1")
            .bind(token_id)
            .execute(pool)
            .await?;
    }
    Ok(Some(Caller {
        user_id,
        name,
        is_admin,
        token_id,
    }))
}

/// What tokens configured through the environment are named, so that a changed or
/// removed `SLIPWAY_ADMIN_TOKEN` revokes the one it replaces.
const CONFIGURED: &str = "SLIPWAY_ADMIN_TOKEN";

/// Makes the configured admin token the only live configured one: the user `name` is
/// created (as an admin) if missing and the token added to it; any token an earlier
/// configuration added is revoked. `None` revokes them all.
pub async fn sync_admin_token(
    pool: &PgPool,
    name: &str,
    token: Option<&NewToken>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE name = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR hash <> $2)",
    )
    .bind(CONFIGURED)
    .bind(token.map(|t| &t.hash))
    .execute(&mut *tx)
    .await?;
    if let Some(token) = token {
        let user_id: Uuid = sqlx::query_scalar(
            "INSERT INTO users (id, name, is_admin) VALUES ($1, $2, true)
             ON CONFLICT (name) DO UPDATE SET is_admin = true
             RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, prefix, hash, name) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (hash) DO UPDATE
             SET revoked_at = NULL, user_id = EXCLUDED.user_id, name = EXCLUDED.name",
        )
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(&token.prefix)
        .bind(&token.hash)
        .bind(CONFIGURED)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
