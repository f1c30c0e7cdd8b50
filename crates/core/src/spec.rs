//! The app spec file, `slipway.toml` at the repository root (the path is set per app).
//! It declares what the API's fields cannot: the port, the Dockerfile, build args and
//! whether git submodules are fetched, the health check, process types with their
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

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::validate::DockerfilePath;

pub const DEFAULT_SPEC_PATH: &str = "slipway.toml";
pub const MAX_REPLICAS: u32 = 20;
/// Docker refuses memory limits below 6 MiB.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
const MAX_CPUS: f64 = 64.0;
const MAX_RETRIES: u32 = 100;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSpec {
    pub command: Vec<String>,
    #[serde(with = "millis")]
    pub timeout: Duration,
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

// The file as written. Values whose checks need a location are `Spanned`; values that
// take several shapes (a duration as "30s" or 30) are read as `toml::Value` first.
// Tables are never `Spanned`: one built from dotted keys (`processes.web.replicas = 2`)
// has no span and would fail to deserialize, so names are located by `NameSpans`.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    port: Option<Spanned<i64>>,
    dockerfile: Option<Spanned<String>>,
    build: Option<RawBuild>,
    healthcheck: Option<RawHealthCheck>,
    #[serde(default)]
    processes: BTreeMap<String, RawProcess>,
    #[serde(default)]
    resources: BTreeMap<String, RawResources>,
    test: Option<RawTest>,
    #[serde(default)]
    services: BTreeMap<String, RawService>,
}

/// Where each table name was written. Keys always carry a span, in both `[processes.web]`
/// and `processes.web.replicas = 2`. A second pass, only run to report an error, because
/// `serde_path_to_error` cannot name a path segment whose key is `Spanned`.
#[derive(Deserialize)]
struct NameSpans {
    #[serde(default)]
    processes: BTreeMap<Spanned<String>, IgnoredAny>,
    #[serde(default)]
    resources: BTreeMap<Spanned<String>, IgnoredAny>,
    #[serde(default)]
    services: BTreeMap<Spanned<String>, IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    #[serde(default)]
    args: BTreeMap<String, Spanned<String>>,
    submodules: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealthCheck {
    path: Option<Spanned<String>>,
    timeout: Option<Spanned<toml::Value>>,
    interval: Option<Spanned<toml::Value>>,
    retries: Option<Spanned<i64>>,
    start_period: Option<Spanned<toml::Value>>,
    status: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    command: Option<Spanned<toml::Value>>,
    replicas: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResources {
    memory: Option<Spanned<toml::Value>>,
    cpus: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    command: Spanned<toml::Value>,
    timeout: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    image: Spanned<String>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    port: Option<Spanned<i64>>,
}

/// Parses the spec file's text.
pub fn parse(source: &str) -> Result<AppSpec, SpecError> {
    let deserializer = toml::Deserializer::new(source);
    let raw: RawSpec = serde_path_to_error::deserialize(deserializer).map_err(|e| {
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
        located(source, key, span, message)
    })?;
    Checker { source }.check(raw)
}

fn located(source: &str, key: Option<String>, span: Range<usize>, message: String) -> SpecError {
    let before = source.get(..span.start.min(source.len())).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    SpecError {
        key,
        line,
        column,
        message,
    }
}

struct Checker<'a> {
    source: &'a str,
}

impl Checker<'_> {
    /// Where `[section.name]` was written; the start of the file if it cannot be found,
    /// which only happens if the first pass and this one disagree about the document.
    fn name_span(&self, section: &str, name: &str) -> Range<usize> {
        let Ok(names) = toml::from_str::<NameSpans>(self.source) else {
            return 0..0;
        };
        let table = match section {
            "processes" => &names.processes,
            "resources" => &names.resources,
            _ => &names.services,
        };
        table
            .get_key_value(name)
            .map_or(0..0, |(key, _)| key.span())
    }

    fn err<T>(
        &self,
        key: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, SpecError> {
        Err(located(self.source, Some(key.into()), span, message.into()))
    }

    fn check(&self, raw: RawSpec) -> Result<AppSpec, SpecError> {
        let mut spec = AppSpec::default();
        if let Some(port) = raw.port {
            spec.port = Some(self.port("port", &port)?);
        }
        if let Some(path) = raw.dockerfile {
            match DockerfilePath::parse(path.get_ref()) {
                Ok(p) => spec.dockerfile = Some(p.as_str().to_owned()),
                Err(e) => return self.err("dockerfile", path.span(), e.message),
            }
        }
        let build = raw.build.unwrap_or_default();
        spec.submodules = build.submodules.unwrap_or(false);
        for (name, value) in build.args {
            if !is_env_name(&name) {
                return self.err(
                    format!("build.args.{name}"),
                    value.span(),
                    "a build arg name is letters, digits and '_', not starting with a digit",
                );
            }
            spec.build_args.insert(name, value.into_inner());
        }
        if let Some(h) = raw.healthcheck {
            spec.healthcheck = self.healthcheck(h)?;
        }
        for (name, p) in raw.processes {
            let key = format!("processes.{name}");
            self.name("processes", &name)?;
            let mut process = ProcessSpec::default();
            if let Some(command) = p.command {
                process.command = Some(self.command(&format!("{key}.command"), &command)?);
            }
            if let Some(replicas) = p.replicas {
                let n = *replicas.get_ref();
                process.replicas = u32::try_from(n)
                    .ok()
                    .filter(|n| *n <= MAX_REPLICAS)
                    .map_or_else(
                        || {
                            self.err(
                                format!("{key}.replicas"),
                                replicas.span(),
                                format!("must be a whole number from 0 to {MAX_REPLICAS}"),
                            )
                        },
                        Ok,
                    )?;
            }
            spec.processes.insert(name, process);
        }
        for (name, r) in raw.resources {
            let key = format!("resources.{name}");
            let Some(process) = spec.processes.get_mut(&name) else {
                return self.err(
                    key,
                    self.name_span("resources", &name),
                    // Escaped: a quoted TOML key can hold a newline, and messages are one line.
                    format!(
                        "there is no process {} (declare it under [processes.{}])",
                        name.escape_debug(),
                        name.escape_debug()
                    ),
                );
            };
            if let Some(memory) = r.memory {
                process.memory = Some(self.memory(&format!("{key}.memory"), &memory)?);
            }
            if let Some(cpus) = r.cpus {
                let value = match cpus.get_ref() {
                    toml::Value::Float(f) => *f,
                    toml::Value::Integer(i) => *i as f64,
                    _ => {
                        return self.err(
                            format!("{key}.cpus"),
                            cpus.span(),
                            "must be a number such as 0.5 or 2",
                        );
                    }
                };
                // Docker counts billionths of a CPU; below 0.01 the limit rounds toward 0,
                // which Docker reads as no limit at all.
                if !(0.01..=MAX_CPUS).contains(&value) {
                    return self.err(
                        format!("{key}.cpus"),
                        cpus.span(),
                        format!("must be from 0.01 to {MAX_CPUS}"),
                    );
                }
                process.cpus = Some(value);
            }
        }
        if let Some(t) = raw.test {
            let command = self.command("test.command", &t.command)?;
            let timeout = match t.timeout {
                Some(d) => self.nonzero_duration("test.timeout", &d)?,
                None => Duration::from_secs(600),
            };
            spec.test = Some(TestSpec { command, timeout });
        }
        for (name, s) in raw.services {
            let key = format!("services.{name}");
            self.name("services", &name)?;
            if s.image.get_ref().trim().is_empty() {
                return self.err(format!("{key}.image"), s.image.span(), "must name an image");
            }
            let port = s
                .port
                .map(|p| self.port(&format!("{key}.port"), &p))
                .transpose()?;
            let mut env = BTreeMap::new();
            for (var, value) in s.env {
                if !is_env_name(&var) {
                    return self.err(
                        format!("{key}.env.{var}"),
                        value.span(),
                        "an env var name is letters, digits and '_', not starting with a digit",
                    );
                }
                env.insert(var, value.into_inner());
            }
            spec.services.insert(
                name,
                ServiceSpec {
                    image: s.image.into_inner(),
                    env,
                    port,
                },
            );
        }
        Ok(spec)
    }

    fn port(&self, key: &str, port: &Spanned<i64>) -> Result<u16, SpecError> {
        u16::try_from(*port.get_ref())
            .ok()
            .filter(|p| *p > 0)
            .map_or_else(
                || self.err(key, port.span(), "must be a port from 1 to 65535"),
                Ok,
            )
    }

    /// Names become parts of container names and DNS aliases.
    fn name(&self, section: &str, n: &str) -> Result<(), SpecError> {
        let valid = n.len() <= 30
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(())
        } else {
            self.err(
                format!("{section}.{n}"),
                self.name_span(section, n),
                "a name is 1 to 30 lowercase letters, digits and '-', starting with a letter",
            )
        }
    }

    fn healthcheck(&self, h: RawHealthCheck) -> Result<HealthCheck, SpecError> {
        let mut check = HealthCheck::default();
        if let Some(path) = h.path {
            let p = path.get_ref();
            if !p.starts_with('/') || p.chars().any(|c| c.is_control() || c == ' ') {
                return self.err(
                    "healthcheck.path",
                    path.span(),
                    "must be a URL path starting with '/'",
                );
            }
            check.path = p.clone();
        }
        if let Some(t) = h.timeout {
            check.timeout = Some(self.nonzero_duration("healthcheck.timeout", &t)?);
        }
        if let Some(i) = h.interval {
            check.interval = self.nonzero_duration("healthcheck.interval", &i)?;
        }
        if let Some(s) = h.start_period {
            check.start_period = self.duration("healthcheck.start_period", &s)?;
        }
        if let Some(r) = h.retries {
            check.retries = u32::try_from(*r.get_ref())
                .ok()
                .filter(|n| (1..=MAX_RETRIES).contains(n))
                .map_or_else(
                    || {
                        self.err(
                            "healthcheck.retries",
                            r.span(),
                            format!("must be between 1 and {MAX_RETRIES}"),
                        )
                    },
                    Ok,
                )?;
        }
        if let Some(s) = h.status {
            check.status = self.status(&s)?;
        }
        Ok(check)
    }

    fn status(&self, value: &Spanned<toml::Value>) -> Result<StatusRange, SpecError> {
        let bad = || {
            self.err(
                "healthcheck.status",
                value.span(),
                "must be a status such as 200 or a range such as \"200-399\" (100 to 599)",
            )
        };
        let code = |raw: &str| {
            raw.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        let range = match value.get_ref() {
            toml::Value::Integer(i) => u16::try_from(*i)
                .ok()
                .filter(|c| (100..=599).contains(c))
                .map(|c| (c, c)),
            toml::Value::String(s) => match s.split_once('-') {
                Some((a, b)) => code(a).zip(code(b)),
                None => code(s).map(|c| (c, c)),
            },
            _ => None,
        };
        match range {
            Some((min, max)) if min <= max => Ok(StatusRange { min, max }),
            _ => bad(),
        }
    }

    fn duration(&self, key: &str, value: &Spanned<toml::Value>) -> Result<Duration, SpecError> {
        let parsed = match value.get_ref() {
            toml::Value::Integer(secs) => u64::try_from(*secs).ok().map(Duration::from_secs),
            toml::Value::String(s) => humantime::parse_duration(s.trim()).ok(),
            _ => None,
        };
        // Stored in whole milliseconds: anything finer would not survive a release's
        // snapshot of the spec.
        match parsed {
            Some(d) if d <= Duration::from_secs(24 * 3600) && d.subsec_nanos() % 1_000_000 == 0 => {
                Ok(d)
            }
            _ => self.err(
                key,
                value.span(),
                "must be a duration in whole milliseconds such as \"500ms\", \"30s\" or \"2m\" (or whole seconds), at most 24h",
            ),
        }
    }

    /// A zero timeout fails every attempt and a zero interval hammers the container.
    fn nonzero_duration(
        &self,
        key: &str,
        value: &Spanned<toml::Value>,
    ) -> Result<Duration, SpecError> {
        match self.duration(key, value)? {
            Duration::ZERO => self.err(key, value.span(), "must be longer than 0"),
            d => Ok(d),
        }
    }

    fn memory(&self, key: &str, value: &Spanned<toml::Value>) -> Result<u64, SpecError> {
        let bytes = match value.get_ref() {
            toml::Value::Integer(b) => u64::try_from(*b).ok(),
            toml::Value::String(s) => parse_bytes(s),
            _ => None,
        };
        match bytes {
            Some(b) if b >= MIN_MEMORY => Ok(b),
            Some(_) => self.err(
                key,
                value.span(),
                "must be at least 6 MiB (Docker's minimum)",
            ),
            None => self.err(
                key,
                value.span(),
                "must be a size such as \"256m\", \"1g\" or \"512MiB\" (or bytes)",
            ),
        }
    }

    fn command(&self, key: &str, value: &Spanned<toml::Value>) -> Result<Vec<String>, SpecError> {
        let words = match value.get_ref() {
            toml::Value::String(s) => match shell_words::split(s) {
                Ok(words) => words,
                Err(e) => {
                    return self.err(
                        key,
                        value.span(),
                        format!("cannot split the command into words: {e}"),
                    );
                }
            },
            toml::Value::Array(items) => {
                let mut words = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => words.push(s.clone()),
                        _ => {
                            return self.err(
                                key,
                                value.span(),
                                "an array command holds strings only",
                            );
                        }
                    }
                }
                words
            }
            _ => return self.err(key, value.span(), "must be a string or an array of strings"),
        };
        if words.is_empty() {
            return self.err(key, value.span(), "must not be empty");
        }
        Ok(words)
    }
}

/// "256m", "1g", "512MiB", "100k", "1048576": sizes as Docker users write them.
pub fn parse_bytes(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Durations as whole milliseconds in the stored JSON.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

mod opt_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the module documentation, which users copy from.
    const EXAMPLE: &str = r#"port = 8080
dockerfile = "docker/Dockerfile"

[build]
args = { RUST_VERSION = "1.95" }
submodules = true

[healthcheck]
path = "/healthz"
timeout = "60s"
interval = "2s"
retries = 3
start_period = "5s"
status = "200-399"

[processes.web]
command = "busybox httpd -f -p 8080 -h /www"
replicas = 2

[processes.worker]
command = ["/app/worker", "--queue", "default"]
replicas = 1

[resources.web]
memory = "256m"
cpus = 0.5

[test]
command = "make test"
timeout = "10m"

[services.redis]
image = "redis:7"
env = { REDIS_ARGS = "--save ''" }
port = 6379
"#;

    fn error(source: &str) -> SpecError {
        parse(source).unwrap_err()
    }

    #[test]
    fn the_documentation_shows_the_tested_example() {
        let doc: String = include_str!("spec.rs")
            .lines()
            .map_while(|l| l.strip_prefix("//!"))
            .skip_while(|l| l.trim() != "```toml")
            .skip(1)
            .take_while(|l| l.trim() != "```")
            .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
            .collect();
        assert_eq!(doc, EXAMPLE);
    }

    #[test]
    fn the_documented_example_parses() {
        let spec = parse(EXAMPLE).unwrap();
        let expected = AppSpec {
            port: Some(8080),
            dockerfile: Some("docker/Dockerfile".into()),
            build_args: BTreeMap::from([("RUST_VERSION".into(), "1.95".into())]),
            submodules: true,
            healthcheck: HealthCheck {
                path: "/healthz".into(),
                timeout: Some(Duration::from_secs(60)),
                interval: Duration::from_secs(2),
                retries: 3,
                start_period: Duration::from_secs(5),
                status: StatusRange { min: 200, max: 399 },
            },
            processes: BTreeMap::from([
                (
                    "web".into(),
                    ProcessSpec {
                        command: Some(
                            ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
                                .map(String::from)
                                .to_vec(),
                        ),
                        replicas: 2,
                        memory: Some(256 << 20),
                        cpus: Some(0.5),
                    },
                ),
                (
                    "worker".into(),
                    ProcessSpec {
                        command: Some(
                            ["/app/worker", "--queue", "default"]
                                .map(String::from)
                                .to_vec(),
                        ),
                        replicas: 1,
                        memory: None,
                        cpus: None,
                    },
                ),
            ]),
            test: Some(TestSpec {
                command: vec!["make".into(), "test".into()],
                timeout: Duration::from_secs(600),
            }),
            services: BTreeMap::from([(
                "redis".into(),
                ServiceSpec {
                    image: "redis:7".into(),
                    env: BTreeMap::from([("REDIS_ARGS".into(), "--save ''".into())]),
                    port: Some(6379),
                },
            )]),
        };
        assert_eq!(spec, expected);
        assert!(spec.healthcheck.status.contains(200));
        assert!(spec.healthcheck.status.contains(399));
        assert!(!spec.healthcheck.status.contains(404));
        assert_eq!(spec.process("worker").unwrap().replicas, 1);
        assert!(spec.process("cron").is_none());
    }

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(parse("").unwrap(), AppSpec::default());
        assert_eq!(parse("# nothing\n\n").unwrap(), AppSpec::default());
        let d = AppSpec::default();
        assert_eq!(d.processes.len(), 1);
        assert_eq!(d.process(WEB), Some(&ProcessSpec::default()));
        assert_eq!(d.processes["web"].replicas, 1);
        assert_eq!(d.healthcheck.path, "/");
        assert_eq!(d.healthcheck.retries, 1);
        assert_eq!(d.healthcheck.interval, Duration::from_secs(1));
        assert!(d.healthcheck.status.contains(100) && d.healthcheck.status.contains(404));
        assert!(!d.healthcheck.status.contains(500));
    }

    #[test]
    fn web_is_present_even_when_only_workers_are_declared() {
        let spec = parse("[processes.worker]\ncommand = \"work\"\n").unwrap();
        assert_eq!(spec.process("web"), Some(&ProcessSpec::default()));
        assert!(ProcessSpec::is_web("web") && !ProcessSpec::is_web("worker"));
    }

    #[test]
    fn values_take_every_documented_shape() {
        // Dotted keys and inline tables build the same tables as [headers].
        let spec = parse(
            r#"
processes.worker.replicas = 3
resources.worker = { memory = 268435456, cpus = 2 }
[processes.web]
replicas = 0
[resources.web]
memory = "512MiB"
[healthcheck]
timeout = 30
interval = "500ms"
start_period = "1h"
status = 204
[test]
command = ["cargo", "test"]
"#,
        )
        .unwrap();
        let worker = spec.process("worker").unwrap();
        assert_eq!(
            (worker.replicas, worker.memory, worker.cpus),
            (3, Some(256 << 20), Some(2.0))
        );
        let web = spec.process("web").unwrap();
        assert_eq!((web.replicas, web.memory), (0, Some(512 << 20)));
        let h = &spec.healthcheck;
        assert_eq!(h.timeout, Some(Duration::from_secs(30)));
        assert_eq!(h.interval, Duration::from_millis(500));
        assert_eq!(h.start_period, Duration::from_secs(3600));
        assert_eq!(h.status, StatusRange { min: 204, max: 204 });
        let test = spec.test.unwrap();
        assert_eq!(test.command, ["cargo", "test"]);
        assert_eq!(test.timeout, Duration::from_secs(600));

        let spec = parse("[healthcheck]\nstatus = \"200\"\n").unwrap();
        assert_eq!(spec.healthcheck.status, StatusRange { min: 200, max: 200 });
        let spec = parse("[resources.web]\nmemory = \"1g\"\n").unwrap();
        assert_eq!(spec.processes["web"].memory, Some(1 << 30));
    }

    #[test]
    fn submodules_are_fetched_only_when_enabled() {
        let submodules = |source: &str| parse(source).unwrap().submodules;
        assert!(!submodules(""));
        assert!(!submodules("[build]\nargs = { A = \"1\" }\n"));
        assert!(!submodules("[build]\nsubmodules = false\n"));
        assert!(submodules("[build]\nsubmodules = true\n"));
        assert!(submodules("build.submodules = true\n"));
        assert!(submodules("build = { submodules = true }\n"));
        let both = parse("[build]\nsubmodules = true\nargs = { A = \"1\" }\n").unwrap();
        assert!(both.submodules);
        assert_eq!(both.build_args["A"], "1");
        // Specs stored before the key existed read as off.
        let mut json = serde_json::to_value(AppSpec::default()).unwrap();
        json.as_object_mut().unwrap().remove("submodules");
        let old: AppSpec = serde_json::from_value(json).unwrap();
        assert_eq!(old, AppSpec::default());
    }

    #[test]
    fn commands_split_like_a_shell() {
        let command = |toml: &str| {
            parse(&format!("[processes.web]\ncommand = {toml}\n"))
                .map(|s| s.processes["web"].command.clone().unwrap())
        };
        assert_eq!(
            command(r#"'sh -c "echo \"hi there\"" --name=a\ b'"#).unwrap(),
            ["sh", "-c", "echo \"hi there\"", "--name=a b"]
        );
        assert_eq!(
            command(r#""python -m http.server  '8000'""#).unwrap(),
            ["python", "-m", "http.server", "8000"]
        );
        // An array is taken literally: no splitting, no unquoting.
        assert_eq!(
            command(r#"["echo", "a b", "'c'"]"#).unwrap(),
            ["echo", "a b", "'c'"]
        );
        for (bad, message) in [
            (r#""echo 'unterminated""#, "closing quote"),
            (r#""   ""#, "empty"),
            ("[]", "empty"),
            (r#"["echo", 1]"#, "strings only"),
            ("42", "string or an array"),
        ] {
            let e = command(bad).unwrap_err();
            assert_eq!(
                (e.key.as_deref(), e.line, e.column),
                (Some("processes.web.command"), 2, 11),
                "{bad}: {e}"
            );
            assert!(e.message.contains(message), "{bad}: {e}");
        }
    }

    #[test]
    fn json_round_trip_is_exact() {
        for spec in [parse(EXAMPLE).unwrap(), AppSpec::default()] {
            let json = serde_json::to_string(&spec).unwrap();
            let back: AppSpec = serde_json::from_str(&json).unwrap();
            assert_eq!(back, spec, "{json}");
        }
        // The stored shape: durations are whole milliseconds.
        let json = serde_json::to_value(parse(EXAMPLE).unwrap()).unwrap();
        assert_eq!(json["healthcheck"]["interval"], 2000);
        assert_eq!(json["healthcheck"]["timeout"], 60_000);
        assert_eq!(json["test"]["timeout"], 600_000);
        let json = serde_json::to_value(AppSpec::default()).unwrap();
        assert!(json["healthcheck"]["timeout"].is_null());
    }

    #[test]
    fn errors_name_the_key_and_where_it_is() {
        // (source, key, line, column, part of the message)
        let cases: &[(&str, Option<&str>, usize, usize, &str)] = &[
            // TOML syntax
            (
                "port = 8080\n[healthcheck\n",
                None,
                2,
                13,
                "invalid table header",
            ),
            ("port = \n", None, 1, 8, "invalid string"),
            ("port = 1\nport = 2\n", None, 2, 1, "duplicate key"),
            // unknown keys, at every level
            ("bogus = 1\n", Some("bogus"), 1, 1, "unknown field `bogus`"),
            ("[bogus]\n", Some("bogus"), 1, 2, "unknown field `bogus`"),
            (
                "[healthcheck]\npath = \"/\"\nretrys = 3\n",
                Some("healthcheck.retrys"),
                3,
                1,
                "unknown field `retrys`",
            ),
            (
                "[processes.web]\nreplicas = 2\nreplica = 3\n",
                Some("processes.web.replica"),
                3,
                1,
                "unknown field `replica`",
            ),
            (
                "[services.db]\nimage = \"postgres\"\nenvironment = {}\n",
                Some("services.db.environment"),
                3,
                1,
                "unknown field `environment`",
            ),
            // wrong types
            (
                "[processes.worker]\nreplicas = \"two\"\n",
                Some("processes.worker.replicas"),
                2,
                12,
                "invalid type",
            ),
            (
                "[build]\nargs = { X = 1 }\n",
                Some("build.args.X"),
                2,
                14,
                "invalid type",
            ),
            ("processes = 5\n", Some("processes"), 1, 13, "invalid type"),
            (
                "[build]\nsubmodules = \"yes\"\n",
                Some("build.submodules"),
                2,
                14,
                "invalid type",
            ),
            (
                "[build]\nsubmodule = true\n",
                Some("build.submodule"),
                2,
                1,
                "unknown field `submodule`",
            ),
            (
                "build.submodules = 1\n",
                Some("build.submodules"),
                1,
                20,
                "expected a boolean",
            ),
            (
                "[services.redis]\nport = 6379\n",
                Some("services.redis"),
                1,
                1,
                "missing field `image`",
            ),
            // out-of-range and malformed values
            ("port = 70000\n", Some("port"), 1, 8, "1 to 65535"),
            (
                "[processes.worker]\nreplicas = 21\n",
                Some("processes.worker.replicas"),
                2,
                12,
                "from 0 to 20",
            ),
            (
                "processes.web.replicas = -1\n",
                Some("processes.web.replicas"),
                1,
                26,
                "from 0 to 20",
            ),
            (
                "[healthcheck]\npath = \"/\"\ninterval = \"1s\"\nretries = 0\n",
                Some("healthcheck.retries"),
                4,
                11,
                "between 1 and 100",
            ),
            (
                "[healthcheck]\npath = \"healthz\"\n",
                Some("healthcheck.path"),
                2,
                8,
                "starting with '/'",
            ),
            (
                "[resources.web]\nmemory = \"lots\"\n",
                Some("resources.web.memory"),
                2,
                10,
                "a size such as",
            ),
            (
                "[resources.web]\nmemory = \"1m\"\n",
                Some("resources.web.memory"),
                2,
                10,
                "6 MiB",
            ),
            (
                "[resources.web]\ncpus = 0\n",
                Some("resources.web.cpus"),
                2,
                8,
                "from 0.01",
            ),
            (
                "[resources.web]\ncpus = 1e-10\n",
                Some("resources.web.cpus"),
                2,
                8,
                "from 0.01",
            ),
            (
                "[healthcheck]\ninterval = \"1us\"\n",
                Some("healthcheck.interval"),
                2,
                12,
                "whole milliseconds",
            ),
            ("\r", None, 1, 1, "not valid TOML"),
            (
                "[resources.web]\ncpus = \"half\"\n",
                Some("resources.web.cpus"),
                2,
                8,
                "a number",
            ),
            // [resources.X] for a process that does not exist: point at X
            (
                "[processes.worker]\n\n[resources.db]\nmemory = \"1g\"\n",
                Some("resources.db"),
                3,
                12,
                "no process db",
            ),
            (
                "resources.db.memory = \"1g\"\n",
                Some("resources.db"),
                1,
                11,
                "no process db",
            ),
            (
                "[healthcheck]\nstatus = \"300-200\"\n",
                Some("healthcheck.status"),
                2,
                10,
                "200-399",
            ),
            (
                "[healthcheck]\nstatus = 600\n",
                Some("healthcheck.status"),
                2,
                10,
                "200-399",
            ),
            (
                "[healthcheck]\nstatus = \"2xx\"\n",
                Some("healthcheck.status"),
                2,
                10,
                "200-399",
            ),
            (
                "[healthcheck]\ninterval = \"soon\"\n",
                Some("healthcheck.interval"),
                2,
                12,
                "a duration",
            ),
            (
                "[healthcheck]\ntimeout = \"0s\"\n",
                Some("healthcheck.timeout"),
                2,
                11,
                "longer than 0",
            ),
            (
                "[test]\ncommand = \"make\"\ntimeout = 1.5\n",
                Some("test.timeout"),
                3,
                11,
                "a duration",
            ),
            (
                "[healthcheck]\nstart_period = \"2d\"\n",
                Some("healthcheck.start_period"),
                2,
                16,
                "at most 24h",
            ),
            // names
            (
                "[processes.Web]\n",
                Some("processes.Web"),
                1,
                12,
                "lowercase",
            ),
            (
                "[services.my_db]\nimage = \"postgres\"\n",
                Some("services.my_db"),
                1,
                11,
                "lowercase",
            ),
            (
                "[services.db]\nimage = \" \"\n",
                Some("services.db.image"),
                2,
                9,
                "must name an image",
            ),
            (
                "[build]\nargs = { 1X = \"a\" }\n",
                Some("build.args.1X"),
                2,
                15,
                "build arg name",
            ),
            (
                "dockerfile = \"../Dockerfile\"\n",
                Some("dockerfile"),
                1,
                14,
                "inside the repository",
            ),
            // columns count characters, not bytes
            (
                "[services.a]\nimage = \"ä\"\nenv = { \"é\" = \"x\" }\n",
                Some("services.a.env.é"),
                3,
                15,
                "env var name",
            ),
        ];
        for &(source, key, line, column, message) in cases {
            let e = error(source);
            assert_eq!(
                (e.key.as_deref(), e.line, e.column),
                (key, line, column),
                "{source:?}: {e}"
            );
            assert!(e.message.contains(message), "{source:?}: {e}");
            assert!(!e.message.contains('\n'), "{source:?}: {e}");
        }
    }

    #[test]
    fn errors_display_location_key_and_message() {
        let e = error("[healthcheck]\npath = \"/\"\ninterval = \"1s\"\nretries = 0\n");
        assert_eq!(
            e.to_string(),
            "line 4, column 11: healthcheck.retries: must be between 1 and 100"
        );
        let e = error("port = 8080\n[healthcheck\n");
        assert!(e.to_string().starts_with("line 2, column 13: "), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256m"), Some(256 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("100k"), Some(100 << 10));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("1t"), None);
        assert_eq!(parse_bytes("-1m"), None);
        assert_eq!(parse_bytes("99999999999999g"), None);
    }
}
