//! The app spec file, `slipway.toml` at the repository root (the path is set per app).
//! It declares what the API's fields cannot: the port, the Dockerfile and build args, the
//! health check, process types with their commands, replicas and resource limits, the
//! test command and companion services. A repository without it gets `AppSpec::default()`.
//!
//! ```toml
//! port = 8080
//! dockerfile = "docker/Dockerfile"
//!
//! [build]
//! args = { RUST_VERSION = "1.95" }
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
//! Every mistake is reported with its key (`processes.web.replicas`) and its line and
//! column, because the user has to find it in a file Slipway never shows them.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    port: Option<Spanned<i64>>,
    dockerfile: Option<Spanned<String>>,
    build: Option<RawBuild>,
    healthcheck: Option<RawHealthCheck>,
    #[serde(default)]
    processes: BTreeMap<String, Spanned<RawProcess>>,
    #[serde(default)]
    resources: BTreeMap<String, Spanned<RawResources>>,
    test: Option<RawTest>,
    #[serde(default)]
    services: BTreeMap<String, Spanned<RawService>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    #[serde(default)]
    args: BTreeMap<String, Spanned<String>>,
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
        located(source, key, span, inner.message().to_owned())
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
        for (name, value) in raw.build.unwrap_or_default().args {
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
            self.name(&key, &name, p.span())?;
            let p = p.into_inner();
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
            let span = r.span();
            let r = r.into_inner();
            let Some(process) = spec.processes.get_mut(&name) else {
                return self.err(
                    key,
                    span,
                    format!("there is no process {name} (declare it under [processes.{name}])"),
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
                if !(value > 0.0 && value <= MAX_CPUS) {
                    return self.err(
                        format!("{key}.cpus"),
                        cpus.span(),
                        format!("must be more than 0 and at most {MAX_CPUS}"),
                    );
                }
                process.cpus = Some(value);
            }
        }
        if let Some(t) = raw.test {
            let command = self.command("test.command", &t.command)?;
            let timeout = match t.timeout {
                Some(d) => self.duration("test.timeout", &d)?,
                None => Duration::from_secs(600),
            };
            spec.test = Some(TestSpec { command, timeout });
        }
        for (name, s) in raw.services {
            let key = format!("services.{name}");
            self.name(&key, &name, s.span())?;
            let s = s.into_inner();
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

    fn name(&self, key: &str, n: &str, span: Range<usize>) -> Result<(), SpecError> {
        let valid = n.len() <= 30
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(())
        } else {
            self.err(
                key,
                span,
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
            check.timeout = Some(self.duration("healthcheck.timeout", &t)?);
        }
        if let Some(i) = h.interval {
            check.interval = self.duration("healthcheck.interval", &i)?;
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
        match parsed {
            Some(d) if d <= Duration::from_secs(24 * 3600) => Ok(d),
            _ => self.err(key, value.span(), "must be a duration such as \"500ms\", \"30s\" or \"2m\" (or whole seconds), at most 24h"),
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

    const FULL: &str = r#"port = 8080
dockerfile = "docker/Dockerfile"

[build]
args = { RUST_VERSION = "1.95" }

[healthcheck]
path = "/healthz"
timeout = "60s"
interval = "2s"
retries = 3
start_period = 5
status = "200-399"

[processes.web]
command = "busybox httpd -f -p 8080 -h '/www root'"
replicas = 2

[processes.worker]
command = ["/app/worker", "--queue", "default"]

[resources.web]
memory = "256m"
cpus = 0.5

[test]
command = "make test"

[services.redis]
image = "redis:7"
env = { REDIS_ARGS = "--save ''" }
port = 6379
"#;

    #[test]
    fn the_documented_example_parses() {
        let spec = parse(FULL).unwrap();
        assert_eq!(spec.port, Some(8080));
        assert_eq!(spec.dockerfile.as_deref(), Some("docker/Dockerfile"));
        assert_eq!(spec.build_args["RUST_VERSION"], "1.95");
        let h = &spec.healthcheck;
        assert_eq!(h.path, "/healthz");
        assert_eq!(h.timeout, Some(Duration::from_secs(60)));
        assert_eq!(h.interval, Duration::from_secs(2));
        assert_eq!(h.retries, 3);
        assert_eq!(h.start_period, Duration::from_secs(5));
        assert!(h.status.contains(200) && h.status.contains(399) && !h.status.contains(404));
        let web = &spec.processes["web"];
        assert_eq!(
            web.command.as_deref().unwrap(),
            ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www root"]
        );
        assert_eq!(
            (web.replicas, web.memory, web.cpus),
            (2, Some(256 << 20), Some(0.5))
        );
        let worker = &spec.processes["worker"];
        assert_eq!(
            worker.command.as_deref().unwrap(),
            ["/app/worker", "--queue", "default"]
        );
        assert_eq!((worker.replicas, worker.memory), (1, None));
        let test = spec.test.as_ref().unwrap();
        assert_eq!(test.command, ["make", "test"]);
        assert_eq!(test.timeout, Duration::from_secs(600));
        assert_eq!(spec.services["redis"].port, Some(6379));
        assert_eq!(spec.services["redis"].env["REDIS_ARGS"], "--save ''");
    }

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(parse("").unwrap(), AppSpec::default());
        assert_eq!(parse("# nothing\n").unwrap(), AppSpec::default());
        let d = AppSpec::default();
        assert_eq!(d.processes["web"].replicas, 1);
        assert!(d.healthcheck.status.contains(404) && !d.healthcheck.status.contains(500));
    }

    #[test]
    fn json_round_trip_is_exact() {
        let spec = parse(FULL).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let back: AppSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }

    fn error(source: &str) -> SpecError {
        parse(source).unwrap_err()
    }

    #[test]
    fn errors_name_the_key_and_where_it_is() {
        let e = error("port = 8080\n[processes.web]\nreplicas = \"two\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line, e.column),
            (Some("processes.web.replicas"), 3, 12),
            "{e}"
        );

        let e = error("[healthcheck]\npath = \"/\"\nretrys = 3\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("healthcheck.retrys"), 3),
            "{e}"
        );
        assert!(e.message.contains("retrys"), "{e}");

        let e = error("[processes.web]\nreplicas = 21\n");
        assert_eq!(
            (e.key.as_deref(), e.line, e.column),
            (Some("processes.web.replicas"), 2, 12),
            "{e}"
        );

        let e = error("[processes.web]\n\n[resources.web]\nmemory = \"lots\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("resources.web.memory"), 4),
            "{e}"
        );

        let e = error("[resources.db]\nmemory = \"1g\"\n");
        assert_eq!((e.key.as_deref(), e.line), (Some("resources.db"), 1), "{e}");

        let e = error("[healthcheck]\nstatus = \"300-200\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("healthcheck.status"), 2),
            "{e}"
        );

        let e = error("[healthcheck]\ntimeout = \"soon\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("healthcheck.timeout"), 2),
            "{e}"
        );

        let e = error("port = \n");
        assert_eq!(e.line, 1, "{e}");

        let e = error("[processes.Web]\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("processes.Web"), 1),
            "{e}"
        );

        let e = error("[resources.web]\nmemory = \"1m\"\n");
        assert!(e.message.contains("6 MiB"), "{e}");

        let shown = error("port = 70000\n").to_string();
        assert_eq!(
            shown,
            "line 1, column 8: port: must be a port from 1 to 65535"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256m"), Some(256 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("1t"), None);
    }
}
