//! Signed-in clients for API tests: most tests are about something other than
//! authentication, and act as an admin.

use axum::Router;
use axum::http::{HeaderValue, Request, header};
use slipway_store::PgPool;
use slipway_store::users::{self, UserRow};

/// A new user (admin or not) with a fresh token; returns the user and the token's text.
pub async fn user_with_token(pool: &PgPool, admin: bool) -> (UserRow, String) {
    let name = format!("u-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let new = slipway_core::token::generate();
    let (user, _) = users::create(pool, &name, admin, &new)
        .await
        .unwrap_or_else(|e| panic!("could not create test user {name}: {e}"));
    (user, new.token)
}

/// The router as a client holding `token` sees it: requests without an Authorization
/// header get `Bearer <token>`; requests that bring their own keep it.
pub fn with_token(router: Router, token: &str) -> Router {
    let value = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|e| panic!("token is not a header value: {e}"));
    router.layer(axum::middleware::map_request(
        move |mut request: Request<axum::body::Body>| {
            let value = value.clone();
            async move {
                if !request.headers().contains_key(header::AUTHORIZATION) {
                    request.headers_mut().insert(header::AUTHORIZATION, value);
                }
                request
            }
        },
    ))
}

/// The router as a fresh admin's client sees it.
pub async fn as_admin(pool: &PgPool, router: Router) -> Router {
    let (_, token) = user_with_token(pool, true).await;
    with_token(router, &token)
}

/// The URL of the test's own database (sqlx::test made it on the server DATABASE_URL
/// names), for starting the real binaries against it.
pub async fn database_url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (run scripts/test.sh)");
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("current_database(): {e}"));
    let (server, _) = base
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("DATABASE_URL has no database part: {base}"));
    format!("{server}/{db}")
}
