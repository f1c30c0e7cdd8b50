//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations
//! and the types they return. Routes are registered through `utoipa_axum`, so a route
//! cannot exist without being in the document.

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::views::{AppView, DeploymentView};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway",
        description = "A self-hosted PaaS: register a git repository, and Slipway builds it with Docker and serves it behind Traefik at <app>.<BASE_DOMAIN>.",
        license(name = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "apps", description = "Apps and their configuration"),
        (name = "deployments", description = "Deployments (releases) and their logs"),
        (name = "test runs", description = "A commit's tests, run before a release or on their own"),
        (name = "health", description = "Liveness and readiness"),
        (name = "users", description = "Users and API tokens"),
        (name = "live", description = "Live events and commands over a WebSocket"),
        (name = "webhooks", description = "Signed forge webhooks in, signed callbacks out"),
        (name = "dashboard", description = "The web dashboard's pages (HTML)"),
        (name = "git", description = "git's smart HTTP protocol: clone, fetch and push to deploy (errors in text/plain, which git shows its user)")
    ),
    modifiers(&BearerToken),
    security(("token" = []))
)]
pub struct ApiDoc;

/// Every `/api/v1` route takes `Authorization: Bearer <token>`; the few public routes
/// say `security(())` on their own.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`slw_…`), from `POST /api/v1/tokens`, an admin's \
                         `POST /api/v1/users`, `slipway-api create-admin` or SLIPWAY_ADMIN_TOKEN",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "git",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "What git sends: any user name, an API token as the password",
                    ))
                    .build(),
            ),
        );
    }
}

/// Answers every API operation can give whatever its handler does: no valid token (401),
/// over the rate (429), the database or the time limit (503); for a POST, an
/// Idempotency-Key problem (409, 422). Bodies are optional everywhere: an empty body
/// reads as `{}`.
/// Applied once the routes are in the document (see `routes::parts`).
pub(crate) struct CommonAnswers;

impl utoipa::Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.put, false),
                (&mut item.post, true),
                (&mut item.patch, false),
                (&mut item.delete, false),
            ];
            for (operation, is_post) in operations {
                let Some(op) = operation.as_mut() else {
                    continue;
                };
                if let Some(utoipa::openapi::RefOr::T(body)) = op.request_body.as_mut() {
                    body.required = Some(Required::False);
                }
                if !path.starts_with("/api/v1/") {
                    continue;
                }
                let mut add = |code: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error(description).into());
                };
                add("401", "No valid token");
                add("429", "Over the token's request rate; see Retry-After");
                add(
                    "503",
                    "The database is unavailable, or the request took too long",
                );
                if is_post {
                    add(
                        "409",
                        "A request with this Idempotency-Key is still being answered",
                    );
                    add(
                        "422",
                        "Invalid input, or an Idempotency-Key used for another request",
                    );
                }
            }
        }
    }
}

/// `GET /api/v1/apps`, newest first.
#[derive(Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
    /// Send as `cursor` for the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/apps/{app}/deployments`, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeploymentList {
    pub deployments: Vec<DeploymentView>,
    /// Send as `cursor` for the next (older) page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// One build or release log line.
#[derive(Serialize, ToSchema)]
pub struct BuildLogLine {
    /// Global order; page with `?after=seq`.
    pub seq: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `git`, `build`, `app` (a failed container's output) or `slipway`.
    pub stream: String,
    pub line: String,
}

/// `GET /api/v1/deployments/{id}/logs`
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    pub lines: Vec<BuildLogLine>,
    /// The cursor for the next page.
    pub next_after: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    pub checks: ReadinessChecks,
}

/// Each check starts with `ok` when it passes, or says why it does not.
#[derive(Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// `ok`, or why Postgres does not answer.
    pub database: String,
    /// Whether a worker whose runtime (Docker Engine) answers has recorded a heartbeat
    /// within two lease periods: `ok: 2 workers seen in the last 60s, Docker reachable`,
    /// or why not (`no worker seen in the last 60s`). The API has no access to the
    /// runtime itself.
    pub workers: String,
}
