//! What a parsed spec holds, as stored with each deployment (durations in whole
//! milliseconds in the JSON).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units::{millis, opt_millis};

pub const DEFAULT_SPEC_PATH: &str = "slipway.toml";
pub const MAX_REPLICAS: u32 = 20;
/// Docker refuses memory limits below 6 MiB.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The process Traefik routes to and the release health check gates.
pub const WEB: &str = "web";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSpec {
    pub port: Option<u16>,
    pub dockerfile: Option<String>,
    pub build_args: BTreeMap<String, String>,
    /// `[build] submodules`: fetch the commit's git submodules into the build context.
    /// Off by default; specs stored before it existed read as off.
    #[serde(default)]
    pub submodules: bool,
    /// `[build] target`: the Dockerfile stage to build; the last one when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `[build] secrets`: config vars the build gets as BuildKit secrets
    /// (`RUN --mount=type=secret,id=NAME`), by name, in the order written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_secrets: Vec<String>,
    pub healthcheck: HealthCheck,
    /// Always holds `web`, declared or not.
    pub processes: BTreeMap<String, ProcessSpec>,
    pub test: Option<TestSpec>,
    pub services: BTreeMap<String, ServiceSpec>,
}

impl Default for AppSpec {
    fn default() -> Self {
        Self {
            port: None,
            dockerfile: None,
            build_args: BTreeMap::new(),
            submodules: false,
            target: None,
            build_secrets: Vec::new(),
            healthcheck: HealthCheck::default(),
            processes: BTreeMap::from([(WEB.to_owned(), ProcessSpec::default())]),
            test: None,
            services: BTreeMap::new(),
        }
    }
}

impl AppSpec {
    pub fn process(&self, name: &str) -> Option<&ProcessSpec> {
        self.processes.get(name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub path: String,
    /// `None`: the server's release timeout (SLIPWAY_RELEASE_TIMEOUT).
    #[serde(with = "opt_millis")]
    pub timeout: Option<Duration>,
    #[serde(with = "millis")]
    pub interval: Duration,
    /// Consecutive passing checks required.
    pub retries: u32,
    #[serde(with = "millis")]
    pub start_period: Duration,
    pub status: StatusRange,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            timeout: None,
            interval: Duration::from_secs(1),
            retries: 1,
            start_period: Duration::ZERO,
            status: StatusRange { min: 100, max: 499 },
        }
    }
}

/// HTTP statuses that count as healthy, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRange {
    pub min: u16,
    pub max: u16,
}

impl StatusRange {
    pub fn contains(&self, code: u16) -> bool {
        (self.min..=self.max).contains(&code)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Replaces the image's CMD.
    pub command: Option<Vec<String>>,
    pub replicas: u32,
    /// Bytes; `None` is the server default (SLIPWAY_DEFAULT_MEMORY).
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
}

impl ProcessSpec {
    /// Only `web` gets a Traefik route and gates a release on its health check.
    pub fn is_web(name: &str) -> bool {
        name == WEB
    }
}

impl Default for ProcessSpec {
    fn default() -> Self {
        Self {
            command: None,
            replicas: 1,
            memory: None,
            cpus: None,
        }
    }
}

/// `[test] timeout` when the spec does not say.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(600);
/// A test run holds a worker and its lease; beyond this it is a build farm's job.
pub const MAX_TEST_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSpec {
    pub command: Vec<String>,
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// `[test] target`: the Dockerfile stage the tests run in; the release's image when
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `[test] report`: where the command writes a JUnit XML report in its container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub image: String,
    pub env: BTreeMap<String, String>,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {}{message}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct SpecError {
    pub key: Option<String>,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl SpecError {
    /// An error about the text at `span` of `source`, located by line and column
    /// (counted in characters: what an editor shows).
    pub(super) fn at(
        source: &str,
        key: Option<String>,
        span: Range<usize>,
        message: String,
    ) -> Self {
        let before = source.get(..span.start.min(source.len())).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self {
            key,
            line,
            column,
            message,
        }
    }
}
