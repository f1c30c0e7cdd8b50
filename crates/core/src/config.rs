//! Configuration from the environment. Parsing takes a lookup function instead of
//! reading `std::env` so it stays pure and testable; the binaries pass `std::env::var`.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// Like `Invalid`, without echoing the value: it is a secret.
    #[error("{name} is invalid: {reason}")]
    InvalidSecret { name: &'static str, reason: String },
}

/// The 32-byte key that seals config vars (SLIPWAY_SECRET_KEY).
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64 (what `openssl rand -base64 32` prints) or 64 hex digits.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        use base64::Engine as _;
        let raw = raw.trim();
        let bytes = if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&raw[i * 2..i * 2 + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()
        } else {
            base64::engine::general_purpose::STANDARD.decode(raw).ok()
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Self)
            .ok_or(ConfigError::InvalidSecret {
                name: "SLIPWAY_SECRET_KEY",
                reason: "expected 32 bytes as base64 or 64 hex digits; generate one with `openssl rand -base64 32`".into(),
            })
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A secret that never prints itself (Debug shows `***`).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    /// None: bollard's local defaults (the unix socket).
    pub docker_host: Option<String>,
    pub base_domain: String,
    pub port: u16,
    pub work_dir: PathBuf,
    /// The network Traefik and the worker share; each app gets a network of its own
    /// named after it (`labels::app_network`).
    pub network: String,
    /// Where app networks get their addresses (SLIPWAY_APP_SUBNETS).
    pub app_subnets: crate::subnets::AppSubnets,
    pub worker_concurrency: usize,
    pub poll_interval: Duration,
    pub publish_ports: bool,
    pub allow_local_repos: bool,
    pub clone_timeout: Duration,
    pub build_timeout: Duration,
    pub release_timeout: Duration,
    pub lease_duration: Duration,
    /// How many times a deployment is started before a lost worker fails it for good.
    pub max_attempts: i32,
    pub log_json: bool,
    /// Set: TLS is on (Let's Encrypt through Traefik) and app URLs are https.
    pub acme_email: Option<String>,
    /// Images kept per app for rollbacks (the newest releases').
    pub keep_images: usize,
    /// Memory limit (bytes) of app containers whose spec sets none; `None`: unlimited.
    pub default_memory: Option<u64>,
    pub default_cpus: Option<f64>,
    /// Restarts Docker attempts for a crashed app container before the release is
    /// marked crashed.
    pub restart_max_retries: i64,
    /// Seals config vars at rest; required once any exist.
    pub secret_key: Option<SecretKey>,
    /// Where slipway-worker serves `/metrics`; `None`: not at all.
    pub worker_metrics_port: Option<u16>,
    /// How long a stopping worker lets running deployments finish before handing them
    /// back to the queue (SLIPWAY_SHUTDOWN_GRACE).
    pub shutdown_grace: Duration,
    /// The most a repository fetch may transfer (SLIPWAY_MAX_REPO_SIZE).
    pub max_repo_size: u64,
    /// The most file content a build context may hold (SLIPWAY_MAX_CONTEXT_SIZE).
    pub max_context_size: u64,
    /// Bytes of build and release output stored per deployment (SLIPWAY_LOG_LIMIT).
    pub log_limit: u64,
    /// API requests per minute per token (SLIPWAY_RATE_LIMIT); 0: no limit.
    pub rate_limit: u32,
    /// Longest an API request may take to produce its response.
    pub request_timeout: Duration,
    /// Most processes/threads one app container may run (SLIPWAY_PIDS_LIMIT).
    pub pids_limit: i64,
    /// An admin's API token chosen by the operator (SLIPWAY_ADMIN_TOKEN); the API makes
    /// it the `admin` user's at start-up.
    pub admin_token: Option<Secret>,
    /// Shared by the API and the workers (SLIPWAY_INTERNAL_TOKEN): the API presents it
    /// to a worker's internal server to read runtime logs. `None`: no such requests.
    pub internal_token: Option<Secret>,
    /// Where the API reaches this worker's internal server (SLIPWAY_WORKER_URL);
    /// `None`: `http://<host name>:<SLIPWAY_WORKER_METRICS_PORT>`.
    pub worker_url: Option<String>,
}

impl Config {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());
        let database_url = var("DATABASE_URL").ok_or(ConfigError::Missing("DATABASE_URL"))?;
        Ok(Self {
            database_url: Secret(database_url),
            docker_host: var("DOCKER_HOST"),
            base_domain: parse_domain(var("BASE_DOMAIN"))?,
            port: parse_num("PORT", var("PORT"), 8080u16, 1)?,
            work_dir: var("SLIPWAY_WORK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/var/lib/slipway/work")),
            network: parse_network(var("SLIPWAY_NETWORK"))?,
            app_subnets: crate::subnets::AppSubnets::parse(
                var("SLIPWAY_APP_SUBNETS").as_deref(),
                var("SLIPWAY_APP_SUBNET_SIZE").as_deref(),
            )
            .map_err(|reason| {
                invalid(
                    "SLIPWAY_APP_SUBNETS",
                    &format!(
                        "{} (size {})",
                        var("SLIPWAY_APP_SUBNETS")
                            .unwrap_or_else(|| crate::subnets::DEFAULT_POOL.into()),
                        var("SLIPWAY_APP_SUBNET_SIZE").unwrap_or_else(|| "24".into())
                    ),
                    reason,
                )
            })?,
            worker_concurrency: parse_num(
                "SLIPWAY_WORKER_CONCURRENCY",
                var("SLIPWAY_WORKER_CONCURRENCY"),
                2usize,
                1,
            )?,
            poll_interval: parse_duration(
                "SLIPWAY_POLL_INTERVAL",
                var("SLIPWAY_POLL_INTERVAL"),
                Duration::from_secs(2),
            )?,
            publish_ports: parse_bool("SLIPWAY_PUBLISH_PORTS", var("SLIPWAY_PUBLISH_PORTS"))?,
            allow_local_repos: parse_bool(
                "SLIPWAY_ALLOW_LOCAL_REPOS",
                var("SLIPWAY_ALLOW_LOCAL_REPOS"),
            )?,
            clone_timeout: parse_duration(
                "SLIPWAY_CLONE_TIMEOUT",
                var("SLIPWAY_CLONE_TIMEOUT"),
                Duration::from_secs(600),
            )?,
            build_timeout: parse_duration(
                "SLIPWAY_BUILD_TIMEOUT",
                var("SLIPWAY_BUILD_TIMEOUT"),
                Duration::from_secs(1800),
            )?,
            release_timeout: parse_duration(
                "SLIPWAY_RELEASE_TIMEOUT",
                var("SLIPWAY_RELEASE_TIMEOUT"),
                Duration::from_secs(120),
            )?,
            lease_duration: parse_duration(
                "SLIPWAY_LEASE_DURATION",
                var("SLIPWAY_LEASE_DURATION"),
                Duration::from_secs(30),
            )?,
            max_attempts: parse_num("SLIPWAY_MAX_ATTEMPTS", var("SLIPWAY_MAX_ATTEMPTS"), 2i32, 1)?,
            acme_email: var("SLIPWAY_ACME_EMAIL")
                .map(|e| parse_email(e.trim()))
                .transpose()?,
            keep_images: parse_num("SLIPWAY_KEEP_IMAGES", var("SLIPWAY_KEEP_IMAGES"), 3usize, 1)?,
            default_memory: parse_memory(var("SLIPWAY_DEFAULT_MEMORY"))?,
            default_cpus: parse_cpus(var("SLIPWAY_DEFAULT_CPUS"))?,
            restart_max_retries: {
                let n = parse_num(
                    "SLIPWAY_RESTART_RETRIES",
                    var("SLIPWAY_RESTART_RETRIES"),
                    5i64,
                    0,
                )?;
                if n > 100 {
                    return Err(invalid(
                        "SLIPWAY_RESTART_RETRIES",
                        &n.to_string(),
                        "at most 100",
                    ));
                }
                n
            },
            secret_key: var("SLIPWAY_SECRET_KEY")
                .map(|k| SecretKey::parse(&k))
                .transpose()?,
            shutdown_grace: parse_duration(
                "SLIPWAY_SHUTDOWN_GRACE",
                var("SLIPWAY_SHUTDOWN_GRACE"),
                Duration::from_secs(20),
            )?,
            max_repo_size: parse_size(
                "SLIPWAY_MAX_REPO_SIZE",
                var("SLIPWAY_MAX_REPO_SIZE"),
                1 << 30,
            )?,
            max_context_size: parse_size(
                "SLIPWAY_MAX_CONTEXT_SIZE",
                var("SLIPWAY_MAX_CONTEXT_SIZE"),
                512 << 20,
            )?,
            log_limit: match var("SLIPWAY_LOG_LIMIT") {
                None => 10 * 1024 * 1024,
                Some(raw) => crate::spec::parse_bytes(&raw)
                    .filter(|b| *b >= 1024)
                    .ok_or_else(|| {
                        invalid(
                            "SLIPWAY_LOG_LIMIT",
                            &raw,
                            "expected a size of at least 1k, like 10m",
                        )
                    })?,
            },
            rate_limit: parse_num("SLIPWAY_RATE_LIMIT", var("SLIPWAY_RATE_LIMIT"), 600u32, 0)?,
            request_timeout: parse_duration(
                "SLIPWAY_REQUEST_TIMEOUT",
                var("SLIPWAY_REQUEST_TIMEOUT"),
                Duration::from_secs(30),
            )?,
            pids_limit: parse_num("SLIPWAY_PIDS_LIMIT", var("SLIPWAY_PIDS_LIMIT"), 512i64, 16)?,
            admin_token: var("SLIPWAY_ADMIN_TOKEN")
                .map(|t| parse_token("SLIPWAY_ADMIN_TOKEN", t.trim()))
                .transpose()?,
            internal_token: var("SLIPWAY_INTERNAL_TOKEN")
                .map(|t| parse_token("SLIPWAY_INTERNAL_TOKEN", t.trim()))
                .transpose()?,
            worker_url: var("SLIPWAY_WORKER_URL")
                .map(|raw| parse_worker_url(raw.trim()))
                .transpose()?,
            worker_metrics_port: match var("SLIPWAY_WORKER_METRICS_PORT").as_deref().map(str::trim)
            {
                Some("off") => None,
                raw => Some(parse_num(
                    "SLIPWAY_WORKER_METRICS_PORT",
                    raw.map(str::to_owned),
                    9091u16,
                    1,
                )?),
            },
            log_json: match var("SLIPWAY_LOG_FORMAT").as_deref() {
                None | Some("pretty") => false,
                Some("json") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "SLIPWAY_LOG_FORMAT",
                        value: other.to_owned(),
                        reason: "expected json or pretty".into(),
                    });
                }
            },
        })
    }

    /// Defaults suitable for tests: short timeouts, local repos allowed.
    pub fn for_tests(database_url: &str, network: &str, work_dir: PathBuf) -> Self {
        Self {
            database_url: Secret(database_url.to_owned()),
            docker_host: None,
            base_domain: "localhost".into(),
            port: 0,
            work_dir,
            network: network.to_owned(),
            app_subnets: crate::subnets::AppSubnets::parse(None, None)
                .unwrap_or(crate::subnets::AppSubnets::Docker),
            worker_concurrency: 2,
            poll_interval: Duration::from_millis(200),
            publish_ports: false,
            allow_local_repos: true,
            clone_timeout: Duration::from_secs(60),
            build_timeout: Duration::from_secs(120),
            release_timeout: Duration::from_secs(20),
            lease_duration: Duration::from_secs(10),
            max_attempts: 2,
            log_json: false,
            acme_email: None,
            keep_images: 3,
            default_memory: Some(256 * 1024 * 1024),
            default_cpus: None,
            restart_max_retries: 5,
            secret_key: Some(SecretKey([42; 32])),
            worker_metrics_port: None,
            admin_token: None,
            internal_token: Some(Secret("internal-token-for-tests-0123456789abcdef".into())),
            worker_url: None,
            pids_limit: 512,
            rate_limit: 600,
            log_limit: 10 * 1024 * 1024,
            max_repo_size: 1 << 30,
            max_context_size: 512 << 20,
            shutdown_grace: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
        }
    }

    pub fn tls(&self) -> bool {
        self.acme_email.is_some()
    }

    pub fn url_for(&self, subdomain: &str) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        format!(
            "{scheme}://{}",
            crate::labels::host(subdomain, &self.base_domain)
        )
    }
}

/// A size like `512m` or `1g`, at least 1 KiB.
fn parse_size(name: &'static str, raw: Option<String>, default: u64) -> Result<u64, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    crate::spec::parse_bytes(&raw)
        .filter(|b| *b >= 1024)
        .ok_or_else(|| {
            invalid(
                name,
                &raw,
                "expected a size of at least 1k, like 512m or 1g",
            )
        })
}

/// An http(s) URL without a trailing slash, so that paths can be appended.
fn parse_worker_url(raw: &str) -> Result<String, ConfigError> {
    let rest = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.chars().any(char::is_whitespace) => {
            Ok(raw.trim_end_matches('/').to_owned())
        }
        _ => Err(invalid(
            "SLIPWAY_WORKER_URL",
            raw,
            "expected an http:// or https:// URL, like http://worker-1.internal:9091",
        )),
    }
}

fn parse_token(name: &'static str, raw: &str) -> Result<Secret, ConfigError> {
    use crate::token::MIN_TOKEN_LEN;
    let printable = raw.chars().all(|c| c.is_ascii_graphic());
    if raw.len() < MIN_TOKEN_LEN || !printable {
        return Err(ConfigError::InvalidSecret {
            name,
            reason: format!(
                "expected at least {MIN_TOKEN_LEN} printable ASCII characters without spaces; \
                 generate one with `openssl rand -hex 32`"
            ),
        });
    }
    Ok(Secret(raw.to_owned()))
}

/// The same rule traefik/entrypoint.sh applies before writing the address into Traefik's
/// YAML (so what Slipway accepts, Traefik starts with): one '@', a local part of
/// `[A-Za-z0-9._%+-]`, a dotted domain of `[A-Za-z0-9.-]` ending in 2+ letters.
fn parse_email(raw: &str) -> Result<String, ConfigError> {
    let valid = match raw.split_once('@') {
        Some((local, domain)) => {
            let tld = domain.rsplit_once('.').map_or("", |(_, tld)| tld);
            !local.is_empty()
                && local
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !domain.starts_with('.')
                && tld.len() >= 2
                && tld.bytes().all(|b| b.is_ascii_alphabetic())
        }
        None => false,
    };
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            "SLIPWAY_ACME_EMAIL",
            raw,
            "expected an email address for Let's Encrypt, like ops@example.com",
        ))
    }
}

/// Default 512 MiB; "none" or "0" for no limit.
fn parse_memory(raw: Option<String>) -> Result<Option<u64>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Some(512 * 1024 * 1024));
    };
    if raw.trim() == "none" || raw.trim() == "0" {
        return Ok(None);
    }
    match crate::spec::parse_bytes(&raw) {
        Some(b) if b >= crate::spec::MIN_MEMORY => Ok(Some(b)),
        Some(_) => Err(invalid(
            "SLIPWAY_DEFAULT_MEMORY",
            &raw,
            "at least 6m (Docker's minimum), or none",
        )),
        None => Err(invalid(
            "SLIPWAY_DEFAULT_MEMORY",
            &raw,
            "expected a size like 512m or 1g, or none",
        )),
    }
}

fn parse_cpus(raw: Option<String>) -> Result<Option<f64>, ConfigError> {
    let Some(raw) = raw.filter(|r| r.trim() != "none") else {
        return Ok(None);
    };
    match raw.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c <= 1024.0 => Ok(Some(c)),
        _ => Err(invalid(
            "SLIPWAY_DEFAULT_CPUS",
            &raw,
            "expected a number of CPUs like 0.5 or 2, or none",
        )),
    }
}

fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_num<T>(
    name: &'static str,
    raw: Option<String>,
    default: T,
    min: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(invalid(
            name,
            &raw,
            format!("expected a whole number >= {min}"),
        )),
    }
}

fn parse_bool(name: &'static str, raw: Option<String>) -> Result<bool, ConfigError> {
    match raw
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(_) => Err(invalid(
            name,
            raw.as_deref().unwrap_or_default(),
            "expected true or false",
        )),
    }
}

fn parse_duration(
    name: &'static str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match humantime::parse_duration(raw.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(invalid(name, &raw, "must be longer than zero")),
        Err(e) => Err(invalid(
            name,
            &raw,
            format!("expected a duration such as 2s, 500ms or 10m ({e})"),
        )),
    }
}

fn parse_domain(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = raw else {
        return Ok("localhost".into());
    };
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(domain)
    } else {
        Err(invalid(
            "BASE_DOMAIN",
            &raw,
            "expected a DNS name such as apps.example.com",
        ))
    }
}

fn parse_network(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = raw else {
        return Ok("slipway".into());
    };
    let valid = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && raw
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(raw)
    } else {
        Err(invalid(
            "SLIPWAY_NETWORK",
            &raw,
            "expected a Docker network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = parse(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(c.base_domain, "localhost");
        assert_eq!(c.port, 8080);
        assert_eq!(c.network, "slipway");
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert!(!c.publish_ports && !c.allow_local_repos);
        assert_eq!(format!("{:?}", c.database_url), "***");
        assert_eq!(c.url_for("hello"), "http://hello.localhost");
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            parse(&[]).unwrap_err(),
            ConfigError::Missing("DATABASE_URL")
        );
        for (name, value) in [
            ("PORT", "eighty"),
            ("PORT", "0"),
            ("SLIPWAY_POLL_INTERVAL", "soon"),
            ("SLIPWAY_POLL_INTERVAL", "0s"),
            ("SLIPWAY_WORKER_CONCURRENCY", "0"),
            ("SLIPWAY_PUBLISH_PORTS", "maybe"),
            ("BASE_DOMAIN", "bad domain"),
            ("SLIPWAY_NETWORK", "-x"),
            ("SLIPWAY_APP_SUBNETS", "10.0.0.0"),
            ("SLIPWAY_APP_SUBNETS", "fd00::/8"),
            ("SLIPWAY_LOG_FORMAT", "xml"),
            ("SLIPWAY_ACME_EMAIL", "not-an-email"),
            ("SLIPWAY_ACME_EMAIL", "a@b"),
            ("SLIPWAY_ACME_EMAIL", "a@@b.com"),
            ("SLIPWAY_ACME_EMAIL", "@example.com"),
            ("SLIPWAY_ACME_EMAIL", "ops@example."),
            ("SLIPWAY_ACME_EMAIL", "ops@.com"),
            ("SLIPWAY_ACME_EMAIL", "o ps@example.com"),
            ("SLIPWAY_ACME_EMAIL", "o\"ps@example.com"),
            ("SLIPWAY_ACME_EMAIL", "ops@example.com\nx: y"),
            ("SLIPWAY_KEEP_IMAGES", "0"),
            ("SLIPWAY_DEFAULT_MEMORY", "1m"),
            ("SLIPWAY_DEFAULT_MEMORY", "plenty"),
            ("SLIPWAY_DEFAULT_CPUS", "-1"),
            ("SLIPWAY_RESTART_RETRIES", "1000"),
            ("SLIPWAY_SECRET_KEY", "short"),
            ("SLIPWAY_WORKER_METRICS_PORT", "0"),
            ("SLIPWAY_INTERNAL_TOKEN", "short"),
            ("SLIPWAY_WORKER_URL", "worker:9091"),
        ] {
            let err = parse(&[("DATABASE_URL", "postgres://x"), (name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn durations_and_flags() {
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_POLL_INTERVAL", "500ms"),
            ("SLIPWAY_PUBLISH_PORTS", "true"),
            ("BASE_DOMAIN", "Apps.Example.com."),
        ])
        .unwrap();
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert!(c.publish_ports);
        assert_eq!(c.base_domain, "apps.example.com");
    }

    #[test]
    fn release_settings() {
        let c = parse(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(c.keep_images, 3);
        assert_eq!(c.default_memory, Some(512 << 20));
        assert_eq!(c.default_cpus, None);
        assert_eq!(c.restart_max_retries, 5);
        assert!(c.secret_key.is_none() && c.acme_email.is_none());
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_ACME_EMAIL", "ops@example.com"),
            ("BASE_DOMAIN", "apps.example.com"),
            ("SLIPWAY_DEFAULT_MEMORY", "none"),
            ("SLIPWAY_DEFAULT_CPUS", "1.5"),
            ("SLIPWAY_KEEP_IMAGES", "5"),
        ])
        .unwrap();
        assert_eq!(c.url_for("hello"), "https://hello.apps.example.com");
        assert_eq!(c.acme_email.as_deref(), Some("ops@example.com"));
        for email in ["first.last+slipway@mail.example.co.uk", "a_b%c-d@x-y.io"] {
            let c = parse(&[
                ("DATABASE_URL", "postgres://x"),
                ("SLIPWAY_ACME_EMAIL", email),
            ]);
            assert_eq!(c.unwrap().acme_email.as_deref(), Some(email));
        }
        assert_eq!(
            (c.default_memory, c.default_cpus, c.keep_images),
            (None, Some(1.5), 5)
        );
    }

    #[test]
    fn the_admin_token_must_be_long_and_is_never_printed() {
        let short = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_ADMIN_TOKEN", "hunter2"),
        ]);
        let message = short.unwrap_err().to_string();
        assert!(message.contains("at least 32"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let token = "0123456789abcdef0123456789abcdef";
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_ADMIN_TOKEN", token),
        ])
        .unwrap();
        assert_eq!(c.admin_token.as_ref().unwrap().expose(), token);
        assert!(!format!("{c:?}").contains(token));
    }

    #[test]
    fn worker_url_and_internal_token() {
        let c = parse(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert!(c.internal_token.is_none() && c.worker_url.is_none());
        let token = "fedcba9876543210fedcba9876543210";
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_INTERNAL_TOKEN", token),
            ("SLIPWAY_WORKER_URL", "http://10.0.0.7:9091/"),
        ])
        .unwrap();
        assert_eq!(c.internal_token.as_ref().unwrap().expose(), token);
        assert!(!format!("{c:?}").contains(token));
        assert_eq!(c.worker_url.as_deref(), Some("http://10.0.0.7:9091"));
    }

    #[test]
    fn the_secret_key_is_base64_or_hex_and_never_printed() {
        let b64 = "q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=";
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_SECRET_KEY", b64),
        ])
        .unwrap();
        let key = c.secret_key.unwrap();
        assert_eq!(key.bytes()[..3], [0xab, 0xcd, 0xef]);
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
        let hex = "abcdef".repeat(10) + "abcd";
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_SECRET_KEY", &hex),
        ])
        .unwrap();
        assert_eq!(c.secret_key.unwrap().bytes()[..3], [0xab, 0xcd, 0xef]);
        let secret = "not-the-right-length-but-secret";
        let err = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_SECRET_KEY", secret),
        ])
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("openssl rand -base64 32") && !shown.contains(secret),
            "{shown}"
        );
    }
}
