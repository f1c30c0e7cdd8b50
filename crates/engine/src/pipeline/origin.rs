//! Where a deployment's commit comes from: the app's repository, or, for a push app,
//! the API's copy of what was pushed to it. Workers fetch that over git's smart HTTP
//! with the internal token, so a worker on another host needs only the API's address
//! (SLIPWAY_API_INTERNAL_URL), not a shared directory.

use slipway_core::Config;
use slipway_source::Login;
use slipway_store::apps::AppRow;

/// The user name a worker presents with the internal token; the API ignores it.
const WORKER_USER: &str = "slipway-worker";

pub(super) struct Origin {
    pub url: String,
    pub login: Option<Login>,
    /// A push app's origin is the API: its address was set by the operator, not by a
    /// user, so the rules for users' URLs (no loopback, …) do not apply to it.
    pub is_api: bool,
}

impl Origin {
    /// `Err` with a reason for the clone phase when a push app cannot be fetched.
    pub fn of(app: &AppRow, config: &Config) -> Result<Self, String> {
        if let Some(url) = &app.repo_url {
            return Ok(Self {
                url: url.clone(),
                login: None,
                is_api: false,
            });
        }
        let token = config.internal_token.as_ref().ok_or_else(|| {
            "this app's code was pushed to Slipway, and this worker has no \
             SLIPWAY_INTERNAL_TOKEN to fetch it from the API with"
                .to_owned()
        })?;
        Ok(Self {
            url: push_url(&config.api_internal_url, &app.id.to_string()),
            login: Some(Login {
                user: WORKER_USER.to_owned(),
                password: token.expose().to_owned(),
            }),
            is_api: true,
        })
    }
}

/// The API's smart-HTTP URL of an app's pushed repository (by id, which a later app of
/// the same name cannot take over).
pub(crate) fn push_url(api: &str, app: &str) -> String {
    format!("{}/git/{app}.git", api.trim_end_matches('/'))
}
