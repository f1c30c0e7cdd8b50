//! Configuration from the environment. Parsing takes a lookup function instead of
//! reading `std::env` so it stays pure and testable; the binaries pass `std::env::var`.

mod env;

use std::path::PathBuf;
use std::time::Duration;

use env::{Env, invalid, whole_number};

/// Seals config vars; read by `SecretKey::parse` as well as by `Config`.
const SECRET_KEY: &str = "SLIPWAY_SECRET_KEY";

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
        Self::decode(raw).map_err(|reason| ConfigError::InvalidSecret {
            name: SECRET_KEY,
            reason,
        })
    }

    fn decode(raw: &str) -> Result<Self, String> {
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
            .ok_or_else(|| {
                "expected 32 bytes as base64 or 64 hex digits; \
                 generate one with `openssl rand -base64 32`"
                    .to_owned()
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
    pub fn new(value: String) -> Self {
        Self(value)
    }

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
    /// How often the worker re-reconciles every app even without a notification
    /// (SLIPWAY_RESYNC_INTERVAL).
    pub resync_interval: Duration,
    pub publish_ports: bool,
    pub allow_local_repos: bool,
    pub clone_timeout: Duration,
    pub build_timeout: Duration,
    /// Which of Docker's builders builds images (SLIPWAY_BUILDER).
    pub builder: BuilderChoice,
    /// BuildKit's cache is pruned down to this many bytes after each build
    /// (SLIPWAY_BUILD_CACHE_MAX).
    pub build_cache_max: u64,
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
    /// The wait before a failed callback's first retry, doubled at each further one
    /// (SLIPWAY_CALLBACK_RETRY_BASE); retries stop an hour after the event.
    pub callback_retry_base: Duration,
    /// Where the API keeps the repositories pushed to it (SLIPWAY_REPO_DIR).
    pub repo_dir: PathBuf,
    /// Where a worker reaches the API to fetch a push app's commits
    /// (SLIPWAY_API_INTERNAL_URL), with the internal token.
    pub api_internal_url: String,
}

/// SLIPWAY_BUILDER: which of Docker's builders builds images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BuilderChoice {
    /// BuildKit when the daemon offers it, else the legacy builder.
    #[default]
    Auto,
    BuildKit,
    Legacy,
}

impl BuilderChoice {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "auto" => Ok(Self::Auto),
            "buildkit" => Ok(Self::BuildKit),
            "legacy" => Ok(Self::Legacy),
            _ => Err("expected auto, buildkit or legacy".to_owned()),
        }
    }
}

impl Config {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(&get))
    }

    /// Every setting: its variable, its default and its rule, once each.
    fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: Secret(env.required_string("DATABASE_URL")?),
            docker_host: env.optional_string("DOCKER_HOST"),
            base_domain: env.parse("BASE_DOMAIN", "localhost".into(), parse_domain)?,
            port: env.number("PORT", 8080u16, 1)?,
            work_dir: env
                .string("SLIPWAY_WORK_DIR", "/var/lib/slipway/work")
                .into(),
            network: env.parse("SLIPWAY_NETWORK", "slipway".into(), parse_network)?,
            app_subnets: app_subnets(env)?,
            worker_concurrency: env.number("SLIPWAY_WORKER_CONCURRENCY", 2usize, 1)?,
            poll_interval: env.duration("SLIPWAY_POLL_INTERVAL", Duration::from_secs(2))?,
            resync_interval: env.duration("SLIPWAY_RESYNC_INTERVAL", Duration::from_secs(60))?,
            publish_ports: env.bool("SLIPWAY_PUBLISH_PORTS", false)?,
            allow_local_repos: env.bool("SLIPWAY_ALLOW_LOCAL_REPOS", false)?,
            clone_timeout: env.duration("SLIPWAY_CLONE_TIMEOUT", Duration::from_secs(600))?,
            build_timeout: env.duration("SLIPWAY_BUILD_TIMEOUT", Duration::from_secs(1800))?,
            builder: env.parse("SLIPWAY_BUILDER", BuilderChoice::Auto, BuilderChoice::parse)?,
            build_cache_max: env.size("SLIPWAY_BUILD_CACHE_MAX", 10 << 30)?,
            release_timeout: env.duration("SLIPWAY_RELEASE_TIMEOUT", Duration::from_secs(120))?,
            lease_duration: env.duration("SLIPWAY_LEASE_DURATION", Duration::from_secs(30))?,
            max_attempts: env.number("SLIPWAY_MAX_ATTEMPTS", 2i32, 1)?,
            acme_email: env.optional("SLIPWAY_ACME_EMAIL", parse_email)?,
            keep_images: env.number("SLIPWAY_KEEP_IMAGES", 3usize, 1)?,
            default_memory: env.parse("SLIPWAY_DEFAULT_MEMORY", Some(512 << 20), parse_memory)?,
            default_cpus: env.parse("SLIPWAY_DEFAULT_CPUS", None, parse_cpus)?,
            restart_max_retries: env.parse("SLIPWAY_RESTART_RETRIES", 5i64, |raw| {
                match whole_number(raw, 0)? {
                    n if n > 100 => Err("at most 100".to_owned()),
                    n => Ok(n),
                }
            })?,
            secret_key: env.optional_secret(SECRET_KEY, SecretKey::decode)?,
            shutdown_grace: env.duration("SLIPWAY_SHUTDOWN_GRACE", Duration::from_secs(20))?,
            max_repo_size: env.size("SLIPWAY_MAX_REPO_SIZE", 1 << 30)?,
            max_context_size: env.size("SLIPWAY_MAX_CONTEXT_SIZE", 512 << 20)?,
            log_limit: env.size("SLIPWAY_LOG_LIMIT", 10 << 20)?,
            rate_limit: env.number("SLIPWAY_RATE_LIMIT", 600u32, 0)?,
            request_timeout: env.duration("SLIPWAY_REQUEST_TIMEOUT", Duration::from_secs(30))?,
            pids_limit: env.number("SLIPWAY_PIDS_LIMIT", 512i64, 16)?,
            admin_token: env.optional_secret("SLIPWAY_ADMIN_TOKEN", parse_token)?,
            worker_metrics_port: env.parse("SLIPWAY_WORKER_METRICS_PORT", Some(9091), |raw| {
                match raw.trim() {
                    "off" => Ok(None),
                    port => whole_number(port, 1u16).map(Some),
                }
            })?,
            internal_token: env.optional_secret("SLIPWAY_INTERNAL_TOKEN", parse_token)?,
            worker_url: env.optional("SLIPWAY_WORKER_URL", parse_worker_url)?,
            callback_retry_base: env
                .duration("SLIPWAY_CALLBACK_RETRY_BASE", Duration::from_secs(10))?,
            repo_dir: env
                .string("SLIPWAY_REPO_DIR", "/var/lib/slipway/repos")
                .into(),
            api_internal_url: env.parse(
                "SLIPWAY_API_INTERNAL_URL",
                "http://127.0.0.1:8080".to_owned(),
                |raw| http_url(raw, "http://api:8080"),
            )?,
            log_json: env.parse("SLIPWAY_LOG_FORMAT", false, |raw| match raw {
                "pretty" => Ok(false),
                "json" => Ok(true),
                _ => Err("expected json or pretty".to_owned()),
            })?,
        })
    }

    /// The defaults with what tests want instead: short timeouts, local repos allowed,
    /// a secret key, no metrics port.
    pub fn for_tests(database_url: &str, network: &str, work_dir: PathBuf) -> Self {
        // Only DATABASE_URL has no default; its value here is replaced below.
        let lookup = |name: &str| (name == "DATABASE_URL").then(|| "postgres://".to_owned());
        let defaults = Self::from_lookup(lookup)
            .unwrap_or_else(|e| unreachable!("the defaults are valid, yet: {e}"));
        Self {
            database_url: Secret(database_url.to_owned()),
            port: 0,
            // Repositories are named by app id, so tests sharing a directory never collide.
            repo_dir: work_dir.join("slipway-repos"),
            work_dir,
            network: network.to_owned(),
            poll_interval: Duration::from_millis(200),
            allow_local_repos: true,
            clone_timeout: Duration::from_secs(60),
            build_timeout: Duration::from_secs(120),
            release_timeout: Duration::from_secs(20),
            lease_duration: Duration::from_secs(10),
            default_memory: Some(256 << 20),
            secret_key: Some(SecretKey([42; 32])),
            worker_metrics_port: None,
            internal_token: Some(Secret("internal-token-for-tests-0123456789abcdef".into())),
            ..defaults
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

/// SLIPWAY_APP_SUBNETS with SLIPWAY_APP_SUBNET_SIZE; an error shows both values.
fn app_subnets(env: &Env<'_>) -> Result<crate::subnets::AppSubnets, ConfigError> {
    use crate::subnets::{AppSubnets, DEFAULT_POOL, DEFAULT_SIZE};
    let name = "SLIPWAY_APP_SUBNETS";
    let pool = env.optional_string(name);
    let size = env.optional_string("SLIPWAY_APP_SUBNET_SIZE");
    AppSubnets::parse(pool.as_deref(), size.as_deref()).map_err(|reason| {
        let pool = pool.as_deref().unwrap_or(DEFAULT_POOL);
        let size = size.unwrap_or_else(|| DEFAULT_SIZE.to_string());
        invalid(name, &format!("{pool} (size {size})"), reason)
    })
}

fn parse_worker_url(raw: &str) -> Result<String, String> {
    http_url(raw, "http://worker-1.internal:9091")
}

/// An http(s) URL without a trailing slash, so that paths can be appended.
fn http_url(raw: &str, example: &str) -> Result<String, String> {
    let raw = raw.trim();
    let rest = raw
        .strip_prefix("http://")
        .or_else(|| raw.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.chars().any(char::is_whitespace) => {
            Ok(raw.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "expected an http:// or https:// URL, like {example}"
        )),
    }
}

/// SLIPWAY_ADMIN_TOKEN and SLIPWAY_INTERNAL_TOKEN: long enough not to be guessed.
fn parse_token(raw: &str) -> Result<Secret, String> {
    use crate::token::MIN_TOKEN_LEN;
    let raw = raw.trim();
    let printable = raw.chars().all(|c| c.is_ascii_graphic());
    if raw.len() < MIN_TOKEN_LEN || !printable {
        return Err(format!(
            "expected at least {MIN_TOKEN_LEN} printable ASCII characters without spaces; \
             generate one with `openssl rand -hex 32`"
        ));
    }
    Ok(Secret(raw.to_owned()))
}

/// The same rule traefik/entrypoint.sh applies before writing the address into Traefik's
/// YAML (so what Slipway accepts, Traefik starts with): one '@', a local part of
/// `[A-Za-z0-9._%+-]`, a dotted domain of `[A-Za-z0-9.-]` ending in 2+ letters.
fn parse_email(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
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
        Err("expected an email address for Let's Encrypt, like ops@example.com".to_owned())
    }
}

/// "none" or "0" for no limit.
fn parse_memory(raw: &str) -> Result<Option<u64>, String> {
    if raw.trim() == "none" || raw.trim() == "0" {
        return Ok(None);
    }
    match crate::spec::parse_bytes(raw) {
        Some(b) if b >= crate::spec::MIN_MEMORY => Ok(Some(b)),
        Some(_) => Err("at least 6m (Docker's minimum), or none".to_owned()),
        None => Err("expected a size like 512m or 1g, or none".to_owned()),
    }
}

fn parse_cpus(raw: &str) -> Result<Option<f64>, String> {
    if raw.trim() == "none" {
        return Ok(None);
    }
    match raw.trim().parse::<f64>() {
        Ok(c) if c > 0.0 && c <= 1024.0 => Ok(Some(c)),
        _ => Err("expected a number of CPUs like 0.5 or 2, or none".to_owned()),
    }
}

fn parse_domain(raw: &str) -> Result<String, String> {
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
        Err("expected a DNS name such as apps.example.com".to_owned())
    }
}

fn parse_network(raw: &str) -> Result<String, String> {
    let valid = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && raw
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("expected a Docker network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)".to_owned())
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
        assert_eq!(c.resync_interval, Duration::from_secs(60));
        assert!(!c.publish_ports && !c.allow_local_repos);
        assert_eq!(c.log_limit, 10 << 20);
        assert_eq!(c.worker_metrics_port, Some(9091));
        assert_eq!(format!("{:?}", c.database_url), "***");
        assert_eq!(c.url_for("hello"), "http://hello.localhost");
        assert_eq!(c.repo_dir, PathBuf::from("/var/lib/slipway/repos"));
        assert_eq!(c.api_internal_url, "http://127.0.0.1:8080");
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
            ("SLIPWAY_RESYNC_INTERVAL", "0s"),
            ("SLIPWAY_RESYNC_INTERVAL", "often"),
            ("SLIPWAY_LOG_LIMIT", "1000"),
            ("SLIPWAY_MAX_REPO_SIZE", "huge"),
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
            ("SLIPWAY_API_INTERNAL_URL", "api:8080"),
        ] {
            let err = parse(&[("DATABASE_URL", "postgres://x"), (name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn blank_values_are_unset() {
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("PORT", " "),
            ("SLIPWAY_RESYNC_INTERVAL", ""),
        ])
        .unwrap();
        assert_eq!((c.port, c.resync_interval), (8080, Duration::from_secs(60)));
        assert_eq!(
            parse(&[("DATABASE_URL", "  ")]).unwrap_err(),
            ConfigError::Missing("DATABASE_URL")
        );
    }

    #[test]
    fn for_tests_is_the_defaults_with_test_overrides() {
        let t = Config::for_tests("postgres://t", "net", PathBuf::from("/w"));
        let d = parse(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(t.database_url.expose(), "postgres://t");
        assert_eq!(
            (t.network.as_str(), t.work_dir.as_path()),
            ("net", "/w".as_ref())
        );
        assert!(t.allow_local_repos && t.secret_key.is_some());
        assert_eq!(t.worker_metrics_port, None);
        assert_eq!(t.poll_interval, Duration::from_millis(200));
        // Untouched settings are the defaults, not a copy of them.
        assert_eq!(t.resync_interval, d.resync_interval);
        assert_eq!(t.max_repo_size, d.max_repo_size);
        assert_eq!(t.app_subnets, d.app_subnets);
    }

    #[test]
    fn durations_and_flags() {
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_POLL_INTERVAL", "500ms"),
            ("SLIPWAY_RESYNC_INTERVAL", "5m"),
            ("SLIPWAY_LOG_LIMIT", "1k"),
            ("SLIPWAY_WORKER_METRICS_PORT", "off"),
            ("SLIPWAY_ALLOW_LOCAL_REPOS", "YES"),
            ("SLIPWAY_PUBLISH_PORTS", "true"),
            ("BASE_DOMAIN", "Apps.Example.com."),
        ])
        .unwrap();
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.resync_interval, Duration::from_secs(300));
        assert_eq!((c.log_limit, c.worker_metrics_port), (1024, None));
        assert!(c.publish_ports && c.allow_local_repos);
        assert_eq!(c.base_domain, "apps.example.com");
    }

    #[test]
    fn builder_choice() {
        let c = parse(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(c.builder, BuilderChoice::Auto);
        assert_eq!(c.build_cache_max, 10 << 30);
        let c = parse(&[
            ("DATABASE_URL", "postgres://x"),
            ("SLIPWAY_BUILD_CACHE_MAX", "2g"),
        ])
        .unwrap();
        assert_eq!(c.build_cache_max, 2 << 30);
        for (raw, choice) in [
            ("buildkit", BuilderChoice::BuildKit),
            ("legacy", BuilderChoice::Legacy),
            ("auto", BuilderChoice::Auto),
        ] {
            let c = parse(&[("DATABASE_URL", "postgres://x"), ("SLIPWAY_BUILDER", raw)]).unwrap();
            assert_eq!(c.builder, choice);
        }
        assert!(
            parse(&[
                ("DATABASE_URL", "postgres://x"),
                ("SLIPWAY_BUILDER", "kaniko")
            ])
            .is_err()
        );
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
