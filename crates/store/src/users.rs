//! Users and API tokens. Tokens are looked up by their hash; the text is never stored.

use chrono::{DateTime, Utc};
use slipway_core::token::{Lifetime, NewToken};
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;
use crate::owner::Owner;
use crate::page::{Cursor, Page, PageRequest, keyset};

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
    /// `None`: the token never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who a request comes from, as its token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub name: String,
    pub is_admin: bool,
    pub token_id: Uuid,
    /// When the token stops working (`None`: never), so that whatever keeps it, such as
    /// the dashboard's cookie, need not keep it longer.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a presented token turned out to be.
#[derive(Debug, Clone)]
pub enum TokenCheck {
    Live(Caller),
    /// A real token past its expiry: the client deserves to know that, rather than be
    /// told it is invalid, so that it makes a new one instead of suspecting a typo.
    Expired {
        at: DateTime<Utc>,
    },
    /// Unknown or revoked; the two are not told apart, so revoked tokens reveal nothing.
    Unknown,
}

impl TokenCheck {
    pub fn live(self) -> Option<Caller> {
        match self {
            Self::Live(caller) => Some(caller),
            Self::Expired { .. } | Self::Unknown => None,
        }
    }
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

/// Creates a user with a first token, which never expires: the admin hands it over and
/// its user makes shorter-lived ones as they need them.
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
    let token = insert_token(&mut tx, user.id, "first token", token, None).await?;
    tx.commit().await?;
    Ok((user, token))
}

async fn insert_token(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    name: &str,
    token: &NewToken,
    lifetime: Option<Lifetime>,
) -> Result<TokenRow, StoreError> {
    // The expiry is counted on the database's clock, the one `authenticate` compares it
    // with, so that a skewed API host cannot stretch or shorten it.
    Ok(sqlx::query_as(
        "INSERT INTO api_tokens (id, user_id, prefix, hash, name, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + $6)
         RETURNING id, user_id, prefix, name, created_at, last_used_at, expires_at",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(&token.prefix)
    .bind(&token.hash)
    .bind(name)
    .bind(lifetime.map(Lifetime::duration))
    .fetch_one(conn)
    .await?)
}

/// Adds a token to the user; with a `lifetime` it stops working that long from now.
pub async fn add_token(
    pool: &PgPool,
    user_id: Uuid,
    name: &str,
    token: &NewToken,
    lifetime: Option<Lifetime>,
) -> Result<TokenRow, StoreError> {
    let mut conn = pool.acquire().await?;
    insert_token(&mut conn, user_id, name, token, lifetime).await
}

/// A page of every user, newest first.
pub async fn list(pool: &PgPool, page: &PageRequest) -> Result<Page<UserRow>, StoreError> {
    let (after_at, after_id) = page.after_key();
    let rows = sqlx::query_as(concat!(
        "SELECT id, name, is_admin, created_at FROM users WHERE true",
        keyset!("", "$1", "$2", "$3")
    ))
    .bind(after_at)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(rows, page, |u: &UserRow| Cursor {
        created_at: u.created_at,
        id: u.id,
    }))
}

/// A page of the user's unrevoked tokens, newest first. Expired ones are included, with
/// their `expires_at` in the past, so that a user can see why a client stopped working.
pub async fn tokens(
    pool: &PgPool,
    user_id: Uuid,
    page: &PageRequest,
) -> Result<Page<TokenRow>, StoreError> {
    let (after_at, after_id) = page.after_key();
    let rows = sqlx::query_as(concat!(
        "SELECT id, user_id, prefix, name, created_at, last_used_at, expires_at FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL",
        keyset!("", "$2", "$3", "$4")
    ))
    .bind(user_id)
    .bind(after_at)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?;
    Ok(Page::from_rows(rows, page, |t: &TokenRow| Cursor {
        created_at: t.created_at,
        id: t.id,
    }))
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
        "SELECT id, user_id, prefix, name, created_at, last_used_at, expires_at FROM api_tokens
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

/// user id, user name, admin, token id, last use, expiry, expired
type TokenOwner = (
    Uuid,
    String,
    bool,
    Uuid,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
);

/// The caller a token belongs to, if it is live (neither revoked nor expired).
pub async fn authenticate(pool: &PgPool, hash: &[u8]) -> Result<Option<Caller>, StoreError> {
    Ok(check(pool, hash).await?.live())
}

/// What the token with this hash is: live, expired or unknown. A live token is marked
/// used, at most once a minute so that authentication does not turn every read into a
/// write; an expired one is not, since it was not let in.
pub async fn check(pool: &PgPool, hash: &[u8]) -> Result<TokenCheck, StoreError> {
    // Expiry is judged by the database's clock, the one that set it.
    let found: Option<TokenOwner> = sqlx::query_as(
        "SELECT u.id, u.name, u.is_admin, t.id, t.last_used_at, t.expires_at,
                coalesce(t.expires_at <= now(), false)
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    let Some((user_id, name, is_admin, token_id, last_used_at, expires_at, expired)) = found else {
        return Ok(TokenCheck::Unknown);
    };
    if let (true, Some(at)) = (expired, expires_at) {
        return Ok(TokenCheck::Expired { at });
    }
    if last_used_at.is_none_or(|at| Utc::now() - at > chrono::Duration::minutes(1)) {
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1")
            .bind(token_id)
            .execute(pool)
            .await?;
    }
    Ok(TokenCheck::Live(Caller {
        user_id,
        name,
        is_admin,
        token_id,
        expires_at,
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
             SET revoked_at = NULL, expires_at = NULL, user_id = EXCLUDED.user_id,
                 name = EXCLUDED.name",
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
