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
        (name = "health", description = "Liveness and readiness"),
        (name = "users", description = "Users and API tokens"),
        (name = "dashboard", description = "The web dashboard's pages (HTML)")
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
    }
}

/// `GET /api/v1/apps`
#[derive(Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
}

/// `GET /api/v1/apps/{app}/deployments`, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeploymentList {
    pub deployments: Vec<DeploymentView>,
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

/// `ok`, or why the dependency does not answer.
#[derive(Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub database: String,
    pub docker: String,
}
