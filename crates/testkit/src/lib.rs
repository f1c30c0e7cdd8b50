//! Helpers shared by Slipway's tests: git fixtures, a registry-free web app, HTTP and
//! Docker conveniences. A dev-dependency only.

mod api;
mod auth;
mod fixtures;
mod git;
mod net;
mod pg;
mod run;

pub use api::{ApiClient, Reply};
pub use auth::{as_admin, database_url_of, user_with_token, with_token};
pub use fixtures::{
    ENV_CGI, JUNIT_EXAMPLE, WEB_DOCKERFILE, busybox_path, web_app_files,
    web_app_files_with_dockerfile, web_app_files_with_spec,
};
pub use git::{Files, TestRepo};
pub use net::{docker, http_get};
pub use pg::PrivatePostgres;
pub use run::Run;
