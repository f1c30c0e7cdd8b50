//! The spec file as written, before any rule is checked. Values whose checks need a
//! location are `Spanned`; values that take several shapes (a duration as "30s" or 30)
//! are read as `toml::Value` first. Tables are never `Spanned`: one built from dotted
//! keys (`processes.web.replicas = 2`) has no span and would fail to deserialize, so
//! names are located by `NameSpans`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;

use super::SpecError;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub(super) port: Option<Spanned<i64>>,
    pub(super) dockerfile: Option<Spanned<String>>,
    pub(super) build: Option<RawBuild>,
    pub(super) healthcheck: Option<RawHealthCheck>,
    #[serde(default)]
    pub(super) processes: BTreeMap<String, RawProcess>,
    #[serde(default)]
    pub(super) resources: BTreeMap<String, RawResources>,
    pub(super) test: Option<RawTest>,
    #[serde(default)]
    pub(super) services: BTreeMap<String, RawService>,
}

/// Where each table name was written. Keys always carry a span, in both `[processes.web]`
/// and `processes.web.replicas = 2`. A second pass, only run to report an error, because
/// `serde_path_to_error` cannot name a path segment whose key is `Spanned`.
#[derive(Deserialize)]
pub(super) struct NameSpans {
    #[serde(default)]
    pub(super) processes: BTreeMap<Spanned<String>, IgnoredAny>,
    #[serde(default)]
    pub(super) resources: BTreeMap<Spanned<String>, IgnoredAny>,
    #[serde(default)]
    pub(super) services: BTreeMap<Spanned<String>, IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuild {
    #[serde(default)]
    pub(super) args: BTreeMap<String, Spanned<String>>,
    pub(super) submodules: Option<bool>,
    pub(super) target: Option<Spanned<String>>,
    pub(super) secrets: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealthCheck {
    pub(super) path: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<toml::Value>>,
    pub(super) interval: Option<Spanned<toml::Value>>,
    pub(super) retries: Option<Spanned<i64>>,
    pub(super) start_period: Option<Spanned<toml::Value>>,
    pub(super) status: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProcess {
    pub(super) command: Option<Spanned<toml::Value>>,
    pub(super) replicas: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResources {
    pub(super) memory: Option<Spanned<toml::Value>>,
    pub(super) cpus: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTest {
    pub(super) command: Spanned<toml::Value>,
    pub(super) timeout: Option<Spanned<toml::Value>>,
    pub(super) target: Option<Spanned<String>>,
    pub(super) report: Option<Spanned<String>>,
    pub(super) services: Option<Spanned<Vec<toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) image: Spanned<String>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, Spanned<String>>,
    pub(super) port: Option<Spanned<i64>>,
}

/// Reads the file's text; a syntax error, an unknown key or a value of the wrong type is
/// reported with the key it is under.
pub(super) fn read(source: &str) -> Result<RawSpec, SpecError> {
    let deserializer = toml::Deserializer::new(source);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        // Spanned<T> shows up as a private segment of its own: not a key users wrote.
        let path: Vec<String> = e
            .path()
            .iter()
            .map(|segment| segment.to_string())
            .filter(|segment| !segment.starts_with("$__"))
            .collect();
        let key = (!path.is_empty()).then(|| path.join("."));
        let inner = e.into_inner();
        let span = inner.span().unwrap_or(0..0);
        // Syntax errors come as "what\nexpected what", which reads badly after a key.
        let message = inner
            .message()
            .trim()
            .lines()
            .collect::<Vec<_>>()
            .join("; ");
        // The toml crate has no words for some inputs (a lone "\r", a NUL in a comment).
        let message = if message.is_empty() {
            "this is not valid TOML".to_owned()
        } else {
            message
        };
        SpecError::at(source, key, span, message)
    })
}
