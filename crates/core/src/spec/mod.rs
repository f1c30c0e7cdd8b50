//! The app spec file, `slipway.toml` at the repository root (the path is set per app).
//! It declares what the API's fields cannot: the port, the Dockerfile, build args and
//! whether git submodules are fetched, the Dockerfile stage built, the config vars a
//! build gets as secrets, the health check, process types with their
//! commands, replicas and resource limits, the test command and companion services. A
//! repository without it gets `AppSpec::default()`.
//!
//! ```toml
//! port = 8080
//! dockerfile = "docker/Dockerfile"
//!
//! [build]
//! args = { RUST_VERSION = "1.95" }
//! submodules = true
//! target = "runtime"
//! secrets = ["NPM_TOKEN"]
//!
//! [healthcheck]
//! path = "/healthz"
//! timeout = "60s"
//! interval = "2s"
//! retries = 3
//! start_period = "5s"
//! status = "200-399"
//!
//! [processes.web]
//! command = "busybox httpd -f -p 8080 -h /www"
//! replicas = 2
//!
//! [processes.worker]
//! command = ["/app/worker", "--queue", "default"]
//! replicas = 1
//!
//! [resources.web]
//! memory = "256m"
//! cpus = 0.5
//!
//! [test]
//! command = "make test"
//! timeout = "10m"
//! target = "test"
//! report = "/tmp/junit.xml"
//! services = []
//!
//! [services.redis]
//! image = "redis:7"
//! env = { REDIS_ARGS = "--save ''" }
//! port = 6379
//! ```
//!
//! Durations are strings such as `"500ms"`, `"30s"`, `"2m"` or whole seconds; sizes are
//! `"256m"`, `"1g"`, `"512MiB"` or bytes; a command is a string split the way a shell
//! would, or an array of strings used as is. Unknown keys are errors, so a typo cannot
//! silently fall back to a default.
//!
//! Every mistake is reported with its key (`processes.web.replicas`) and its line and
//! column, because the user has to find it in a file Slipway never shows them.

mod check;
mod model;
mod raw;
mod units;

pub use model::{
    AppSpec, DEFAULT_SPEC_PATH, DEFAULT_TEST_TIMEOUT, HealthCheck, MAX_REPLICAS, MAX_TEST_TIMEOUT,
    MIN_MEMORY, ProcessSpec, ServiceSpec, SpecError, StatusRange, TestSpec, WEB,
};
pub use units::parse_bytes;

/// Parses the spec file's text.
pub fn parse(source: &str) -> Result<AppSpec, SpecError> {
    check::check(source, raw::read(source)?)
}

#[cfg(test)]
mod tests;
